-- Time-log rows as unified line items, at the loaded cost of their hours: the hourly rate in
-- force on the work day plus the employer's loadings in force (staging.stg_time_cost_components,
-- one row per entry and component). Employees leave this model only as their keyed pseudonym;
-- names and e-mails never do. Pseudonym, hours and rate go on to core, in the work database only:
-- the published file carries people cost in groups (sql/core/people_cost_cells.sql).
with
entries as (select * from staging.stg_time_entries),
components as (select * from staging.stg_time_cost_components),

per_entry as (
    select
        source_file,
        source_row,
        sum(amount_original) as cost,
        coalesce(sum(value) filter (basis = 'percent'), 0) as loading_percent,
        coalesce(sum(value) filter (basis = 'per_hour'), 0) as loading_per_hour
    from components
    group by all
),

exports as (
    select
        e.* replace (
            -- the loaded hourly rate (per-month amounts aside): what the publication rule guards
            cast(e.hourly_rate + cast(e.hourly_rate * c.loading_percent as decimal(38,20)) * cast(0.01 as decimal(3,2))
                 + c.loading_per_hour as decimal(38,10)) as hourly_rate
        ),
        -- no rate in force: no cost (the transform stops and says so), whatever the loadings
        case when e.hourly_rate is not null then c.cost end as loaded_cost
    from entries e
    left join per_entry c using (source_file, source_row)
),

final as (
    select
        'timesheet' as source_system,
        source_file,
        source_row,
        load_id,
        cast(null as varchar) as focus_version,
        'internal' as provider,
        cast(null as varchar) as publisher,
        cast(null as varchar) as invoice_issuer,
        cast(null as varchar) as billing_account_id,
        cast(null as varchar) as sub_account_id,
        cast(null as varchar) as invoice_number,
        'people time: ' || coalesce(activity, 'no activity') as service_name,
        'People' as service_category,
        cast(null as varchar) as sku_id,
        cast(null as varchar) as resource_id,
        cast(null as varchar) as resource_name,
        cast(null as varchar) as region_id,
        'Usage' as charge_category,
        cast(null as varchar) as charge_class,
        cast(null as varchar) as charge_description,
        hours as pricing_quantity,
        'Hours' as pricing_unit,
        cast(work_date as timestamp) as charge_period_start,
        cast(work_date + interval 1 day as timestamp) as charge_period_end,
        cast(date_trunc('month', work_date) as date) as billing_period_start,
        cast(null as date) as billing_period_end,
        rate_currency as billing_currency,
        cast(loaded_cost as decimal(38,10)) as billed_cost_original,
        cast(loaded_cost as decimal(38,10)) as effective_cost_original,
        '{}' as tags,
        cast(date_trunc('month', work_date) as date) as month,
        cast(null as varchar) as vendor,
        cast(null as varchar) as vendor_kind,
        activity,
        employee_key,
        hours,
        -- the rate stays in the work database (core): sql/core/people_cost_cells.sql
        -- needs it to decide which groups of people can be published without showing a rate
        hourly_rate,
        model_hint,
        leaf_hint,
        is_superseded
    from exports
)

select * from final
