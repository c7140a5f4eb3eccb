-- Azure cost details (EA and MCA, actual and amortized), typed and mapped onto the unified line
-- item. One row per export row. docs/formats.md cites Microsoft's cost details fields page.
--
-- The scope of a row is its billing profile (an EA enrollment's profile is the enrollment, an MCA
-- billing profile is what FOCUS calls its billing account), else its billing account.
-- Cost basis (issue 11): the actual dataset gives billed cost, the amortized dataset effective
-- cost; each row counts on its own basis only, 0 on the other. Where a scope's month has no
-- amortized rows, its actual rows serve as both (a lone actual export).
-- Dates are MM/DD/YYYY (ISO accepted); amounts are decimal text, cast once to DECIMAL(38,10).
with
source as (select * from raw.azure_cost_line_items),

typed as (
    select
        *,
        coalesce(nullif(trim(BillingProfileId), ''), nullif(trim(BillingAccountId), '')) as scope,
        coalesce(try_strptime(trim("Date"), '%m/%d/%Y'), try_cast(trim("Date") as date)) as usage_date,
        cast(coalesce(try_strptime(trim(BillingPeriodStartDate), '%m/%d/%Y'),
                      try_cast(trim(BillingPeriodStartDate) as date)) as date) as period_start,
        cast(coalesce(try_strptime(trim(BillingPeriodEndDate), '%m/%d/%Y'),
                      try_cast(trim(BillingPeriodEndDate) as date)) as date) as period_end,
        cast(trim(CostInBillingCurrency) as decimal(38,10)) as cost,
        cost_dataset = 'AmortizedCost' as is_amortized
    from source
),

based as (
    select
        *,
        bool_or(is_amortized) over (partition by scope, date_trunc('month', usage_date)) as month_has_amortized
    from typed
),

renamed as (
    select
        -- lineage
        'azure_cost' as source_system,
        source_file,
        source_row,
        load_id,
        cast(null as varchar) as focus_version,
        -- who and where
        'Microsoft' as provider,
        coalesce(nullif(trim(PublisherName), ''), 'Microsoft') as publisher,
        'Microsoft' as invoice_issuer,
        scope as billing_account_id,
        nullif(trim(SubscriptionId), '') as sub_account_id,
        nullif(trim(InvoiceId), '') as invoice_number,
        -- what: meter category is what Azure users write rules on; the resource group is in
        -- the resource id (/resourceGroups/<name>/)
        nullif(trim(MeterCategory), '') as service_name,
        cast(null as varchar) as service_category,
        nullif(trim(MeterId), '') as sku_id,
        nullif(trim(ResourceId), '') as resource_id,
        nullif(trim(ResourceName), '') as resource_name,
        nullif(trim(ResourceLocation), '') as region_id,
        case lower(trim(ChargeType))
            when 'usage' then 'Usage'
            when 'unusedreservation' then 'Usage'
            when 'unusedsavingsplan' then 'Usage'
            when 'purchase' then 'Purchase'
            when 'refund' then 'Credit'
            when 'tax' then 'Tax'
            when '' then 'Usage'
            else coalesce(nullif(trim(ChargeType), ''), 'Usage')
        end as charge_category,
        cast(null as varchar) as charge_class,
        coalesce(nullif(trim(ProductName), ''), nullif(trim(MeterName), '')) as charge_description,
        try_cast(trim(Quantity) as decimal(38,10)) as pricing_quantity,
        nullif(trim(UnitOfMeasure), '') as pricing_unit,
        -- when: the usage day (UTC)
        cast(usage_date as timestamp) as charge_period_start,
        cast(usage_date as timestamp) + interval 1 day as charge_period_end,
        period_start as billing_period_start,
        period_end as billing_period_end,
        -- money, in the billing currency
        upper(trim(BillingCurrencyCode)) as billing_currency,
        case when is_amortized then 0 else cost end as billed_cost_original,
        case when is_amortized or not month_has_amortized then cost else 0 end as effective_cost_original,
        case when nullif(trim(Tags), '') is null then '{}'
             when starts_with(trim(Tags), '{') then trim(Tags)
             else '{' || trim(Tags) || '}' end as tags
    from based
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
