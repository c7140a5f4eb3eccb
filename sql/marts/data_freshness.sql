-- The latest charge date and load per source system and provider: how fresh the ledger is.
with
line_items as (select * from core.line_items),
load_log as (select * from audit.load_log),

latest as (
    select
        source_system,
        provider,
        cast(max(charge_period_start) as date) as latest_charge_date,
        max(load_id) as latest_load_id
    from line_items
    group by all
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
