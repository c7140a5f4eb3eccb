-- Every month of owned hardware's cost over the assets' whole lives, in the asset's currency:
-- depreciation (straight line, see staging.stg_asset_schedule), the gain or loss on disposal,
-- and maintenance contracts pro-rated by days like invoices. The ledger books the months it has
-- other cost for, `booked_from` .. `booked_through` (with none, the register's own dates):
-- staging.stg_assets books those; the earlier ones were spent before the ledger began, the later
-- ones are the known future cost (both shown in marts.asset_register).
with
schedule as (select * from staging.stg_asset_schedule),
source as (select * from raw.asset_register),

-- the asset as its latest estimate's row describes it (a disposal is booked against that row)
assets as (
    select distinct on (asset_id)
        asset_id, description, in_service_month, asset_cost, currency, serves, leaf, disposal_date,
        disposal_proceeds, source_file, source_row, load_id
    from schedule
    order by asset_id, estimate_no desc
),

depreciation as (
    select
        s.asset_id, s.source_file, s.source_row, s.load_id, s.currency,
        i.idx,
        cast(a.in_service_month + to_months(i.idx) as date) as month,
        case when i.idx = s.start_idx + s.n_months - 1 then s.to_depreciate - (s.n_months - 1) * s.monthly
             else s.monthly end as amount
    from schedule s
    join assets a using (asset_id),
        unnest(generate_series(s.start_idx, least(s.start_idx + s.n_months, s.next_idx) - 1)) as i(idx)
    where a.disposal_date is null
       or i.idx < date_diff('month', a.in_service_month, cast(date_trunc('month', a.disposal_date) as date))
),

-- net book value at disposal - proceeds: a loss is cost, a gain negative cost
disposals as (
    select
        a.*,
        cast(date_trunc('month', a.disposal_date) as date) as month,
        cast(a.asset_cost - coalesce((select sum(d.amount) from depreciation d where d.asset_id = a.asset_id), 0)
             - a.disposal_proceeds as decimal(38,10)) as amount
    from assets a
    where a.disposal_date is not null
),

maintenance_rows as (
    select
        trim(s.asset_id) as asset_id,
        trim(s.contract_id) as contract_id,
        nullif(trim(s.description), '') as contract_description,
        cast(trim(s.contract_start) as date) as service_start,
        cast(trim(s.contract_end) as date) as service_end,
        cast(trim(s.contract_amount) as decimal(38,10)) as contract_amount,
        upper(trim(s.currency)) as contract_currency,
        s.source_file,
        s.source_row,
        s.load_id
    from source s
    where nullif(trim(s.contract_id), '') is not null
    qualify row_number() over (partition by trim(s.asset_id), trim(s.contract_id)
                               order by s.load_id desc, s.source_file desc, s.source_row desc) = 1
),

maintenance_months as (
    select
        r.*,
        cast(m.month as date) as month,
        greatest(r.service_start, cast(m.month as date)) as part_start,
        least(r.service_end, cast(m.month + interval 1 month - interval 1 day as date)) as part_end,
        date_diff('day', r.service_start, r.service_end) + 1 as total_days
    from maintenance_rows r,
        unnest(generate_series(date_trunc('month', r.service_start), date_trunc('month', r.service_end), interval 1 month)) as m(month)
),

maintenance as (
    select
        *,
        case when row_number() over (partition by source_file, source_row order by month desc) = 1
             then contract_amount - coalesce(sum(share_floor) over (partition by source_file, source_row order by month
                                                                    rows between unbounded preceding and 1 preceding), 0)
             else share_floor end as amount
    from (
        select
            *,
            cast(cast(cast(contract_amount * 10000000000 as hugeint) * (date_diff('day', part_start, part_end) + 1)
                      // total_days as decimal(38,0)) * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as share_floor
        from maintenance_months
    )
),

lines as (
    select asset_id, 'depreciation' as kind, month, amount, currency, source_file, source_row, load_id,
           cast(null as varchar) as contract_id
    from depreciation
    union all
    select asset_id, 'disposal', month, amount, currency, source_file, source_row, load_id, null
    from disposals
    union all
    select asset_id, 'maintenance', month, amount, contract_currency, source_file, source_row, load_id, contract_id
    from maintenance
),

other_months as (
    select min(lo) as first_month, max(hi) as month from (
        select min(month) as lo, max(month) as hi from staging.stg_focus
        union all select min(month), max(month) from staging.stg_invoices
        union all select min(month), max(month) from staging.stg_timesheets
    )
),

register_months as (
    select (select min(in_service_month) from schedule) as first_month, max(m) as month from (
        select max(in_service_month) as m from schedule
        union all select max(effective_month) from schedule
        union all select max(cast(date_trunc('month', disposal_date) as date)) from schedule
        union all select max(cast(date_trunc('month', service_end) as date)) from maintenance_rows
    )
),

final as (
    select
        l.*,
        coalesce(o.first_month, r.first_month) as booked_from,
        coalesce(o.month, r.month) as booked_through,
        l.month between coalesce(o.first_month, r.first_month) and coalesce(o.month, r.month) as is_booked
    from lines l
    cross join other_months o
    cross join register_months r
)

select * from final
