-- Time-log rows, typed: the employee's keyed pseudonym, the hourly rate in force on the work day
-- (the employee's own rate, else the role's) and whether a later export supersedes the row. What
-- an hour costs is built on it: staging.stg_time_cost_components (the rate and the employer's
-- loadings), staging.stg_timesheets (the unified line item). Names and e-mails stay in raw.
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
)

-- the employee id (an e-mail or a name, for some trackers) stays in raw: the pseudonym goes on
select * exclude (employee_id) from exports
