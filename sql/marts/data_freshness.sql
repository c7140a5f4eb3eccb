-- The latest charge date and load per source system and provider: how fresh the ledger is.
-- A vendor invoice is dated by the end of its service period (the last day it bills for), not by
-- its start: an invoice for October's labeling, dated by its start, would look a month stale.
-- Other sources: the start of their latest charge (a cloud day, a time-log day).
with
line_items as (select * from core.line_items where not is_superseded),
load_log as (select * from audit.load_log),

latest as (
    select
        source_system,
        provider,
        case when source_system = 'invoice'
             -- charge_period_end is exclusive: the service period's last day is the day before
             then cast(max(charge_period_end) - interval 1 day as date)
             else cast(max(charge_period_start) as date) end as latest_charge_date,
        max(load_id) as latest_load_id
    from line_items
    group by source_system, provider
),

final as (
    select
        l.source_system,
        l.provider,
        l.latest_charge_date,
        (select max(g.loaded_at) from load_log g where g.load_id = l.latest_load_id) as latest_loaded_at
    from latest l
)

select * from final
