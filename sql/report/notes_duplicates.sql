-- Files whose content is booked under another path (never booked twice).
with
files as (select * from audit.files),

final as (
    select source_file, duplicate_of from files where status = 'duplicate'
)

select * from final
order by source_file
