-- The ledger's rows as the aggregates need them, lean: the rows of marts.cost_line_items (one per
-- allocated share of a line; people cost one per published group) with their keys, dimensions,
-- cost and the few line columns the marts group by (provider, service, charge category and
-- period), and none of the line's wide columns (sku, resource, tags, ...). The marts and checks
-- that sum the ledger read this view; only publish joins all the wide columns back
-- (marts.cost_line_items), and the anomalies' driver lines their resource id.
with
allocated as (select * from core.allocated_line_items where source_system is distinct from 'timesheet'),
people_rows as (select * from core.people_cost_rows),

final as (
    select
        share_id as line_id,
        line_id as item_id,
        month, leaf, stage, model_id, scenario, team, rule_id, source_system, unallocated_reason,
        provider, service_name as service, charge_category, charge_period_start, charge_period_end,
        billed_cost, effective_cost, cost, source_file, load_id
    from allocated
    union all
    select
        line_id,
        cast(null as varchar) as item_id,
        month, leaf, stage, model_id, scenario, team, rule_id, source_system, unallocated_reason,
        provider, service, charge_category, charge_period_start, charge_period_end,
        billed_cost, effective_cost, cost, source_file, load_id
    from people_rows
)

select * from final
