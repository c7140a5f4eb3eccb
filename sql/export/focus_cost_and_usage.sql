-- The published ledger as a FOCUS 1.3 cost-and-usage dataset (docs/focus.md, "Exporting the
-- ledger as FOCUS"): one row per row of marts.cost_line_items in the months $month_from ..
-- $month_to, so the export holds C_total + unallocated + out of scope, to the cent.
-- * amounts are the ledger's, converted to the reporting currency (BillingCurrency); the
--   original currency and amounts are x_ columns;
-- * people cost comes as published (one row per privacy group, docs/privacy.md): no person, and
--   no time-log file name;
-- * a line split across models (split_basis set) carries FOCUS split cost allocation columns
--   (AllocatedMethodId, AllocatedMethodDetails, AllocatedResourceId/Name, AllocatedTags);
-- * costledger's placement is in x_ columns (x_Model, x_Leaf, x_Stage, x_Bucket, x_RuleId, ...).
-- Run against the published file only; parameters are bound.
with
lines as (
    select * from marts.cost_line_items
    where month between cast($month_from as date) and cast($month_to as date)
),

service_categories as (
    select unnest([
        'AI and Machine Learning', 'Analytics', 'Business Applications', 'Compute', 'Databases',
        'Developer Tools', 'Multicloud', 'Identity', 'Integration', 'Internet of Things',
        'Management and Governance', 'Media', 'Migration', 'Mobile', 'Networking', 'Security',
        'Storage', 'Web', 'Other'
    ]) as category
),

normalised as (
    select
        l.*,
        case lower(l.charge_category)
            when 'usage' then 'Usage'
            when 'purchase' then 'Purchase'
            when 'tax' then 'Tax'
            when 'credit' then 'Credit'
            when 'adjustment' then 'Adjustment'
            else case when lower(l.charge_category) like 'usage%' then 'Usage' else 'Adjustment' end
        end as focus_charge_category,
        case when lower(l.charge_class) = 'correction' then 'Correction' end as focus_charge_class,
        coalesce(
            sc.category,
            case
                when l.source_system = 'asset' then 'Compute'
                when l.source_system = 'invoice' and l.service_category in ('labeling', 'data') then 'AI and Machine Learning'
                when l.source_system = 'invoice' and l.service_category = 'hardware' then 'Compute'
                when l.source_system = 'invoice' and l.service_category = 'software' then 'Business Applications'
                else 'Other'
            end
        ) as focus_service_category,
        -- a split share's weight reads '<weight>/<total weight>'
        try_cast(split_part(l.split_weight, '/', 1) as decimal(38,10)) as split_w,
        try_cast(split_part(l.split_weight, '/', 2) as decimal(38,10)) as split_total
    from lines l
    left join service_categories sc on lower(sc.category) = lower(l.service_category)
),

priced as (
    select
        *,
        focus_charge_category in ('Usage', 'Purchase') and focus_charge_class is null as is_priced,
        -- cloud billing: FOCUS exports and the providers' native exports (aws_cur, gcp_billing, ...)
        source_system not in ('invoice', 'asset', 'timesheet') as is_cloud
    from normalised
),

final as (
    select
        -- FOCUS columns, in the order of the 1.3 column list
        cast(null as varchar) as AvailabilityZone,
        cast(billed_cost as decimal(38,10)) as BilledCost,
        coalesce(billing_account_id, 'costledger:' || source_system) as BillingAccountId,
        coalesce(billing_account_id, 'costledger:' || source_system) as BillingAccountName,
        reporting_currency as BillingCurrency,
        cast(month + interval 1 month as timestamptz) as BillingPeriodEnd,
        cast(month as timestamptz) as BillingPeriodStart,
        focus_charge_category as ChargeCategory,
        focus_charge_class as ChargeClass,
        coalesce(charge_description, service) as ChargeDescription,
        case
            when focus_charge_category = 'Purchase' then 'One-Time'
            when is_cloud and focus_charge_category = 'Usage' then 'Usage-Based'
            when is_cloud then 'One-Time'
            else 'Recurring'
        end as ChargeFrequency,
        cast(charge_period_end as timestamptz) as ChargePeriodEnd,
        cast(charge_period_start as timestamptz) as ChargePeriodStart,
        cast(billed_cost as decimal(38,10)) as ContractedCost,
        cast(effective_cost as decimal(38,10)) as EffectiveCost,
        invoice_number as InvoiceId,
        provider as InvoiceIssuerName,
        cast(billed_cost as decimal(38,10)) as ListCost,
        -- FOCUS: Usage and Purchase rows (not corrections) need a SkuPriceId (with its SkuId)
        -- and a PricingQuantity, which must be null where SkuPriceId is; the published ledger keeps
        -- no quantities, so such a row is one 'Charge' of its SKU (or of a costledger SKU)
        case when is_priced then cast(1 as decimal(38,10)) end as PricingQuantity,
        case when is_priced then 'Charge' end as PricingUnit,
        provider as ProviderName,
        provider as PublisherName,
        provider as ServiceProviderName,
        case when is_cloud or source_system = 'asset' then provider end as HostProviderName,
        region_id as RegionId,
        region_id as RegionName,
        resource_id as ResourceId,
        resource_name as ResourceName,
        focus_service_category as ServiceCategory,
        service as ServiceName,
        case when focus_charge_category <> 'Tax' then coalesce(sku_id, 'costledger:' || source_system) end as SkuId,
        case when is_priced then coalesce(sku_id, 'costledger:' || source_system) end as SkuPriceId,
        sub_account_id as SubAccountId,
        sub_account_id as SubAccountName,
        coalesce(tags, '{}') as Tags,
        -- split cost allocation: only on a share of a line split across models
        case when split_basis is not null then 'costledger:' || split_basis end as AllocatedMethodId,
        case when split_basis is not null then json_object('Elements', [json_object(
            'AllocatedRatio', cast(split_w / nullif(split_total, 0) as double),
            'UsageQuantity', cast(split_w as double),
            'UsageUnit', coalesce(nullif(split_part(split_basis, ':', 2), ''), split_basis)
        )])::varchar end as AllocatedMethodDetails,
        case when split_basis is not null then model_id end as AllocatedResourceId,
        case when split_basis is not null then model_id end as AllocatedResourceName,
        case when split_basis is not null
             then json_object('cl-model', model_id, 'cl-scenario', scenario, 'cl-leaf', leaf)::varchar
        end as AllocatedTags,
        -- costledger's placement and lineage
        line_id as x_LineId,
        model_id as x_Model,
        scenario as x_Scenario,
        team as x_Team,
        leaf as x_Leaf,
        stage as x_Stage,
        case when leaf in ('unallocated', 'out_of_scope', 'people_merged') then leaf else 'leaf' end as x_Bucket,
        rule_id as x_RuleId,
        unallocated_reason as x_UnallocatedReason,
        source_system as x_SourceSystem,
        case when source_system <> 'timesheet' then source_file end as x_SourceFile,
        source_row as x_SourceRow,
        vendor as x_Vendor,
        activity as x_Activity,
        people_grain as x_PeopleGrain,
        service_category as x_ServiceCategory,
        charge_category as x_ChargeCategory,
        split_basis as x_SplitBasis,
        split_weight as x_SplitWeight,
        currency as x_OriginalCurrency,
        cast(billed_cost_original as decimal(38,10)) as x_BilledCostOriginal,
        cast(effective_cost_original as decimal(38,10)) as x_EffectiveCostOriginal,
        cast(fx_rate as decimal(38,10)) as x_FxRate,
        cast(cost as decimal(38,10)) as x_Cost,
        month as x_Month
    from priced
)

select * from final
order by x_Month, x_SourceSystem, x_LineId
