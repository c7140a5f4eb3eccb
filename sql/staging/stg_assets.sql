-- Owned hardware as line items (docs/formats.md, "Asset register"):
-- * depreciation, straight line from the in-service month down to the salvage value, one line
--   per asset and month; each month is the remaining amount / remaining months cut to the cent,
--   the last month of the life takes the remainder, so an asset's months sum to
--   cost - salvage exactly;
-- * a change in estimate (a later `effective_month` row of the same asset with another useful
--   life or salvage) re-spreads what is left over the months left; months before it keep what
--   they booked;
-- * disposal stops depreciation from the disposal month on and books the gain or loss
--   (net book value - proceeds; a gain is negative cost) as its own line (sku 'disposal');
-- * maintenance contracts are pro-rated by days like invoices (the remainder in the last month).
-- A later file restating the same (asset, effective month) or (asset, contract) replaces it.
-- Months are booked up to the latest month of the ledger's other cost (staging.stg_asset_months).
with
months as (select * from staging.stg_asset_months where is_booked),

assets as (
    select distinct on (asset_id) asset_id, description, serves, leaf
    from staging.stg_asset_schedule
    order by asset_id, estimate_no desc
),

lines as (select * from months),

final as (
    select
        'asset' as source_system,
        l.source_file,
        l.source_row,
        l.load_id,
        cast(null as varchar) as focus_version,
        'owned hardware' as provider,
        cast(null as varchar) as publisher,
        cast(null as varchar) as invoice_issuer,
        cast(null as varchar) as billing_account_id,
        cast(null as varchar) as sub_account_id,
        l.contract_id as invoice_number,
        l.kind || ': ' || coalesce(a.description, l.asset_id) as service_name,
        'owned_hardware' as service_category,
        l.kind as sku_id,
        l.asset_id as resource_id,
        a.description as resource_name,
        cast(null as varchar) as region_id,
        case when l.kind = 'disposal' then 'Adjustment' else 'Usage' end as charge_category,
        cast(null as varchar) as charge_class,
        case l.kind
            when 'depreciation' then 'straight-line depreciation'
            when 'disposal' then case when l.amount >= 0 then 'loss on disposal' else 'gain on disposal' end
            else 'maintenance contract ' || l.contract_id
        end as charge_description,
        cast(null as decimal(38,10)) as pricing_quantity,
        cast(null as varchar) as pricing_unit,
        cast(l.month as timestamp) as charge_period_start,
        cast(l.month + interval 1 month as timestamp) as charge_period_end,
        l.month as billing_period_start,
        cast(null as date) as billing_period_end,
        l.currency as billing_currency,
        cast(l.amount as decimal(38,10)) as billed_cost_original,
        cast(l.amount as decimal(38,10)) as effective_cost_original,
        case when a.serves like 'pool:%'
             then json_object('cl-asset', l.asset_id, 'cl-pool', substr(a.serves, 6))
             else json_object('cl-asset', l.asset_id) end::varchar as tags,
        l.month,
        cast(null as varchar) as vendor,
        cast(null as varchar) as vendor_kind,
        cast(null as varchar) as activity,
        cast(null as varchar) as employee_key,
        cast(null as decimal(38,10)) as hours,
        case when a.serves not like 'pool:%' then a.serves end as model_hint,
        a.leaf as leaf_hint,
        false as is_superseded
    from lines l
    left join assets a using (asset_id)
)

select * from final
