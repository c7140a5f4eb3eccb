-- Every line item is allocated exactly once (zero rows = healthy): the shares of a split line
-- sum to the line, to the cent, for both cost bases; no line is dropped by the rules.
-- Lines a later revision superseded are kept in core for reconciliation, never allocated.
-- The offending rows are shown in audit.quality_results, which is published: a time line's
-- cost (a person's rate times hours) is shown as NULL; its file and line find it.
with
line_items as (select * from core.line_items where not is_superseded),
allocated as (select * from core.allocated_line_items),
shares as (
    select
        source_file,
        source_row,
        month,
        count(*) as n_shares,
        bool_or(source_system = 'timesheet') as is_people,
        sum(billed_cost) as billed_cost,
        sum(effective_cost) as effective_cost
    from allocated
    group by source_file, source_row, month
),
lines as (
    select
        source_file,
        source_row,
        month,
        bool_or(source_system = 'timesheet') as is_people,
        sum(billed_cost) as billed_cost,
        sum(effective_cost) as effective_cost
    from line_items
    group by source_file, source_row, month
),
final as (
    select
        coalesce(l.source_file, s.source_file) as source_file,
        coalesce(l.source_row, s.source_row) as source_row,
        coalesce(l.month, s.month) as month,
        case when coalesce(l.is_people, s.is_people) then null else l.effective_cost end as line_effective_cost,
        case when coalesce(l.is_people, s.is_people) then null else s.effective_cost end as allocated_effective_cost,
        coalesce(s.n_shares, 0) as n_shares
    from lines l
    full outer join shares s using (source_file, source_row, month)
    where s.source_file is null
       or l.source_file is null
       or round(l.billed_cost - s.billed_cost, 2) <> 0
       or round(l.effective_cost - s.effective_cost, 2) <> 0
)
select * from final
order by source_file, source_row, month
