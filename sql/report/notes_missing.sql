-- Booked files gone from landing/ that bear on the month (they put cost into it, or none at all:
-- rates, budgets). Parameters: $month (date).
with
files as (select * from audit.files),
line_items as (select * from marts.cost_line_items),

final as (
    select source_file from files
    where status = 'missing'
      and (source_file in (select source_file from line_items where month = $month)
           or source_file not in (select source_file from line_items where source_file is not null))
)

select * from final
order by source_file
