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
-- the line's own columns, joined back to its shares here (core keeps only keys and allocation)
line_items as (
    select
        line_id, provider, billing_account_id, sub_account_id, service_name, service_category,
        charge_category, charge_class, charge_description, sku_id, resource_id, resource_name,
        region_id, tags, vendor, invoice_number, activity, billing_currency, fx_rate,
        reporting_currency, charge_period_start, charge_period_end
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
        regexp_replace(charge_description, s.email_pattern, '(redacted)', 'g') as charge_description,
        sku_id,
        resource_id,
        regexp_replace(resource_name, s.email_pattern, '(redacted)', 'g') as resource_name,
        region_id,
        -- what a person needs to write a rule for a line (costledger explain): its tags too,
        -- each value that names a person redacted
        case when li.tags is not null then coalesce(cast(to_json(map_from_entries(list_transform(
            json_keys(li.tags),
            lambda k: struct_pack(
                k := k,
                v := case
                    when list_contains(s.redact_tag_keys, lower(regexp_extract(k, '([^:/]*)$', 1)))
                      or regexp_matches(
                          coalesce(json_extract_string(li.tags, '$."' || replace(k, '"', '\"') || '"'), ''),
                          s.email_pattern)
                    then to_json('(redacted)')
                    else json_extract(li.tags, '$."' || replace(k, '"', '\"') || '"')
                end)))) as varchar), '{}') end as tags,
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
        load_id
    from allocated
    join line_items li using (line_id)
    cross join settings s
),

final as (
    select * from lines
    union all by name
    select * from people_rows
)

select * from final
