-- One row per allocated line (a split line is one row per share): the ledger's detail.
-- Time logs are the exception (docs/privacy.md): people cost is published one row per group of
-- at least `privacy.min_people_per_row` people, as decided by sql/core/people_cost_cells.merge.sql,
-- with source_system 'timesheet', line_id 'people/<group key>', people_grain naming the group's
-- level, and no pseudonym, hours, rate or source row. A dimension the group's lines do not share
-- reads '(several)'; a group merged across leaves sits on the leaf 'people_merged' (the groups are
-- built once, in core.people_cost_rows). The lines themselves stay in the work database
-- (core.people_cost_lines).
-- The wide columns are joined back here, and only here: publish materialises this view once; the
-- aggregates and checks read the lean core.ledger_lines instead.
-- Names and e-mails never leave raw (docs/privacy.md): a tag whose key names a person
-- (config.settings redact_tag_keys: the whole key or its last part after ':' or '/', any case) or
-- whose value holds an e-mail address is published as '(redacted)', and an e-mail address in a
-- resource name or charge description reads '(redacted)'. Rules matched the raw tags in core.
with
allocated as (select * from core.allocated_line_items where source_system is distinct from 'timesheet'),
-- the line's own columns, joined back to its shares here (core's allocation keeps only keys, the
-- allocation and the few columns the marts group by: provider, service, charge category and period).
-- The FOCUS price and quantity columns come from the share: on a split line they are split exactly
-- like the cost (core.allocated_line_items); units, SKU price and commitment columns are dimensions
-- and stay the line's own.
line_items as (
    select
        line_id, billing_account_id, sub_account_id, service_category,
        charge_class, charge_description, sku_id, resource_id, resource_name,
        region_id, tags, vendor, invoice_number, activity, billing_currency, fx_rate,
        reporting_currency,
        pricing_unit, consumed_unit, sku_price_id,
        commitment_discount_id, commitment_discount_category, commitment_discount_type,
        commitment_discount_status
    from core.line_items
    where not is_superseded
),
people_rows as (select * from core.people_cost_rows),
settings as (
    select
        coalesce(from_json(max(value) filter (key = 'redact_tag_keys'), '["VARCHAR"]'), [])
            as redact_tag_keys,
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}' as email_pattern
    from config.settings
),
-- Each distinct tag set is redacted once (millions of lines share a few thousand tag sets):
-- every value whose key names a person, or that holds an e-mail address, reads '(redacted)'.
published_tags as (
    select
        t.tags,
        coalesce(cast(to_json(map_from_entries(list_transform(
            json_keys(t.tags),
            lambda k: struct_pack(
                k := k,
                v := case
                    when list_contains(s.redact_tag_keys, lower(regexp_extract(k, '([^:/]*)$', 1)))
                      or regexp_matches(
                          coalesce(json_extract_string(t.tags, '$."' || replace(k, '"', '\"') || '"'), ''),
                          s.email_pattern)
                    then to_json('(redacted)')
                    else json_extract(t.tags, '$."' || replace(k, '"', '\"') || '"')
                end)))) as varchar), '{}') as published
    from (select distinct tags from line_items where tags is not null) t
    cross join settings s
),

lines as (
    select
        share_id as line_id,
        month,
        leaf,
        stage,
        model_id,
        scenario,
        team,
        rule_id,
        source_system,
        provider,
        billing_account_id,
        sub_account_id,
        service_name as service,
        service_category,
        charge_category,
        charge_class,
        -- only a text with an '@' can hold an e-mail address (the regular expression is the slow part)
        case when contains(charge_description, '@')
             then regexp_replace(charge_description, s.email_pattern, '(redacted)', 'g')
             else charge_description end as charge_description,
        sku_id,
        resource_id,
        case when contains(resource_name, '@')
             then regexp_replace(resource_name, s.email_pattern, '(redacted)', 'g')
             else resource_name end as resource_name,
        region_id,
        -- what a person needs to write a rule for a line (costledger explain): its tags too,
        -- each value that names a person redacted
        pt.published as tags,
        vendor,
        invoice_number,
        activity,
        cast(null as varchar) as people_grain,
        billing_currency as currency,
        billed_cost_original,
        effective_cost_original,
        fx_rate,
        reporting_currency,
        billed_cost,
        effective_cost,
        cost,
        unallocated_reason,
        split_basis,
        split_weight,
        charge_period_start,
        charge_period_end,
        source_file,
        source_row,
        load_id,
        allocated.list_cost_original,
        allocated.contracted_cost_original,
        allocated.list_cost,
        allocated.contracted_cost,
        allocated.pricing_quantity,
        li.pricing_unit,
        allocated.consumed_quantity,
        li.consumed_unit,
        li.sku_price_id,
        li.commitment_discount_id,
        li.commitment_discount_category,
        li.commitment_discount_type,
        li.commitment_discount_status
    from allocated
    join line_items li using (line_id)
    left join published_tags pt on pt.tags = li.tags
    cross join settings s
),

final as (
    select * from lines
    union all by name
    select * from people_rows
)

select * from final
