-- Conservation, per source file and month, to the cent (zero rows = healthy):
-- cost read = nine leaves + unallocated + out_of_scope (+ what a later delivery superseded),
-- and rows read + rows rejected = rows in the file.
with
reconciliation as (select * from audit.reconciliation),
final as (
    select *
    from reconciliation
    where round(input_cost - superseded_cost - leaves_cost - unallocated_cost - out_of_scope_cost, 2) <> 0
       or (rows_in_file is not null and rows_read + rows_rejected <> rows_in_file)
)
select * from final
