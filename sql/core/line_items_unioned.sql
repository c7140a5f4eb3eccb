-- Every source's line items in one shape (the unified, FOCUS-aligned line item).
-- Where costledger.yaml's `trust:` names the source that counts for a billing account (a native
-- export and a FOCUS export of one account both landed), the other sources' lines of that account
-- are superseded: kept and reconciled, never counted twice.
with
focus as (select * from staging.stg_focus),
aws_cur as (select * from staging.stg_aws_cur),
gcp_billing as (select * from staging.stg_gcp_billing),
azure_cost as (select * from staging.stg_azure_cost),
invoices as (select * from staging.stg_invoices),
timesheets as (select * from staging.stg_timesheets),
assets as (select * from staging.stg_assets),
trust as (
    select substr(key, 7) as billing_account_id, value as trusted_source
    from config.settings where starts_with(key, 'trust:')
),

unioned as (
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
    union all by name
    select * from assets
),

final as (
    select
        u.* replace (
            u.is_superseded or coalesce(t.trusted_source <> u.source_system, false) as is_superseded
        )
    from unioned u
    left join trust t on t.billing_account_id = u.billing_account_id
)

select * from final
