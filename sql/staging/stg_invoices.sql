-- Vendor invoice lines, typed; revisions resolved; service periods spanning months pro-rated
-- by days (the rounding remainder goes to the last month, so the parts sum exactly).
with
source as (select * from raw.invoice_lines),
vendor_aliases as (select * from config.vendor_aliases),
vendors as (select * from config.vendors),

typed as (
    select
        source_file,
        source_row,
        load_id,
        va.vendor_id as vendor,
        v.kind as vendor_kind,
        v.leaf as leaf_hint,
        v.name as vendor_name,
        trim(s.invoice_number) as invoice_number,
        cast(trim(s.invoice_date) as date) as invoice_date,
        coalesce(try_cast(trim(s.revision) as integer), 1) as revision,
        lower(coalesce(nullif(trim(s.document_type), ''), 'invoice')) as document_type,
        trim(s.line_number) as line_number,
        nullif(trim(s.description), '') as description,
        cast(trim(s.service_period_start) as date) as service_start,
        cast(trim(s.service_period_end) as date) as service_end,
        cast(try_cast(trim(s.quantity) as decimal(38,10)) as decimal(38,10)) as quantity,
        nullif(trim(s.unit), '') as unit,
        upper(trim(s.currency)) as billing_currency,
        -- credit notes are their own documents and always book negative
        case when lower(coalesce(nullif(trim(s.document_type), ''), 'invoice')) = 'credit_note'
             then -abs(cast(trim(s.amount) as decimal(38,10)))
             else cast(trim(s.amount) as decimal(38,10)) end as amount,
        nullif(trim(s.model_or_project), '') as model_hint
    from source s
    join vendor_aliases va on va.alias = lower(trim(s.vendor))
    join vendors v on v.vendor_id = va.vendor_id
),

revisions as (
    -- the highest revision of (vendor, invoice number) is in force; ties: the later load
    select
        *,
        (revision, load_id) <> max((revision, load_id)) over (partition by vendor, invoice_number) as is_superseded
    from typed
),

months as (
    select
        r.*,
        cast(m.month as date) as month,
        greatest(r.service_start, cast(m.month as date)) as part_start,
        least(r.service_end, cast(m.month + interval 1 month - interval 1 day as date)) as part_end,
        date_diff('day', r.service_start, r.service_end) + 1 as total_days
    from revisions r,
        unnest(generate_series(date_trunc('month', r.service_start), date_trunc('month', r.service_end), interval 1 month)) as m(month)
),

prorated as (
    select
        *,
        date_diff('day', part_start, part_end) + 1 as part_days,
        -- integer arithmetic in units of 1e-10 keeps the split exact (no float)
        cast(cast(
            cast(amount * 10000000000 as hugeint) * (date_diff('day', part_start, part_end) + 1) // total_days
        as decimal(38,0)) * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as share_floor,
        row_number() over (partition by source_file, source_row order by month desc) = 1 as is_last_part
    from months
),

final as (
    select
        'invoice' as source_system,
        source_file,
        source_row,
        load_id,
        cast(null as varchar) as focus_version,
        vendor_name as provider,
        cast(null as varchar) as publisher,
        vendor_name as invoice_issuer,
        cast(null as varchar) as billing_account_id,
        cast(null as varchar) as sub_account_id,
        invoice_number,
        coalesce(description, vendor_kind || ' services') as service_name,
        vendor_kind as service_category,
        cast(null as varchar) as sku_id,
        cast(null as varchar) as resource_id,
        cast(null as varchar) as resource_name,
        cast(null as varchar) as region_id,
        case when document_type = 'credit_note' then 'Credit' else 'Usage' end as charge_category,
        cast(null as varchar) as charge_class,
        description as charge_description,
        quantity as pricing_quantity,
        unit as pricing_unit,
        cast(part_start as timestamp) as charge_period_start,
        cast(part_end + interval 1 day as timestamp) as charge_period_end,
        cast(date_trunc('month', invoice_date) as date) as billing_period_start,
        cast(null as date) as billing_period_end,
        billing_currency,
        case when is_last_part
             then amount - coalesce(sum(share_floor) over (partition by source_file, source_row order by month
                                                          rows between unbounded preceding and 1 preceding), 0)
             else share_floor end as billed_cost_original,
        cast(null as decimal(38,10)) as effective_cost_original,
        '{}' as tags,
        month,
        vendor,
        vendor_kind,
        cast(null as varchar) as activity,
        cast(null as varchar) as employee_key,
        cast(null as decimal(38,10)) as hours,
        model_hint,
        leaf_hint,
        is_superseded
    from prorated
)

select * replace (billed_cost_original as effective_cost_original) from final
