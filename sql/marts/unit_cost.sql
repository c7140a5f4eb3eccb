-- Unit cost: each model's (and each scenario's) C_total in a month over its business metrics
-- (staging.stg_business_metrics: searches, recommendations, ad impressions, orders, GMV, and the
-- usage metrics per model). Volumes are priced per 1,000 (searches, recommendations,
-- impressions, requests), per unit (orders, anything else), and GMV as a share (cost / GMV,
-- GMV converted to the reporting currency at the month's last rate). Cost is read from the
-- published line items, so people cost counts at its published grain (docs/privacy.md): time
-- published for '(several)' models is in no model's unit cost. Month over month: the previous
-- month's unit cost of the same subject and metric, and the change.
with
line_items as (select * from core.ledger_lines),
-- GPU-hours (used, provisioned) are capacity metrics for the findings, not business volumes
metrics as (select * from staging.stg_business_metrics where metric not like 'gpu_hours%'),
fx_rates as (select * from staging.stg_fx_rates),
models as (select * from config.models),
settings as (select max(value) filter (key = 'reporting_currency') as currency from config.settings),

units (metric, per_units, unit_label) as (
    values
        ('searches', 1000, 'per 1,000 searches'),
        ('recommendations', 1000, 'per 1,000 recommendations'),
        ('ad_impressions', 1000, 'per 1,000 ad impressions'),
        ('impressions', 1000, 'per 1,000 impressions'),
        ('requests', 1000, 'per 1,000 requests'),
        ('orders', 1, 'per order'),
        ('gmv', 0, 'share of GMV')
),

model_cost as (
    select month, model_id, any_value(scenario) as scenario, sum(cost) as cost
    from line_items
    where stage in ('pretrain', 'tuning', 'deploy', 'maintenance') and model_id in (select model_id from models)
    group by month, model_id
),

scenario_cost as (
    select month, scenario, sum(cost) as cost from model_cost group by month, scenario
),

-- a scenario's volume: given for the scenario, else the sum of its models'
scenario_metrics as (
    select month, scenario, metric, value, currency from metrics where model_id is null
    union all
    select m.month, m.scenario, m.metric, sum(m.value), any_value(m.currency)
    from metrics m
    where m.model_id is not null
      and not exists (select 1 from metrics s where s.model_id is null and s.month = m.month
                      and s.scenario = m.scenario and s.metric = m.metric)
    group by m.month, m.scenario, m.metric
),

subjects as (
    select m.month, 'model' as grain, m.model_id, m.scenario, m.metric, m.value, m.currency, c.cost
    from metrics m join model_cost c using (month, model_id)
    where m.model_id is not null
    union all
    select m.month, 'scenario', null, m.scenario, m.metric, m.value, m.currency, c.cost
    from scenario_metrics m join scenario_cost c using (month, scenario)
),

valued as (
    select
        s.*,
        st.currency as reporting_currency,
        coalesce(u.per_units, 1) as per_units,
        coalesce(u.unit_label, 'per ' || s.metric) as unit,
        case when s.currency is null or s.currency = st.currency then cast(1 as decimal(38,10)) else r.rate end as fx_rate
    from subjects s
    cross join settings st
    left join units u using (metric)
    asof left join (select * from fx_rates) r
        on r.from_currency = s.currency and r.to_currency = st.currency
       and cast(s.month + interval 1 month - interval 1 day as date) >= r.rate_date
),

priced as (
    select
        *,
        -- exact decimal division (integer arithmetic in units of 1e-10), never through a float
        case
            when value = 0 or fx_rate is null then null
            when per_units = 0 then cast(cast(
                cast(cost * 10000000000 as hugeint) * 10000000000
                    // cast(cast(value * fx_rate as decimal(38,10)) * 10000000000 as hugeint)
                as decimal(38,0)) * cast(0.0000000001 as decimal(11,10)) as decimal(38,10))
            else cast(cast(
                cast(cost * per_units * 10000000000 as hugeint) * 10000000000 // cast(value * 10000000000 as hugeint)
                as decimal(38,0)) * cast(0.0000000001 as decimal(11,10)) as decimal(38,10))
        end as unit_cost
    from valued
),

final as (
    select
        month,
        grain,
        model_id,
        scenario,
        metric,
        unit,
        cast(cost as decimal(38,10)) as cost,
        cast(value as decimal(38,10)) as metric_value,
        reporting_currency as currency,
        unit_cost,
        lag(unit_cost) over w as previous_unit_cost,
        lag(month) over w as previous_month
    from priced
    window w as (partition by grain, model_id, scenario, metric order by month)
)

select
    * exclude (previous_month),
    case when previous_unit_cost is not null and previous_unit_cost <> 0 and previous_month = month - interval 1 month
         then cast(cast(cast((unit_cost - previous_unit_cost) * 1000000 as hugeint) * 1000000
                        // cast(previous_unit_cost * 1000000 as hugeint) as decimal(38,0))
                   * cast(0.000001 as decimal(7,6)) as decimal(18,6)) end as change_share
from final
order by month, grain, scenario, model_id, metric
