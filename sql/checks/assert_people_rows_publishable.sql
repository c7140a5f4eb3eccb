-- Every published people row passes the publication rule (zero rows = healthy; docs/privacy.md):
-- at least privacy.min_people_per_row distinct people, and no hourly rate among its lines that
-- divides all the others. Rows the rule could not make pass even at the top level are flagged
-- below_threshold and reported by assert_people_rows_above_threshold.sql (a warning) instead.
-- Names the row, never a person, a count of hours or a rate.
with
people_lines as (select * from core.people_cost_lines),
people_cells as (select * from core.people_cost_cells),
settings as (select cast(value as integer) as k from config.settings where key = 'min_people_per_row'),

rows as (
    select
        c.row_id,
        bool_or(c.below_threshold) as below_threshold,
        bool_or(c.pending) as pending,
        count(distinct l.employee_key) as people,
        list_distinct(list(l.rate_units) filter (where l.rate_units > 0)) as rates
    from people_cells c
    join people_lines l on l.g1 = c.cell_id
    group by c.row_id
),

final as (
    select
        'people/' || coalesce(r.row_id, '?') as line_id,
        case
            when r.pending or r.row_id is null then 'never assigned to a published row'
            when r.people < s.k then 'fewer than ' || s.k || ' people'
            else 'one hourly rate divides all the others'
        end as problem
    from rows r
    cross join settings s
    where not r.below_threshold
      and (r.pending or r.row_id is null or r.people < s.k
           or list_reduce(r.rates, lambda a, b: gcd(a, b), cast(0 as hugeint)) >= coalesce(list_min(r.rates), 1))
)

select * from final
order by line_id
