-- audit.reconciliation as the published file carries it (docs/privacy.md). Every source but the
-- time logs: per file and month, as in the work database. Time logs: one row per month for all
-- their files (source_file NULL), the cost in force only (superseded_cost NULL): the cost of one
-- time-log file in one month is the pay of the people in it, and a correction export may hold
-- one person's day, whose old and new cost differ by exactly their rate times the hours changed.
-- The per-file reconciliation of time logs stays in the work database's audit.reconciliation,
-- where the conservation check runs.
with
reconciliation as (select * from audit.reconciliation),

files as (
    select * from reconciliation where source_system is distinct from 'timesheet'
),

time_logs as (
    select
        cast(null as varchar) as source_file,
        month,
        'timesheet' as source_system,
        cast(sum(input_cost - superseded_cost) as decimal(38,10)) as input_cost,
        cast(null as decimal(38,10)) as superseded_cost,
        cast(sum(leaves_cost) as decimal(38,10)) as leaves_cost,
        cast(sum(unallocated_cost) as decimal(38,10)) as unallocated_cost,
        cast(sum(out_of_scope_cost) as decimal(38,10)) as out_of_scope_cost,
        cast(sum(difference) as decimal(38,10)) as difference,
        cast(sum(rows_in_file) as bigint) as rows_in_file,
        cast(sum(rows_read) as bigint) as rows_read,
        cast(sum(rows_rejected) as bigint) as rows_rejected,
        cast(sum(rows_in_raw) as bigint) as rows_in_raw,
        cast(sum(rows_in_core) as bigint) as rows_in_core
    from reconciliation
    where source_system = 'timesheet'
    group by month
),

final as (
    select * from files
    union all by name
    select * from time_logs
)

select * from final
