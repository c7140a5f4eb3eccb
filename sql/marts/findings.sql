-- Findings: rule-based, explainable optimisation hints per month (commitment coverage: the
-- ledger's latest month), each with its evidence and the money at stake that month (docs/planning.md, "Findings"):
--   low_gpu_utilisation  a model's gpu_hours / gpu_hours_provisioned (usage or business metrics)
--                        under `finding_gpu_utilisation_below`: at stake, its GPU compute cost
--                        (training, tuning_resources: what the GPU pool serves) x the idle share
--   commitment_coverage  cloud usage of a provider and service that never fell below a floor in
--                        the last three months, with no commitment purchase from that provider:
--                        at stake, floor x `finding_commitment_discount`
--   unallocated_share    unallocated above `unallocated_warning_share` of in-scope cost: at stake,
--                        the unallocated amount; evidence, its largest services
--   labeling_unit_cost   cost per labeled item (invoice lines on the labeled leaf with a quantity,
--                        one month's service period) up more than `finding_labeling_rise` on the
--                        month before: at stake, the rise x this month's items
with
-- the lean ledger, with the line columns the findings read (a people group's own on its row)
line_items as (select * from core.ledger_lines),
-- the lean allocation carries keys; quantity and charge period come back from the line
allocated as (
    select a.*, li.pricing_quantity, li.charge_period_start, li.charge_period_end
    from core.allocated_line_items a
    join core.line_items li using (line_id)
    where a.source_system = 'invoice'
),
metrics as (select * from staging.stg_business_metrics),
settings as (
    select
        cast(max(value) filter (key = 'finding_gpu_utilisation_below') as double) as gpu_below,
        cast(max(value) filter (key = 'finding_commitment_discount') as decimal(38,10)) as discount,
        cast(max(value) filter (key = 'finding_commitment_min_monthly') as decimal(38,10)) as min_monthly,
        cast(max(value) filter (key = 'finding_labeling_rise') as double) as labeling_rise,
        cast(max(value) filter (key = 'unallocated_warning_share') as double) as unallocated_share
    from config.settings
),
latest as (select max(month) as month from line_items),

gpu as (
    select
        m.month, m.model_id,
        max(m.value) filter (m.metric = 'gpu_hours') as used,
        max(m.value) filter (m.metric = 'gpu_hours_provisioned') as provisioned
    from metrics m
    where m.model_id is not null
    group by all
),

gpu_findings as (
    select
        'low_gpu_utilisation' as rule,
        g.month,
        g.model_id,
        cast(null as varchar) as leaf,
        cast(c.cost * (1 - g.used / g.provisioned) as decimal(38,2)) as money_at_stake,
        'GPU utilisation ' || round(100 * cast(g.used / g.provisioned as double), 1) || '% ('
            || cast(round(g.used, 1) as varchar) || ' of ' || cast(round(g.provisioned, 1) as varchar)
            || ' GPU-hours) on ' || cast(round(c.cost, 2) as varchar) || ' of training and tuning compute' as evidence,
        'right-size or share the GPUs (scale down idle capacity, move work to the shared pool)' as hint
    from gpu g
    cross join settings s
    join (
        select month, model_id, sum(cost) as cost from line_items
        where leaf in ('training', 'tuning_resources') group by all
    ) c using (month, model_id)
    where g.provisioned > 0 and cast(g.used / g.provisioned as double) < s.gpu_below
),

cloud_months as (
    select provider, service, month, sum(cost) as cost
    from line_items
    where source_system = 'focus' and charge_category = 'Usage'
      and month > (select month from latest) - interval 3 month
    group by all
),

purchases as (
    select distinct provider from line_items
    where source_system = 'focus' and charge_category = 'Purchase'
      and month > (select month from latest) - interval 3 month
),

steady as (
    select provider, service, min(cost) as floor, count(*) as months, sum(cost) as total
    from cloud_months group by all
    having count(*) = 3
),

commitment_findings as (
    select
        'commitment_coverage',
        l.month,
        cast(null as varchar),
        cast(null as varchar),
        cast(st.floor * s.discount as decimal(38,2)),
        provider || ' ' || service || ': at least ' || cast(round(st.floor, 2) as varchar)
            || ' of on-demand usage in each of the last 3 months, no commitment purchase seen',
        'cover the steady floor with a savings plan or reserved capacity'
    from steady st
    cross join settings s
    cross join latest l
    where st.floor >= s.min_monthly
      and st.provider not in (select provider from purchases)
),

unallocated as (
    select
        li.month,
        sum(li.cost) filter (li.leaf = 'unallocated') as unallocated,
        sum(li.cost) filter (li.stage in ('pretrain', 'tuning', 'deploy', 'maintenance') or li.leaf = 'unallocated'
                             or li.leaf = 'people_merged') as in_scope
    from line_items li
    group by li.month
),

unallocated_findings as (
    select
        'unallocated_share',
        u.month,
        cast(null as varchar),
        'unallocated',
        cast(u.unallocated as decimal(38,2)),
        'unallocated is ' || round(100 * cast(u.unallocated / u.in_scope as double), 1) || '% of in-scope cost; largest: '
            || (select string_agg(service || ' ' || cast(round(cost, 2) as varchar), ', ' order by cost desc)
                from (select service, sum(cost) as cost from line_items
                      where leaf = 'unallocated' and month = u.month group by service order by cost desc limit 3)),
        'add or fix cost rules (config/cost_rules.yaml) for these services'
    from unallocated u cross join settings s
    where u.in_scope > 0 and cast(u.unallocated / u.in_scope as double) > s.unallocated_share
),

labeling as (
    select
        month, model_id,
        sum(cost) as cost,
        sum(pricing_quantity) as items
    from allocated
    where leaf = 'labeled' and source_system = 'invoice' and pricing_quantity > 0
      and charge_period_end <= cast(month + interval 1 month as timestamp)
      and charge_period_start >= cast(month as timestamp)
    group by all
),

labeling_trend as (
    select
        *,
        cost / items as unit_cost,
        lag(cost / items) over (partition by model_id order by month) as previous_unit_cost,
        lag(month) over (partition by model_id order by month) as previous_month
    from labeling
),

labeling_findings as (
    select
        'labeling_unit_cost',
        t.month,
        t.model_id,
        'labeled',
        cast((t.unit_cost - t.previous_unit_cost) * t.items as decimal(38,2)),
        'cost per labeled item ' || cast(round(t.unit_cost, 4) as varchar) || ' against '
            || cast(round(t.previous_unit_cost, 4) as varchar) || ' the month before ('
            || cast(round(t.items, 0) as varchar) || ' items)',
        'check the vendors'' rates and the labeling mix'
    from labeling_trend t
    cross join settings s
    where t.previous_month = t.month - interval 1 month
      and cast(t.unit_cost / t.previous_unit_cost as double) > 1 + s.labeling_rise
),

final as (
    select * from gpu_findings
    union all select * from commitment_findings
    union all select * from unallocated_findings
    union all select * from labeling_findings
)

select
    row_number() over (partition by month order by money_at_stake desc, rule, evidence) as rank,
    rule, month, model_id, leaf, money_at_stake, evidence, hint
from final
order by month, rank
