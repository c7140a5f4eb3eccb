-- FOCUS line items, typed and renamed to the unified columns. One row per export row.
with
source as (select * from raw.focus_line_items),

renamed as (
    select
        -- lineage
        'focus' as source_system,
        source_file,
        source_row,
        load_id,
        focus_version,
        -- who and where
        coalesce(nullif(trim(ServiceProviderName), ''), nullif(trim(ProviderName), '')) as provider,
        coalesce(nullif(trim(HostProviderName), ''), nullif(trim(PublisherName), '')) as publisher,
        nullif(trim(InvoiceIssuerName), '') as invoice_issuer,
        nullif(trim(BillingAccountId), '') as billing_account_id,
        nullif(trim(SubAccountId), '') as sub_account_id,
        nullif(trim(InvoiceId), '') as invoice_number,
        -- what
        nullif(trim(ServiceName), '') as service_name,
        nullif(trim(ServiceCategory), '') as service_category,
        nullif(trim(SkuId), '') as sku_id,
        nullif(trim(ResourceId), '') as resource_id,
        nullif(trim(ResourceName), '') as resource_name,
        nullif(trim(RegionId), '') as region_id,
        -- the spec's capitalisation (some exports write usage, tax, correction)
        case lower(trim(ChargeCategory))
            when 'usage' then 'Usage' when 'purchase' then 'Purchase' when 'tax' then 'Tax'
            when 'credit' then 'Credit' when 'adjustment' then 'Adjustment'
            else nullif(trim(ChargeCategory), '') end as charge_category,
        case lower(trim(ChargeClass)) when 'correction' then 'Correction'
            else nullif(trim(ChargeClass), '') end as charge_class,
        nullif(trim(ChargeDescription), '') as charge_description,
        cast(try_cast(trim(PricingQuantity) as decimal(38,10)) as decimal(38,10)) as pricing_quantity,
        nullif(trim(PricingUnit), '') as pricing_unit,
        -- when (UTC)
        cast(cast(trim(ChargePeriodStart) as timestamptz) at time zone 'UTC' as timestamp) as charge_period_start,
        cast(cast(trim(ChargePeriodEnd) as timestamptz) at time zone 'UTC' as timestamp) as charge_period_end,
        cast(cast(try_cast(trim(BillingPeriodStart) as timestamptz) at time zone 'UTC' as timestamp) as date) as billing_period_start,
        cast(cast(try_cast(trim(BillingPeriodEnd) as timestamptz) at time zone 'UTC' as timestamp) as date) as billing_period_end,
        -- money, in the billing currency
        upper(trim(BillingCurrency)) as billing_currency,
        cast(trim(BilledCost) as decimal(38,10)) as billed_cost_original,
        cast(trim(EffectiveCost) as decimal(38,10)) as effective_cost_original,
        -- tags: a JSON object, '{}' when absent
        coalesce(nullif(nullif(trim(Tags), ''), 'null'), '{}') as tags,
        -- the export's own price and quantity columns, kept for `costledger export focus`
        -- (docs/focus.md); NULL where the export leaves them out
        cast(try_cast(trim(ListCost) as decimal(38,10)) as decimal(38,10)) as list_cost_original,
        cast(try_cast(trim(ContractedCost) as decimal(38,10)) as decimal(38,10)) as contracted_cost_original,
        cast(try_cast(trim(ConsumedQuantity) as decimal(38,10)) as decimal(38,10)) as consumed_quantity,
        nullif(trim(ConsumedUnit), '') as consumed_unit,
        nullif(trim(SkuPriceId), '') as sku_price_id,
        nullif(trim(CommitmentDiscountId), '') as commitment_discount_id,
        nullif(trim(CommitmentDiscountCategory), '') as commitment_discount_category,
        nullif(trim(CommitmentDiscountType), '') as commitment_discount_type,
        nullif(trim(CommitmentDiscountStatus), '') as commitment_discount_status
    from source
),

final as (
    select
        *,
        cast(date_trunc('month', charge_period_start) as date) as month,
        cast(null as varchar) as vendor,
        cast(null as varchar) as vendor_kind,
        cast(null as varchar) as activity,
        cast(null as varchar) as employee_key,
        cast(null as decimal(38,10)) as hours,
        cast(null as varchar) as model_hint,
        cast(null as varchar) as leaf_hint,
        false as is_superseded
    from renamed
)

select * from final
