-- What an hour costs, one row per time entry and component (issue 12, loaded labour cost):
--   base        hours x the hourly rate in force (hr_rates/: the employee's own, else the role's)
--   <loading>   each employer loading in force (hr_loadings/: social insurance, benefits,
--               overhead, ...) for the employee, else the role, else everyone:
--               percent   -> base x value / 100
--               per_hour  -> hours x value
--               per_month -> value per person-month, spread over that person's hours of the
--                            month by hours, the rounding remainder to their last entry, so the
--                            parts sum exactly to the amount (entries in force only)
-- A loading is in force from its effective_from until the next row of the same scope and
-- component; a per-month amount is the one in force on the first day of the month. Amounts are
-- in the rate's currency. A time entry's cost is the sum of its components
-- (sql/staging/stg_timesheets.sql). Work database only: no rate, loading or hours is published.
with
entries as (select * from staging.stg_time_entries),
source as (select * from raw.hr_loadings),
employee_keys as (select * from raw.employee_keys),

loadings as (
    select
        cast(trim(effective_from) as date) as effective_from,
        nullif(trim(s.employee_id), '') as employee_id,
        k.employee_key,
        lower(nullif(trim(role), '')) as role,
        lower(trim(component)) as component,
        lower(trim(basis)) as basis,
        cast(trim(value) as decimal(38,10)) as value,
        -- employee > role > everyone
        case when nullif(trim(s.employee_id), '') is not null then 1
             when nullif(trim(role), '') is not null then 2
             else 3 end as scope_rank
    from source s
    left join employee_keys k on k.employee_id = trim(s.employee_id)
),

in_force as (
    select e.source_file, e.source_row, l.component, l.basis, l.value
    from entries e
    join loadings l
        on l.effective_from <= case when l.basis = 'per_month' then cast(date_trunc('month', e.work_date) as date)
                                    else e.work_date end
       and (l.employee_key = e.employee_key
            or (l.employee_id is null and l.role = e.role)
            or (l.employee_id is null and l.role is null))
    qualify row_number() over (
        partition by e.source_file, e.source_row, l.component order by l.scope_rank, l.effective_from desc
    ) = 1
),

base_parts as (
    select source_file, source_row, 'base' as component, 'rate' as basis, hourly_rate as value,
           cast(hours * hourly_rate as decimal(38,10)) as amount_original
    from entries
),

hourly_parts as (
    select
        f.source_file,
        f.source_row,
        f.component,
        f.basis,
        f.value,
        case f.basis
            when 'percent' then cast(cast(e.hours * e.hourly_rate as decimal(38,10)) * f.value
                                     * cast(0.01 as decimal(3,2)) as decimal(38,10))
            else cast(e.hours * f.value as decimal(38,10))
        end as amount_original
    from in_force f
    join entries e using (source_file, source_row)
    where f.basis in ('percent', 'per_hour')
),

monthly as (
    select
        f.*,
        e.employee_key,
        e.hours,
        date_trunc('month', e.work_date) as month_start,
        sum(e.hours) over (partition by e.employee_key, date_trunc('month', e.work_date), f.component) as month_hours,
        row_number() over (
            partition by e.employee_key, date_trunc('month', e.work_date), f.component
            order by e.work_date desc, e.source_file desc, e.source_row desc
        ) = 1 as is_last
    from in_force f
    join entries e using (source_file, source_row)
    where f.basis = 'per_month' and not e.is_superseded
),

monthly_floor as (
    select
        *,
        -- integer arithmetic in units of 1e-10 keeps the split exact (no float)
        cast(cast(
            cast(value * 10000000000 as hugeint) * cast(hours * 10000000000 as hugeint)
                // cast(month_hours * 10000000000 as hugeint)
        as decimal(38,0)) * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as share_floor
    from monthly
),

monthly_parts as (
    select
        source_file,
        source_row,
        component,
        basis,
        value,
        case when is_last
             then value - (sum(share_floor) over (partition by employee_key, month_start, component) - share_floor)
             else share_floor end as amount_original
    from monthly_floor
),

parts as (
    select * from base_parts
    union all
    select * from hourly_parts
    union all
    select * from monthly_parts
),

final as (
    select
        p.source_file,
        p.source_row,
        cast(date_trunc('month', e.work_date) as date) as month,
        e.employee_key,
        p.component,
        p.basis,
        p.value,
        cast(p.amount_original as decimal(38,10)) as amount_original,
        e.rate_currency as currency
    from parts p
    join entries e using (source_file, source_row)
)

select * from final
