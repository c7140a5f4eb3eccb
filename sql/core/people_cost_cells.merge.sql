-- One level of the publication rule for people cost (docs/privacy.md), run by
-- pipeline/transform/runner.py for $level = 1, 2, 3, 4 over core.people_cost_cells (its
-- contract, people_cost_cells.yml, declares the passes).
--
-- A set of time lines may be published as one row when it passes the rule:
--   * at least k distinct people (k = privacy.min_people_per_row, never below 3), and
--   * no hourly rate in it divides all its others (the GCD of its rates is below the smallest),
--     so that the GCD of the row's costs, whatever the hours, is not anyone's rate.
-- At each level, the cells still pending inside one group of that level (g1..g4) are pooled:
--   * a pool that passes is published as one row of this level;
--   * one that does not takes in the group's rows already published, cheapest first, until it
--     passes; those rows are published inside it (complementary suppression: a pool that fails
--     is never the difference between a published total and published rows);
--   * one that never passes stays pending and goes up a level. At the top (the month for the
--     nine leaves; the leaf for unallocated and out_of_scope) it is published anyway and
--     flagged below_threshold: the marts gate warns about it.
with
cells as (select * from core.people_cost_cells),
lines as (select * from core.people_cost_lines),
settings as (select cast(value as integer) as k from config.settings where key = 'min_people_per_row'),

members as (
    select distinct g1 as cell_id, employee_key, rate_units from lines
),

grouped as (
    select
        c.*,
        case $level when 1 then c.g1 when 2 then c.g2 when 3 then c.g3 when 4 then c.g4 end as grp,
        ($level = 4 or ($level = 3 and c.g4 is null)) as is_top
    from cells c
),

pools as (
    select grp, bool_or(is_top) as is_top
    from grouped
    where pending and grp is not null
    group by grp
),

-- rows of the pool's group already published, cheapest first: what the pool may take in
published_rows as (
    select g.grp, g.row_id, sum(g.cost) as cost
    from grouped g
    join pools p using (grp)
    where not g.pending
    group by g.grp, g.row_id
),

ranked as (
    select grp, row_id, row_number() over (partition by grp order by cost, row_id) as rnk
    from published_rows
),

-- attempt n: the pool plus the n cheapest published rows of its group
attempts as (
    select grp, 0 as n from pools
    union all
    select grp, rnk from ranked
),

attempt_members as (
    select a.grp, a.n, m.employee_key, m.rate_units
    from attempts a
    join grouped g on g.grp = a.grp
    left join ranked r on r.grp = g.grp and r.row_id = g.row_id and not g.pending
    join members m on m.cell_id = g.cell_id
    where g.pending or r.rnk <= a.n
),

judged as (
    select
        grp,
        n,
        count(distinct employee_key) as people,
        list_distinct(list(rate_units) filter (where rate_units > 0)) as rates
    from attempt_members
    group by grp, n
),

passing as (
    select j.grp, min(j.n) as n
    from judged j
    cross join settings s
    where j.people >= s.k
      and list_reduce(j.rates, lambda a, b: gcd(a, b), cast(0 as hugeint)) < coalesce(list_min(j.rates), 1)
    group by j.grp
),

decided as (
    select
        g.*,
        p.grp is not null and (g.pending or r.rnk <= p.n) as merged_here,
        g.pending and p.grp is null and coalesce(pl.is_top, false) as forced_here
    from grouped g
    left join pools pl using (grp)
    left join passing p using (grp)
    left join ranked r on r.grp = g.grp and r.row_id = g.row_id and not g.pending
),

final as (
    select
        cell_id,
        g1,
        g2,
        g3,
        g4,
        cost,
        case when merged_here or forced_here then $level else level end as level,
        case when merged_here or forced_here then grp else row_id end as row_id,
        pending and not merged_here and not forced_here as pending,
        below_threshold or forced_here as below_threshold
    from decided
)

select * from final
