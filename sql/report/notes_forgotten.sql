-- Files taken out of the books (`costledger forget`) whose months include this one.
-- Parameters: $month (date).
with
forgotten as (select * from audit.forgotten_files),

final as (
    select * from forgotten
    where first_month is null or $month between first_month and last_month
)

select * from final
order by forgotten_at, source_file
