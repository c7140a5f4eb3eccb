-- Budgets per month x stage, optionally per leaf and per model, in their own currency.
with
source as (select * from raw.budgets),
model_aliases as (select * from config.model_aliases),

final as (
    select
        cast(trim(s.month) || '-01' as date) as month,
        lower(trim(s.stage)) as stage,
        lower(nullif(trim(s.leaf), '')) as leaf,
        ma.model_id,
        upper(trim(s.currency)) as currency,
        cast(trim(s.amount) as decimal(38,10)) as amount,
        s.source_file,
        s.source_row
    from source s
    left join model_aliases ma on ma.alias = lower(nullif(trim(s.model_id), ''))
)

select * from final
