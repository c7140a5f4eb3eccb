-- The month's tie-out, per source system: the cost read from its files (audit.reconciliation,
-- superseded revisions taken out) against where the published line items put it:
-- read = C_total + unallocated + out of scope, to the cent (difference 0).
-- Parameters: $month (date).
with
reconciliation as (select * from audit.reconciliation where month = $month),
line_items as (select * from marts.cost_line_items where month = $month),

read_cost as (
    select source_system, sum(input_cost - coalesce(superseded_cost, 0)) as read_cost
    from reconciliation
    group by source_system
),

placed as (
    select
        source_system,
        coalesce(sum(cost) filter (leaf not in ('unallocated', 'out_of_scope')), 0) as c_total,
        coalesce(sum(cost) filter (leaf = 'unallocated'), 0) as unallocated,
        coalesce(sum(cost) filter (leaf = 'out_of_scope'), 0) as out_of_scope
    from line_items
    group by source_system
),

final as (
    select
        coalesce(r.source_system, p.source_system) as source_system,
        cast(coalesce(r.read_cost, 0) as decimal(38,10)) as read_cost,
        cast(coalesce(p.c_total, 0) as decimal(38,10)) as c_total,
        cast(coalesce(p.unallocated, 0) as decimal(38,10)) as unallocated,
        cast(coalesce(p.out_of_scope, 0) as decimal(38,10)) as out_of_scope,
        cast(coalesce(r.read_cost, 0) - coalesce(p.c_total, 0) - coalesce(p.unallocated, 0)
             - coalesce(p.out_of_scope, 0) as decimal(38,10)) as difference
    from read_cost r
    full outer join placed p using (source_system)
)

select * from final
order by source_system
