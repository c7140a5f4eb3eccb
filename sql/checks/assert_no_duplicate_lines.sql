-- No line counted twice (zero rows = healthy): one core line item per source line and month.
-- A file read twice, a revision not superseded, or a join that fans out shows up here.
with
line_items as (select * from core.line_items),
final as (
    select
        source_file,
        source_row,
        month,
        count(*) as copies
    from line_items
    group by source_file, source_row, month
    having count(*) > 1
)
select * from final
order by source_file, source_row, month
