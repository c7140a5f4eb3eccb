-- The finest groups of people cost (g1 cells, core/people_cost_lines.sql), before any is
-- published: every cell starts pending. people_cost_cells.merge.sql then runs once per level,
-- 1 to 4, and decides which published row each cell ends in (docs/privacy.md).
with
lines as (select * from core.people_cost_lines),

final as (
    select
        g1 as cell_id,
        g1,
        any_value(g2) as g2,
        any_value(g3) as g3,
        any_value(g4) as g4,
        sum(cost) as cost,
        0 as level,                             -- the level the cell's row was published at
        cast(null as varchar) as row_id,        -- the published row (a g1..g4 key), once decided
        true as pending,
        false as below_threshold               -- published at the top level without passing
    from lines
    group by g1
)

select * from final
