-- Every source's line items in one shape (the unified, FOCUS-aligned line item).
with
focus as (select * from staging.stg_focus),
invoices as (select * from staging.stg_invoices),
timesheets as (select * from staging.stg_timesheets),
assets as (select * from staging.stg_assets),

final as (
    select * from focus
    union all by name
    select * from invoices
    union all by name
    select * from timesheets
    union all by name
    select * from assets
)

select * from final
