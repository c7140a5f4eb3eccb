-- How fresh the books are, per source system and provider (marts.data_freshness).
with
freshness as (select * from marts.data_freshness),

final as (select * from freshness)

select * from final
order by source_system, provider
