-- People cost is published whole (zero rows = healthy): per month and published leaf, the
-- people rows of marts.cost_line_items (core.people_cost_rows, which it copies) add up to the
-- allocated time lines they stand for (core.allocated_line_items), to the cent, for both cost
-- bases. Time of a leaf-month merged across leaves (docs/privacy.md) is compared on the
-- 'people_merged' leaf. A time line left out of the groups, or counted twice, shows up here.
with
time_lines as (select * from core.allocated_line_items where source_system = 'timesheet'),
people_lines as (select * from core.people_cost_lines),
people_cells as (select * from core.people_cost_cells),
published as (select * from core.people_cost_rows),
settings as (select value as people_merged from config.settings where key = 'people_merged'),

line_sums as (
    select
        t.month,
        case when l.share_id is null then 'no group: ' || t.leaf
             when c.level = 4 then s.people_merged
             else t.leaf end as leaf,
        sum(t.billed_cost) as billed_cost,
        sum(t.effective_cost) as effective_cost
    from time_lines t
    cross join settings s
    left join people_lines l on l.share_id = t.share_id
    left join people_cells c on c.cell_id = l.g1
    group by all
),

published_sums as (
    select month, leaf, sum(billed_cost) as billed_cost, sum(effective_cost) as effective_cost
    from published
    group by all
),

final as (
    select
        coalesce(l.month, p.month) as month,
        coalesce(l.leaf, p.leaf) as leaf,
        round(coalesce(p.effective_cost, 0) - coalesce(l.effective_cost, 0), 2) as published_minus_lines
    from line_sums l
    full outer join published_sums p on p.month = l.month and p.leaf = l.leaf
    where round(coalesce(p.effective_cost, 0) - coalesce(l.effective_cost, 0), 2) <> 0
       or round(coalesce(p.billed_cost, 0) - coalesce(l.billed_cost, 0), 2) <> 0
)

select * from final
order by month, leaf
