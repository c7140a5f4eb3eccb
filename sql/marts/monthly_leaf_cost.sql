-- Month x leaf x model x scenario. Every month carries all nine leaves: a leaf with no cost
-- that month appears once with cost 0 (model NULL), so "zero" is never confused with "missing".
-- Built from the published line items, so people cost is summed at its published grain
-- (docs/privacy.md): '(several)' models, and the 'people_merged' leaf when time of a leaf-month
-- with too few people was merged across leaves. line_count counts marts.cost_line_items rows
-- (read lean, from core.ledger_lines: the same rows without the wide line columns).
with
allocated as (select * from core.ledger_lines),
leaves as (select * from config.leaves),
settings as (select max(value) filter (key = 'reporting_currency') as currency,
                    max(value) filter (key = 'cost_basis') as cost_basis from config.settings),

costs as (
    select
        month, leaf, stage, model_id, scenario, team,
        sum(cost) as cost,
        sum(billed_cost) as billed_cost,
        sum(effective_cost) as effective_cost,
        count(*) as line_count
    from allocated
    group by all
),

months as (select distinct month from allocated),

zero_leaves as (
    select m.month, l.leaf, l.stage, cast(null as varchar) as model_id, cast(null as varchar) as scenario,
           cast(null as varchar) as team, cast(0 as decimal(38,10)) as cost, cast(0 as decimal(38,10)) as billed_cost,
           cast(0 as decimal(38,10)) as effective_cost, cast(0 as bigint) as line_count
    from months m cross join leaves l
    where not exists (select 1 from costs c where c.month = m.month and c.leaf = l.leaf)
),

final as (
    select u.*, s.currency, s.cost_basis
    from (select * from costs union all select * from zero_leaves) u
    cross join settings s
)

select * from final
