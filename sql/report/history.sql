-- Cost per stage (and people time merged across leaves) per month, for the history chart.
-- Parameters: $first, $last (dates).
with
rollup as (select * from marts.monthly_cost_rollup where month between $first and $last),

final as (
    select
        month,
        sum(c_pretrain) as c_pretrain,
        sum(c_tuning) as c_tuning,
        sum(c_deploy) as c_deploy,
        sum(c_maintenance) as c_maintenance,
        sum(c_people_merged) as c_people_merged
    from rollup
    group by month
)

select * from final
order by month
