-- The checks of the latest run that ran any (audit.quality_results).
with
results as (select * from audit.quality_results),

last_run as (
    select run_id, max(checked_at) as last_at
    from results
    group by run_id
    order by last_at desc
    limit 1
),

final as (
    select r.run_id, l.last_at, r.severity, r.table_name, r.check_name, r.success, r.observed
    from results r
    join last_run l using (run_id)
)

select * from final
order by severity, table_name, check_name
