-- Business metrics per month and model or scenario (landing/business_metrics/), together with
-- the usage metrics per model (landing/metrics/, staging.stg_usage_metrics) so one place holds
-- every denominator of marts.unit_cost. A later file restates a value; a subject that is a
-- model gets its scenario from config/models.yaml.
with
source as (select * from raw.business_metrics),
usage_metrics as (select * from staging.stg_usage_metrics),
model_aliases as (select * from config.model_aliases),
models as (select * from config.models),

typed as (
    select
        cast(trim(s.month) || '-01' as date) as month,
        ma.model_id,
        case when ma.model_id is null then lower(trim(s.model_or_scenario)) end as scenario_subject,
        lower(trim(s.metric)) as metric,
        cast(trim(s.value) as decimal(38,10)) as value,
        upper(nullif(trim(s.currency), '')) as currency,
        'business_metrics' as metric_source,
        s.source_file,
        s.source_row,
        s.load_id
    from source s
    left join model_aliases ma on ma.alias = lower(trim(s.model_or_scenario))
),

latest as (
    select * from typed
    qualify row_number() over (partition by month, model_id, scenario_subject, metric
                               order by load_id desc, source_file desc, source_row desc) = 1
),

unioned as (
    select month, model_id, scenario_subject, metric, value, currency, metric_source, source_file, source_row
    from latest
    union all
    -- a usage metric also sent as a business metric is counted once: the business one wins
    select u.month, u.model_id, null, u.metric, u.value, null, 'metrics', u.source_file, u.source_row
    from usage_metrics u
    where not exists (select 1 from latest l where l.month = u.month and l.model_id = u.model_id and l.metric = u.metric)
),

final as (
    select
        u.month,
        u.model_id,
        coalesce(md.scenario, u.scenario_subject) as scenario,
        u.metric,
        u.value,
        u.currency,
        u.metric_source,
        u.source_file,
        u.source_row
    from unioned u
    left join models md on md.model_id = u.model_id
)

select * from final
