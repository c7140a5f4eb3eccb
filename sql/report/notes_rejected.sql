-- Rejected rows per file and currency, with the cost they carried, for files that put cost into
-- the month or put none at all (rates, budgets). Parameters: $month (date).
with
rejected as (select * from audit.rejected_rows),
line_items as (select * from marts.cost_line_items),

relevant as (
    select * from rejected
    where source_file in (select source_file from line_items where month = $month)
       or source_file not in (select source_file from line_items where source_file is not null)
),

final as (
    select source_file, currency, count(*) as n, sum(cost) as cost
    from relevant
    group by all
)

select * from final
order by source_file, currency nulls last
