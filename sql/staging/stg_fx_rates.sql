-- Currency rates as given, plus the inverse of every pair whose inverse is not given, plus the
-- cross rates to the reporting currency through the configured pivot currencies
-- (costledger.yaml `fx: {pivots: [USD]}`) for a currency with no pair to it of its own.
-- The inverse is exact to 10 decimals (integer division, rounded down); a cross rate is the
-- product of its two legs (each direct or inverse, each the one in force on the day), rounded
-- once to 10 decimals. `fx_path` names the route: 'EUR>CNY', 'CNY>USD (inverse)', 'EUR>USD>CNY'.
with
source as (select * from raw.fx_rates),
settings as (
    select
        max(value) filter (key = 'reporting_currency') as reporting_currency,
        -- the pivots in the order they are tried
        coalesce(string_split(nullif(max(value) filter (key = 'fx_pivots'), ''), ','), []) as pivots
    from config.settings
),

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

pairs as (
    select *, from_currency || '>' || to_currency as fx_path from deduplicated
    union all
    select *, from_currency || '>' || to_currency || ' (inverse)' as fx_path from inverse
),

pivots as (
    select unnest(pivots) as pivot_currency, generate_subscripts(pivots, 1) as priority from settings
),

-- currency -> pivot legs; pivot -> reporting currency legs
first_legs as (
    select p.* from pairs p, settings s
    where p.to_currency in (select pivot_currency from pivots) and p.from_currency <> s.reporting_currency
),
second_legs as (
    select p.* from pairs p, settings s
    where p.to_currency = s.reporting_currency and p.from_currency in (select pivot_currency from pivots)
),

-- a currency goes through a pivot only when it has no pair of its own to the reporting
-- currency, and through the first pivot (in config order) that has both legs
routes as (
    select a.from_currency, v.pivot_currency
    from (select distinct from_currency, to_currency from first_legs) a
    join pivots v on v.pivot_currency = a.to_currency
    where exists (select 1 from second_legs b where b.from_currency = v.pivot_currency)
      and not exists (
          select 1 from pairs d, settings s
          where d.from_currency = a.from_currency and d.to_currency = s.reporting_currency
      )
    qualify row_number() over (partition by a.from_currency order by v.priority) = 1
),

-- a cross rate changes whenever either leg does
cross_dates as (
    select r.from_currency, r.pivot_currency, a.rate_date
    from routes r join first_legs a on a.from_currency = r.from_currency and a.to_currency = r.pivot_currency
    union
    select r.from_currency, r.pivot_currency, b.rate_date
    from routes r join second_legs b on b.from_currency = r.pivot_currency
),

crossed as (
    select
        d.rate_date,
        d.from_currency,
        s.reporting_currency as to_currency,
        cast(a.rate * b.rate as decimal(38,10)) as rate,
        false as is_inverse,
        a.source_file,
        a.source_row,
        d.from_currency || '>' || d.pivot_currency || '>' || s.reporting_currency as fx_path
    from cross_dates d
    cross join settings s
    asof join first_legs a
        on a.from_currency = d.from_currency and a.to_currency = d.pivot_currency and d.rate_date >= a.rate_date
    asof join second_legs b
        on b.from_currency = d.pivot_currency and d.rate_date >= b.rate_date
),

final as (
    select * from pairs
    union all
    select * from crossed
)

select * from final
