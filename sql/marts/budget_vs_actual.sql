-- Month x stage (and leaf / model where budgeted): budget, actual, variance, in the
-- reporting currency. Every month with cost has a row per stage and a 'total' row, budgeted
-- or not; budgets are converted at the rate in force on the first day of the month.
with
budgets as (select * from staging.stg_budgets),
fx_rates as (select * from staging.stg_fx_rates),
leaf_cost as (select * from marts.monthly_leaf_cost),
settings as (
    select
        max(value) filter (key = 'reporting_currency') as currency,
        max(value) filter (key = 'people_merged') as people_merged
    from config.settings
),

budgets_converted as (
    select
        b.month, b.stage, b.leaf, b.model_id,
        cast(b.amount * case when b.currency = s.currency then cast(1 as decimal(38,10)) else r.rate end as decimal(38,10)) as budget
    from budgets b
    cross join settings s
    asof left join (select f.* from fx_rates f, settings s2 where f.to_currency = s2.currency) r
        on r.from_currency = b.currency and b.month >= r.rate_date
),

budget_grain as (
    select month, stage, leaf, model_id, sum(budget) as budget from budgets_converted group by all
    union all
    -- the total budget of a month: stage-level budgets for all models
    select month, 'total', null, null, sum(budget) from budgets_converted
    where leaf is null and model_id is null group by month
),

-- C_total's parts: the four stages, and people time merged across leaves (docs/privacy.md),
-- which counts in the 'total' row only
in_scope as (
    select l.* from leaf_cost l, settings s
    where l.stage in ('pretrain', 'tuning', 'deploy', 'maintenance', s.people_merged)
),

stage_grain as (
    select distinct m.month, st.stage, cast(null as varchar) as leaf, cast(null as varchar) as model_id
    from (select distinct month from leaf_cost) m
    cross join (values ('pretrain'), ('tuning'), ('deploy'), ('maintenance'), ('total')) st(stage)
),

grain as (
    select month, stage, leaf, model_id from stage_grain
    union
    select month, stage, leaf, model_id from budget_grain
),

final as (
    select
        g.month,
        g.stage,
        g.leaf,
        g.model_id,
        s.currency,
        bg.budget,
        cast(coalesce((
            select sum(c.cost) from in_scope c
            where c.month = g.month
              and (g.stage = 'total' or c.stage = g.stage)
              and (g.leaf is null or c.leaf = g.leaf)
              and (g.model_id is null or c.model_id = g.model_id)
        ), 0) as decimal(38,10)) as actual
    from grain g
    cross join settings s
    left join budget_grain bg
        on bg.month = g.month and bg.stage = g.stage
       and bg.leaf is not distinct from g.leaf and bg.model_id is not distinct from g.model_id
)

select
    *,
    actual - budget as variance,
    case when budget is null or budget = 0 then null
         -- a ratio, not money: computed in double, stored to 4 decimals
         else cast(round(100.0 * (actual - budget) / budget, 4) as decimal(18,4)) end as variance_pct
from final
