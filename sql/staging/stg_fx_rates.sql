-- Currency rates as given, plus the inverse of every pair whose inverse is not given.
-- The inverse is exact to 10 decimals (integer division, rounded down).
with
source as (select * from raw.fx_rates),

given as (
    select
        cast(trim(rate_date) as date) as rate_date,
        upper(trim(from_currency)) as from_currency,
        upper(trim(to_currency)) as to_currency,
        cast(trim(rate) as decimal(38,10)) as rate,
        false as is_inverse,
        source_file,
        source_row
    from source
),

-- a pair given twice for the same date: the later file wins
deduplicated as (
    select * from given
    qualify row_number() over (partition by rate_date, from_currency, to_currency order by source_file desc, source_row desc) = 1
),

inverse as (
    select
        d.rate_date,
        d.to_currency as from_currency,
        d.from_currency as to_currency,
        cast(cast(cast(100000000000000000000 as hugeint) // cast(d.rate * 10000000000 as hugeint) as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as rate,
        true as is_inverse,
        d.source_file,
        d.source_row
    from deduplicated d
    where not exists (
        select 1 from deduplicated g
        where g.from_currency = d.to_currency and g.to_currency = d.from_currency
    )
),

final as (
    select * from deduplicated
    union all
    select * from inverse
)

select * from final
