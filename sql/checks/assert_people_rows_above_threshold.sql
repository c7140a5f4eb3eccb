-- People rows published below the threshold (zero rows = healthy; a warning, docs/privacy.md):
-- a leaf-month's time that could not be merged into a passing group even at the top level (all
-- the month's time on the nine leaves; the bucket itself for unallocated and out_of_scope), so
-- the row shows the pay of fewer people than privacy.min_people_per_row, or of people whose
-- rates divide each other. Fix the time logs (a project code no rule places, a leaf only one
-- person books) or accept it knowingly. Names the row, never a person, hours or a rate.
with
people_cells as (select * from core.people_cost_cells),

final as (
    select distinct 'people/' || row_id as line_id
    from people_cells
    where below_threshold
)

select * from final
order by line_id
