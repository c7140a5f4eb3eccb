-- Time-log values no mapping places, listed by value so a person can map them: an activity
-- missing from activities.yaml, a model or project missing from models.yaml (ids and aliases).
-- Their cost is booked to `unallocated`, never dropped. Values are the trackers' project, task,
-- tag or issue-key values, never a person; work database only (shown by `costledger status`).
with
entries as (select * from raw.timesheet_entries),
activities as (select * from config.activities),
model_aliases as (select * from config.model_aliases),

unmapped as (
    select 'activity' as field, coalesce(lower(trim(activity)), '(none)') as value, source_file
    from entries
    where nullif(trim(activity), '') is null or lower(trim(activity)) not in (select activity from activities)
    union all
    select 'model_or_project', coalesce(nullif(trim(model_or_project), ''), '(none)'), source_file
    from entries
    where nullif(trim(model_or_project), '') is null
       or lower(trim(model_or_project)) not in (select alias from model_aliases)
),

final as (
    select
        field,
        value,
        count(*) as time_entries,
        count(distinct source_file) as files,
        min(source_file) as first_file
    from unmapped
    group by all
)

select * from final order by field, time_entries desc, value
