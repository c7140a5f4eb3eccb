-- Every vendor document books what it prints (zero rows = healthy): the sum of its lines in raw
-- equals its printed total (less a printed tax its profile leaves out), to the cent. The reader
-- refuses a document whose lines do not add up; this guards what reached the books since.
with
reconciliation as (select * from audit.reconciliation),
offending as (
    select distinct source_file, invoice_number, printed_total, invoice_lines_booked, printed_total_difference
    from reconciliation
    where round(printed_total_difference, 2) <> 0
),
final as (select * from offending)
select * from final
