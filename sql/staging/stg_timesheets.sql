-- Time-log rows priced at the loaded hourly rate in force on the work day (the employee's own
-- rate, else the role's). Employees leave this model only as their keyed pseudonym; names and
-- e-mails never do. Pseudonym, hours and rate go on to core, in the work database only: the
-- published file carries people cost in groups (sql/core/people_cost_cells.sql).
-- A later export covering the same employee and day supersedes the earlier rows for that day.
with
source as (select * from raw.timesheet_entries),
employee_keys as (select * from raw.employee_keys),
hr_rates as (select * from raw.hr_rates),
activities as (select * from config.activities),

entries as (
    select
        s.source_file,
        s.source_row,
        s.load_id,
        trim(s.employee_id) as employee_id,
        k.employee_key,
        lower(nullif(trim(s.role), '')) as role,
        cast(trim(s.work_date) as date) as work_date,
        cast(trim(s.hours) as decimal(38,10)) as hours,
        lower(trim(s.activity)) as activity,
        a.leaf as leaf_hint,
        nullif(trim(s.model_or_project), '') as model_hint,
        cast(cast(try_cast(trim(s.exported_at) as timestamptz) at time zone 'UTC' as timestamp) as timestamp) as exported_at
    from source s
    left join employee_keys k on k.employee_id = trim(s.employee_id)
    left join activities a on a.activity = lower(trim(s.activity))
),

employee_rates as (
    select trim(employee_id) as employee_id, cast(trim(effective_from) as date) as effective_from,
           cast(trim(hourly_rate) as decimal(38,10)) as hourly_rate, upper(trim(currency)) as currency
    from hr_rates where nullif(trim(employee_id), '') is not null
),

role_rates as (
    select lower(trim(role)) as role, cast(trim(effective_from) as date) as effective_from,
           cast(trim(hourly_rate) as decimal(38,10)) as hourly_rate, upper(trim(currency)) as currency
    from hr_rates where nullif(trim(employee_id), '') is null and nullif(trim(role), '') is not null
),

priced as (
    select
        e.*,
        coalesce(er.hourly_rate, rr.hourly_rate) as hourly_rate,
        coalesce(er.currency, rr.currency) as rate_currency
    from entries e
    asof left join employee_rates er on er.employee_id = e.employee_id and e.work_date >= er.effective_from
    asof left join role_rates rr on rr.role = e.role and e.work_date >= rr.effective_from
),

exports as (
    -- each file is one export; the newest export of an (employee, day) is in force
    select
        *,
        dense_rank() over (
            partition by employee_id, work_date
            order by exported_at desc nulls last, source_file desc, load_id desc
        ) > 1 as is_superseded
    from priced
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
        'people time: ' || activity as service_name,
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
        cast(hours * hourly_rate as decimal(38,10)) as billed_cost_original,
        cast(hours * hourly_rate as decimal(38,10)) as effective_cost_original,
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
