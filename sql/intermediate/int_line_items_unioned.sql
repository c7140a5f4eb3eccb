-- Every source's line items in one shape (the unified, FOCUS-aligned line item).
with
focus as (select * from staging.stg_focus),
aws_cur as (select * from staging.stg_aws_cur),
gcp_billing as (select * from staging.stg_gcp_billing),
azure_cost as (select * from staging.stg_azure_cost),
invoices as (select * from staging.stg_invoices),
timesheets as (select * from staging.stg_timesheets),

final as (
    select * from focus
    union all by name
    select * from aws_cur
    union all by name
    select * from gcp_billing
    union all by name
    select * from azure_cost
    union all by name
    select * from invoices
    union all by name
    select * from timesheets
)

select * from final
