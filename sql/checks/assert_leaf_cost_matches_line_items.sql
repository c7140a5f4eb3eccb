-- The leaf mart holds exactly the allocated lines it summarises (zero rows = healthy):
-- per month and leaf, marts.monthly_leaf_cost.cost = the configured cost basis summed over
-- the ledger's rows (core.ledger_lines: the rows of marts.cost_line_items without the wide
-- columns publish joins back), to the cent.
with
leaf_cost as (select * from marts.monthly_leaf_cost),
cost_line_items as (select * from core.ledger_lines),
settings as (select value as cost_basis from config.settings where key = 'cost_basis'),
from_lines as (
    select
        c.month,
        c.leaf,
        sum(case when s.cost_basis = 'billed' then c.billed_cost else c.effective_cost end) as cost
    from cost_line_items c
    cross join settings s
    group by c.month, c.leaf
),
from_mart as (
    select
        month,
        leaf,
        sum(cost) as cost
    from leaf_cost
    group by month, leaf
),
final as (
    select
        coalesce(m.month, l.month) as month,
        coalesce(m.leaf, l.leaf) as leaf,
        m.cost as mart_cost,
        l.cost as line_items_cost
    from from_mart m
    full outer join from_lines l using (month, leaf)
    where round(coalesce(m.cost, 0) - coalesce(l.cost, 0), 2) <> 0
)
select * from final
order by month, leaf
