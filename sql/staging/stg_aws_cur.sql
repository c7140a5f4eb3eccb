-- AWS CUR 2.0 and legacy CUR line items, typed and mapped onto the unified line item.
-- One row per CUR row. docs/formats.md cites the CUR 2.0 table dictionary for every column.
--
-- Amounts: CUR ships doubles; raw holds each as its shortest round-trip text, cast here once, per
-- row, to DECIMAL(38,10) (the ledger's scale) before anything sums them. Never a double sum.
-- Billed cost: the net unblended cost where the export has it (accounts with a discount), else
-- the unblended cost. Effective cost: by line item type (issue 11):
--   DiscountedUsage          the reservation's effective cost (amortised upfront + recurring, used part)
--   RIFee                    the unused amortised upfront fee + the unused recurring fee
--   SavingsPlanCoveredUsage  the savings plan's effective cost
--   SavingsPlanRecurringFee  total commitment to date - used commitment (the unused commitment)
--   SavingsPlanNegation, SavingsPlanUpfrontFee, a Fee for a reservation (its upfront payment): 0,
--                            the commitment reaches usage through the rows above
--   anything else (Usage, Credit, Refund, Tax, other Fee, discounts): as billed
with
source as (select * from raw.aws_cur_line_items),

typed as (
    select
        *,
        nullif(trim(line_item_line_item_type), '') as line_type,
        cast(trim(line_item_unblended_cost) as decimal(38,10)) as unblended,
        try_cast(nullif(trim(line_item_net_unblended_cost), '') as decimal(38,10)) as net_unblended,
        coalesce(try_cast(trim(reservation_effective_cost) as decimal(38,10)), 0) as ri_effective,
        coalesce(try_cast(trim(reservation_unused_amortized_upfront_fee_for_billing_period) as decimal(38,10)), 0)
            + coalesce(try_cast(trim(reservation_unused_recurring_fee) as decimal(38,10)), 0) as ri_unused,
        coalesce(try_cast(trim(savings_plan_savings_plan_effective_cost) as decimal(38,10)), 0) as sp_effective,
        coalesce(try_cast(trim(savings_plan_total_commitment_to_date) as decimal(38,10)), 0)
            - coalesce(try_cast(trim(savings_plan_used_commitment) as decimal(38,10)), 0) as sp_unused,
        cast(try_cast(regexp_replace(trim(line_item_usage_start_date), ' UTC$', '+00') as timestamptz)
             at time zone 'UTC' as timestamp) as usage_start,
        cast(try_cast(regexp_replace(trim(line_item_usage_end_date), ' UTC$', '+00') as timestamptz)
             at time zone 'UTC' as timestamp) as usage_end,
        cast(cast(try_cast(regexp_replace(trim(bill_billing_period_start_date), ' UTC$', '+00') as timestamptz)
             at time zone 'UTC' as timestamp) as date) as period_start,
        cast(cast(try_cast(regexp_replace(trim(bill_billing_period_end_date), ' UTC$', '+00') as timestamptz)
             at time zone 'UTC' as timestamp) as date) as period_end
    from source
),

costed as (
    select
        *,
        coalesce(net_unblended, unblended) as billed,
        case
            when line_type = 'DiscountedUsage' then ri_effective
            when line_type = 'RIFee' then ri_unused
            when line_type = 'SavingsPlanCoveredUsage' then sp_effective
            when line_type = 'SavingsPlanRecurringFee' then sp_unused
            when line_type in ('SavingsPlanNegation', 'SavingsPlanUpfrontFee') then 0
            when line_type = 'Fee' and nullif(trim(reservation_reservation_a_r_n), '') is not null then 0
            else coalesce(net_unblended, unblended)
        end as effective
    from typed
),

renamed as (
    select
        -- lineage
        'aws_cur' as source_system,
        source_file,
        source_row,
        load_id,
        cast(null as varchar) as focus_version,
        -- who and where
        'AWS' as provider,
        coalesce(nullif(trim(bill_billing_entity), ''), 'AWS') as publisher,
        nullif(trim(bill_invoicing_entity), '') as invoice_issuer,
        trim(bill_payer_account_id) as billing_account_id,
        nullif(trim(line_item_usage_account_id), '') as sub_account_id,
        nullif(trim(bill_invoice_id), '') as invoice_number,
        -- what: the product code and usage type are what AWS users write rules on
        nullif(trim(line_item_product_code), '') as service_name,
        cast(null as varchar) as service_category,
        nullif(trim(line_item_usage_type), '') as sku_id,
        nullif(trim(line_item_resource_id), '') as resource_id,
        cast(null as varchar) as resource_name,
        nullif(trim(product_region_code), '') as region_id,
        -- FOCUS's charge categories for CUR's line item types
        case
            when line_type in ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation') then 'Usage'
            when line_type in ('Fee', 'RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') then 'Purchase'
            when line_type = 'Tax' then 'Tax'
            when line_type in ('Credit', 'Refund') or line_type like '%Discount' then 'Credit'
            else 'Adjustment'
        end as charge_category,
        cast(null as varchar) as charge_class,
        coalesce(nullif(trim(line_item_line_item_description), ''), line_type) as charge_description,
        try_cast(trim(line_item_usage_amount) as decimal(38,10)) as pricing_quantity,
        nullif(trim(pricing_unit), '') as pricing_unit,
        -- when (UTC)
        usage_start as charge_period_start,
        coalesce(usage_end, usage_start) as charge_period_end,
        period_start as billing_period_start,
        period_end as billing_period_end,
        -- money, in the billing currency
        upper(trim(line_item_currency_code)) as billing_currency,
        billed as billed_cost_original,
        effective as effective_cost_original,
        -- tags: resource tags (user_*, aws_*) and cost categories in one JSON object; a resource
        -- tag wins over a cost category of the same name
        cast(json_merge_patch(
            coalesce(nullif(nullif(trim(cost_category), ''), 'null'), '{}'),
            coalesce(nullif(nullif(trim(resource_tags), ''), 'null'), '{}')
        ) as varchar) as tags
    from costed
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
