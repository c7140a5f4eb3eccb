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
        charge_description,
        sku_id,
        resource_id,
        resource_name,
        region_id,
        -- what a person needs to write a rule for a line (costledger explain): its tags too
        tags,
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
    join line_items using (line_id)
),

final as (
    select * from lines
    union all by name
    select * from people_rows
)

select * from final
