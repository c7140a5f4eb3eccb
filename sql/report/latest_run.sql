-- The run that published this file: the latest in the file's own copy of audit.runs.
with
runs as (select * from audit.runs),

final as (select run_id, started_at from runs)

select * from final
order by started_at desc
limit 1
