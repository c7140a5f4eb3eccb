-- People cost as published: one row per group of at least `privacy.min_people_per_row` people,
-- as decided by sql/core/people_cost_cells.merge.sql (docs/privacy.md), in the columns of
-- marts.cost_line_items: line_id 'people/<group key>', people_grain naming the group's level, no
-- pseudonym, hours, rate or source row. A dimension the group's lines do not share reads
-- '(several)'; a group merged across leaves sits on the leaf 'people_merged'. A table (small: one
-- row per group) so that the published line items and the aggregates (core.ledger_lines) read it
-- without grouping the time lines again.
with
people_lines as (select * from core.people_cost_lines),
people_cells as (select * from core.people_cost_cells),
settings as (
    select
        max(value) filter (key = 'several') as several,
        max(value) filter (key = 'people_merged') as people_merged
    from config.settings
),

people as (
    select l.*, c.row_id, c.level
    from people_lines l
    join people_cells c on c.cell_id = l.g1
),

-- one row per published group; a value all its lines share is kept, any other reads '(several)'
final as (
    select
        'people/' || p.row_id as line_id,
        any_value(p.month) as month,
        case when any_value(p.level) = 4 then s.people_merged else any_value(p.leaf) end as leaf,
        case when any_value(p.level) = 4 then s.people_merged else any_value(p.stage) end as stage,
        case when count(distinct coalesce(p.model_id, chr(0))) = 1 then any_value(p.model_id) else s.several end
            as model_id,
        case when count(distinct coalesce(p.scenario, chr(0))) = 1 then any_value(p.scenario) else s.several end
            as scenario,
        case when count(distinct coalesce(p.team, chr(0))) = 1 then any_value(p.team) else s.several end as team,
        case when count(distinct coalesce(p.rule_id, chr(0))) = 1 then any_value(p.rule_id) else s.several end
            as rule_id,
        'timesheet' as source_system,
        'internal' as provider,
        case when count(distinct p.service_name) = 1 then any_value(p.service_name)
             else 'people time: ' || s.several end as service,
        'People' as service_category,
        'Usage' as charge_category,
        cast(null as varchar) as billing_account_id,
        cast(null as varchar) as sub_account_id,
        cast(null as varchar) as charge_class,
        cast(null as varchar) as charge_description,
        cast(null as varchar) as sku_id,
        cast(null as varchar) as resource_id,
        cast(null as varchar) as resource_name,
        cast(null as varchar) as region_id,
        '{}' as tags,
        cast(null as varchar) as vendor,
        cast(null as varchar) as invoice_number,
        case when count(distinct p.activity) = 1 then any_value(p.activity) else s.several end as activity,
        case any_value(p.level)
            when 1 then 'activity_team'
            when 2 then 'model'
            when 3 then 'leaf'
            when 4 then 'month'
        end as people_grain,
        case when count(distinct p.billing_currency) = 1 then any_value(p.billing_currency) else s.several end
            as currency,
        -- amounts in the original currency add up only within one currency
        case when count(distinct p.billing_currency) = 1 then sum(p.billed_cost_original) end as billed_cost_original,
        case when count(distinct p.billing_currency) = 1 then sum(p.effective_cost_original) end
            as effective_cost_original,
        -- a month of daily FX rates has no single rate
        case when count(distinct p.fx_rate) = 1 then any_value(p.fx_rate) end as fx_rate,
        any_value(p.reporting_currency) as reporting_currency,
        sum(p.billed_cost) as billed_cost,
        sum(p.effective_cost) as effective_cost,
        sum(p.cost) as cost,
        case when count(distinct coalesce(p.unallocated_reason, chr(0))) = 1 then any_value(p.unallocated_reason)
             else s.several end as unallocated_reason,
        cast(null as varchar) as split_basis,
        cast(null as varchar) as split_weight,
        cast(any_value(p.month) as timestamp) as charge_period_start,
        cast(any_value(p.month) + interval 1 month as timestamp) as charge_period_end,
        case when count(distinct p.source_file) = 1 then any_value(p.source_file) end as source_file,
        cast(null as bigint) as source_row,
        case when count(distinct p.load_id) = 1 then any_value(p.load_id) end as load_id
    from people p
    cross join settings s
    group by p.row_id, s.several, s.people_merged
)

select * from final
