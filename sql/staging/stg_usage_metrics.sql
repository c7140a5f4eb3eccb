-- Usage metrics per month and model, for metric-based splits. A later file restates a value.
with
source as (select * from raw.usage_metrics),
model_aliases as (select * from config.model_aliases),

typed as (
    select
        cast(trim(s.month) || '-01' as date) as month,
        ma.model_id,
        lower(trim(s.metric)) as metric,
        cast(trim(s.value) as decimal(38,10)) as value,
        s.source_file,
        s.source_row
    from source s
    join model_aliases ma on ma.alias = lower(trim(s.model_id))
),

final as (
    select * from typed
    qualify row_number() over (partition by month, model_id, metric order by source_file desc, source_row desc) = 1
)

select * from final
