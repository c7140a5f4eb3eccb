-- Google Cloud Billing export rows, typed and mapped onto the unified line item. One row per
-- export row. docs/formats.md cites the standard and detailed export schemas.
--
-- Cost: `cost` + Σ `credits[].amount` (credits are negative), each amount cast to DECIMAL(38,10)
-- once, per value, before it is summed. The export carries no amortisation: billed = effective.
-- `cost_type` (regular, tax, adjustment, rounding_error) is kept; tax and adjustments are rows of
-- their own. The month is the usage start's (UTC); `invoice.month` is kept as the billing period.
--
-- Replacement: open invoice months are extracted again every night. For one billing account and
-- invoice month, the extraction (a landing folder) whose newest `export_time` is the latest counts;
-- the rows of every other extraction of that account and invoice month are superseded (still on
-- the books, never counted: audit.reconciliation shows them as superseded).
with
source as (select * from raw.gcp_billing_line_items),

typed as (
    select
        *,
        regexp_replace(source_file, '/[^/]*$', '') as extraction,
        cast(try_cast(regexp_replace(trim(usage_start_time), ' UTC$', '+00') as timestamptz)
             at time zone 'UTC' as timestamp) as usage_start,
        cast(try_cast(regexp_replace(trim(usage_end_time), ' UTC$', '+00') as timestamptz)
             at time zone 'UTC' as timestamp) as usage_end,
        cast(try_cast(regexp_replace(trim(export_time), ' UTC$', '+00') as timestamptz)
             at time zone 'UTC' as timestamp) as exported_at,
        try_strptime(nullif(trim(invoice_month), ''), '%Y%m') as invoice_period,
        cast(trim(cost) as decimal(38,10)) as cost_amount,
        coalesce(
            list_sum(list_transform(
                cast(json_extract(try_cast(nullif(trim(credits), '') as json), '$[*].amount') as varchar[]),
                lambda x: cast(x as decimal(38,10))
            )),
            try_cast(nullif(trim(credits_amount), '') as decimal(38,10)),
            0
        ) as credits_total,
        -- labels as a JSON object (the first value of a repeated key wins); resource labels over project labels
        cast(json_merge_patch(
            coalesce(cast(to_json(map_from_entries(list_transform(
                list_filter(from_json(nullif(trim(project_labels), ''), '[{"key":"VARCHAR","value":"VARCHAR"}]'),
                            lambda t, i: list_position(list_transform(
                                from_json(nullif(trim(project_labels), ''), '[{"key":"VARCHAR","value":"VARCHAR"}]'),
                                lambda x: x.key), t.key) = i),
                lambda t: struct_pack(k := t.key, v := t.value)))) as varchar), '{}'),
            coalesce(cast(to_json(map_from_entries(list_transform(
                list_filter(from_json(nullif(trim(labels), ''), '[{"key":"VARCHAR","value":"VARCHAR"}]'),
                            lambda t, i: list_position(list_transform(
                                from_json(nullif(trim(labels), ''), '[{"key":"VARCHAR","value":"VARCHAR"}]'),
                                lambda x: x.key), t.key) = i),
                lambda t: struct_pack(k := t.key, v := t.value)))) as varchar), '{}')
        ) as varchar) as label_tags
    from source
),

extractions as (
    -- per account and invoice month: how recent each extraction is, and the latest one
    select
        billing_account_id,
        invoice_month,
        extraction,
        max(exported_at) as extracted_at
    from typed
    group by all
),

latest as (
    select billing_account_id, invoice_month, extraction
    from extractions
    qualify row_number() over (
        partition by billing_account_id, invoice_month order by extracted_at desc nulls last, extraction desc
    ) = 1
),

renamed as (
    select
        -- lineage
        'gcp_billing' as source_system,
        t.source_file,
        t.source_row,
        t.load_id,
        cast(null as varchar) as focus_version,
        -- who and where
        'Google Cloud' as provider,
        coalesce(nullif(trim(t.seller_name), ''), 'Google') as publisher,
        'Google' as invoice_issuer,
        trim(t.billing_account_id) as billing_account_id,
        nullif(trim(t.project_id), '') as sub_account_id,
        cast(null as varchar) as invoice_number,
        -- what
        nullif(trim(t.service_description), '') as service_name,
        cast(null as varchar) as service_category,
        coalesce(nullif(trim(t.sku_id), ''), nullif(trim(t.sku_description), '')) as sku_id,
        coalesce(nullif(trim(t.resource_global_name), ''), nullif(trim(t.resource_name), '')) as resource_id,
        nullif(trim(t.resource_name), '') as resource_name,
        nullif(trim(t.location_region), '') as region_id,
        case lower(trim(t.cost_type))
            when 'tax' then 'Tax'
            when 'adjustment' then 'Adjustment'
            when 'rounding_error' then 'Adjustment'
            else 'Usage'
        end as charge_category,
        case when lower(trim(t.cost_type)) = 'adjustment' then 'Correction' end as charge_class,
        nullif(trim(t.sku_description), '') as charge_description,
        try_cast(trim(t.usage_amount) as decimal(38,10)) as pricing_quantity,
        nullif(trim(t.usage_unit), '') as pricing_unit,
        lower(nullif(trim(t.cost_type), '')) as gcp_cost_type,
        -- when (UTC)
        t.usage_start as charge_period_start,
        coalesce(t.usage_end, t.usage_start) as charge_period_end,
        cast(t.invoice_period as date) as billing_period_start,
        cast(t.invoice_period + interval 1 month - interval 1 day as date) as billing_period_end,
        -- money, in the billing currency
        upper(trim(t.currency)) as billing_currency,
        t.cost_amount + t.credits_total as billed_cost_original,
        t.cost_amount + t.credits_total as effective_cost_original,
        t.label_tags as tags,
        l.extraction is null as superseded_extraction
    from typed t
    left join latest l
      on l.billing_account_id is not distinct from t.billing_account_id
     and l.invoice_month is not distinct from t.invoice_month
     and l.extraction = t.extraction
),

final as (
    select
        * exclude (gcp_cost_type, superseded_extraction),
        cast(date_trunc('month', charge_period_start) as date) as month,
        cast(null as varchar) as vendor,
        cast(null as varchar) as vendor_kind,
        cast(null as varchar) as activity,
        cast(null as varchar) as employee_key,
        cast(null as decimal(38,10)) as hours,
        cast(null as varchar) as model_hint,
        cast(null as varchar) as leaf_hint,
        superseded_extraction as is_superseded
    from renamed
)

select * from final
