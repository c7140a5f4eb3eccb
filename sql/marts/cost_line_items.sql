-- One row per allocated line (a split line is one row per share): the ledger's detail.
-- Employees appear only as their keyed pseudonym; hours are not published.
with
allocated as (select * from core.allocated_line_items),

final as (
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
        service_name as service,
        service_category,
        charge_category,
        charge_class,
        sku_id,
        resource_id,
        region_id,
        vendor,
        invoice_number,
        activity,
        employee_key,
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
)

select * from final
