-- Budget burn per month and stage (and C_total): the month's cost so far, the run rate
-- projected to the month's end, and the budget. Cloud lines charged by the day are projected
-- at their daily rate over the days they cover so far (the last day with a daily charge);
-- lines booked for the whole month (invoices, time, depreciation) count as they are. A month
-- whose daily charges reach its last day projects to what it cost.
with
-- the lean ledger, with the charge period of its lines (a daily line's day)
line_items as (select * from core.ledger_lines),
budget_vs_actual as (select * from marts.budget_vs_actual where leaf is null and model_id is null),
settings as (select max(value) filter (key = 'people_merged') as people_merged from config.settings),

in_scope as (
    select
        l.*,
        l.source_system = 'focus' and l.charge_period_end <= l.charge_period_start + interval 1 day as is_daily
    from line_items l, settings s
    where l.stage in ('pretrain', 'tuning', 'deploy', 'maintenance') or l.leaf = s.people_merged
),

covered as (
    select
        month,
        -- days of the month the daily charges cover so far
        date_diff('day', month, cast(max(charge_period_start) filter (is_daily) as date)) + 1 as days_covered,
        date_diff('day', month, cast(month + interval 1 month as date)) as days_in_month
    from in_scope
    group by month
),

by_stage as (
    select month, stage, is_daily, sum(cost) as cost from in_scope group by all
    union all
    select month, 'total', is_daily, sum(cost) from in_scope group by all
),

stage_month as (
    select
        b.month,
        b.stage,
        coalesce(sum(b.cost), 0) as month_to_date,
        coalesce(sum(b.cost) filter (b.is_daily), 0) as daily_cost,
        coalesce(sum(b.cost) filter (not b.is_daily), 0) as other_cost
    from by_stage b
    group by all
),

final as (
    select
        s.month,
        s.stage,
        cast(s.month_to_date as decimal(38,10)) as month_to_date,
        c.days_covered,
        c.days_in_month,
        -- the daily run rate x the days of the month, exact to 1e-10 (integer arithmetic)
        cast(s.other_cost + case
            when c.days_covered is null or c.days_covered >= c.days_in_month then s.daily_cost
            else cast(cast(cast(s.daily_cost * 10000000000 as hugeint) * c.days_in_month // c.days_covered
                      as decimal(38,0)) * cast(0.0000000001 as decimal(11,10)) as decimal(38,10))
        end as decimal(38,10)) as projected,
        b.budget
    from stage_month s
    join covered c using (month)
    left join budget_vs_actual b on b.month = s.month and b.stage = s.stage
)

select *, projected - budget as projected_variance
from final
order by month, stage
