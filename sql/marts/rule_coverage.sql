-- Month: how much in-scope cost the rules placed (coverage), what stayed unallocated, and
-- what was placed out of scope.
-- People time merged across leaves for privacy (docs/privacy.md) was placed by the rules: it is
-- allocated cost.
with
leaf_cost as (select * from marts.monthly_leaf_cost),
settings as (select value as people_merged from config.settings where key = 'people_merged'),

sums as (
    select
        month,
        cast(coalesce(sum(cost) filter (stage not in ('out_of_scope')), 0) as decimal(38,10)) as in_scope_cost,
        cast(coalesce(sum(cost) filter (stage in ('pretrain', 'tuning', 'deploy', 'maintenance', s.people_merged)), 0)
             as decimal(38,10)) as allocated_cost,
        cast(coalesce(sum(cost) filter (leaf = 'unallocated'), 0) as decimal(38,10)) as unallocated_cost,
        cast(coalesce(sum(cost) filter (leaf = 'out_of_scope'), 0) as decimal(38,10)) as out_of_scope_cost
    from leaf_cost
    cross join settings s
    group by month
),

final as (
    select
        *,
        case when in_scope_cost = 0 then null
             else cast(round(100.0 * allocated_cost / in_scope_cost, 4) as decimal(18,4)) end as coverage_pct
    from sums
)

select * from final
