-- Conservation, per source file and month, to the cent (zero rows = healthy):
-- cost read = nine leaves + unallocated + out_of_scope (+ what a later delivery superseded),
-- and rows read + rows rejected = rows in the file.
-- The offending rows are shown in audit.quality_results, which is published: the cost of a
-- time-log file in a month is the pay of the people in it, so its amounts are shown as NULL.
with
reconciliation as (select * from audit.reconciliation),
offending as (
    select *
    from reconciliation
    where round(input_cost - superseded_cost - leaves_cost - unallocated_cost - out_of_scope_cost, 2) <> 0
       or (rows_in_file is not null and rows_read + rows_rejected <> rows_in_file)
),
final as (
    select
        * replace (
            case when source_system = 'timesheet' then null else input_cost end as input_cost,
            case when source_system = 'timesheet' then null else superseded_cost end as superseded_cost,
            case when source_system = 'timesheet' then null else leaves_cost end as leaves_cost,
            case when source_system = 'timesheet' then null else unallocated_cost end as unallocated_cost,
            case when source_system = 'timesheet' then null else out_of_scope_cost end as out_of_scope_cost,
            case when source_system = 'timesheet' then null else difference end as difference
        )
    from offending
)
select * from final
