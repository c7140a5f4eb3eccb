-- The depreciation schedule of owned hardware: one row per asset and estimate (its first
-- useful life and salvage, then every later `effective_month` row of landing/assets/ that
-- changes them). Each estimate spreads what is left to depreciate at its start over the months
-- left of its life: `monthly` cut to the cent, the estimate's last month taking the remainder
-- (sql/staging/stg_assets.sql books the months). A later file restating the same
-- (asset, effective month) replaces it.
with recursive
source as (select * from raw.asset_register),
model_aliases as (select * from config.model_aliases),

register_rows as (
    select
        trim(s.asset_id) as asset_id,
        nullif(trim(s.description), '') as description,
        cast(trim(s.in_service_date) as date) as in_service_date,
        cast(date_trunc('month', cast(trim(s.in_service_date) as date)) as date) as in_service_month,
        cast(trim(s.cost) as decimal(38,10)) as asset_cost,
        upper(trim(s.currency)) as currency,
        cast(trim(s.useful_life_months) as integer) as life,
        coalesce(cast(nullif(trim(s.salvage_value), '') as decimal(38,10)), 0) as salvage,
        lower(trim(s.serves)) as serves,
        lower(trim(s.leaf)) as leaf,
        cast(nullif(trim(s.effective_month), '') || '-01' as date) as effective_month,
        cast(nullif(trim(s.disposal_date), '') as date) as disposal_date,
        coalesce(cast(nullif(trim(s.disposal_proceeds), '') as decimal(38,10)), 0) as disposal_proceeds,
        s.source_file,
        s.source_row,
        s.load_id
    from source s
    where nullif(trim(s.contract_id), '') is null
),

in_force as (
    select
        *,
        greatest(coalesce(effective_month, in_service_month), in_service_month) as segment_month
    from register_rows
    qualify row_number() over (
        partition by asset_id, greatest(coalesce(effective_month, in_service_month), in_service_month)
        order by load_id desc, source_file desc, source_row desc) = 1
),

-- the asset as its latest estimate describes it
assets as (
    select
        asset_id,
        arg_max(description, segment_month) as description,
        arg_max(in_service_month, segment_month) as in_service_month,
        arg_max(asset_cost, segment_month) as asset_cost,
        arg_max(currency, segment_month) as currency,
        arg_max(serves, segment_month) as serves,
        arg_max(leaf, segment_month) as leaf,
        arg_max(disposal_date, segment_month) as disposal_date,
        arg_max(disposal_proceeds, segment_month) as disposal_proceeds,
        arg_max(source_file, segment_month) as source_file,
        arg_max(source_row, segment_month) as source_row,
        arg_max(load_id, segment_month) as load_id
    from in_force
    group by asset_id
),

segments as (
    select
        f.asset_id,
        f.life,
        f.salvage,
        f.source_file,
        f.source_row,
        f.load_id,
        row_number() over w as seg_no,
        -- the first estimate starts in the in-service month whatever its effective month says
        case when row_number() over w = 1 then 0
             else cast(date_diff('month', a.in_service_month, f.segment_month) as integer) end as start_idx,
        coalesce(cast(date_diff('month', a.in_service_month, lead(f.segment_month) over w) as integer), 2147483647)
            as next_idx,
        a.asset_cost
    from in_force f
    join assets a using (asset_id)
    window w as (partition by f.asset_id order by f.segment_month)
),

-- what is left to depreciate at the start of each estimate, and over how many months
schedule (asset_id, seg_no, start_idx, next_idx, n_months, acc_start, remaining, monthly,
          source_file, source_row, load_id) as (
    select
        asset_id, seg_no, start_idx, next_idx,
        greatest(life - start_idx, 1),
        cast(0 as decimal(38,10)),
        cast(asset_cost - salvage as decimal(38,10)),
        cast(cast(cast(floor((asset_cost - salvage) * 100) as hugeint) // greatest(life - start_idx, 1)
             as decimal(38,0)) * cast(0.01 as decimal(3,2)) as decimal(38,10)),
        source_file, source_row, load_id
    from segments
    where seg_no = 1
    union all
    select
        n.asset_id, n.seg_no, n.start_idx, n.next_idx,
        greatest(n.life - n.start_idx, 1),
        b.acc,
        cast(n.asset_cost - n.salvage - b.acc as decimal(38,10)),
        cast(cast(cast(floor((n.asset_cost - n.salvage - b.acc) * 100) as hugeint) // greatest(n.life - n.start_idx, 1)
             as decimal(38,0)) * cast(0.01 as decimal(3,2)) as decimal(38,10)),
        n.source_file, n.source_row, n.load_id
    from schedule p
    join segments n on n.asset_id = p.asset_id and n.seg_no = p.seg_no + 1
    cross join lateral (
        -- what the earlier estimates booked before this one took over
        select cast(p.acc_start + case when n.start_idx >= p.start_idx + p.n_months then p.remaining
                                       else (n.start_idx - p.start_idx) * p.monthly end as decimal(38,10)) as acc
    ) b
),

final as (
    select
        s.asset_id,
        s.seg_no as estimate_no,
        cast(a.in_service_month + to_months(s.start_idx) as date) as effective_month,
        g.life as useful_life_months,
        lag(g.life) over w as previous_useful_life_months,
        g.salvage as salvage_value,
        lag(g.salvage) over w as previous_salvage_value,
        s.start_idx,
        s.next_idx,
        s.n_months,
        s.acc_start as depreciated_before,
        s.remaining as to_depreciate,
        s.monthly,
        a.description,
        a.in_service_month,
        a.asset_cost,
        a.currency,
        a.serves,
        a.leaf,
        a.disposal_date,
        a.disposal_proceeds,
        s.source_file,
        s.source_row,
        s.load_id
    from schedule s
    join segments g using (asset_id, seg_no)
    join assets a using (asset_id)
    window w as (partition by s.asset_id order by s.seg_no)
)

select * from final
