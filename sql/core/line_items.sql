-- The unified line item converted to the reporting currency at the rate in force on the
-- charge date (the latest rate on or before it), directly or through a configured pivot
-- currency; `fx_path` records the route (sql/staging/stg_fx_rates.sql). A missing rate leaves
-- fx_rate NULL here; the transform step refuses to go on and names the currency.
with
-- read twice (the rate days, the lines) and not materialized: DuckDB would otherwise keep every
-- wide line in a temporary result (at 5M lines it spilled 3.4 GB and took half the statement's
-- CPU); the rate days read only two columns of the staging views
line_items as not materialized (select * from core.line_items_unioned),
fx_rates as (select * from staging.stg_fx_rates),
settings as (select value as reporting_currency from config.settings where key = 'reporting_currency'),
key_fields as (select * from config.rule_fields),

to_reporting as (
    select f.* from fx_rates f, settings s where f.to_currency = s.reporting_currency
),

-- the rate for each (currency, day) the lines need, found once per pair rather than once per line:
-- an asof join sorts both its sides, and a month of lines has only a few hundred such pairs
line_days as (
    select distinct billing_currency, cast(charge_period_start as date) as charge_date
    from line_items
),

day_rates as (
    select
        d.billing_currency,
        d.charge_date,
        case when d.billing_currency = s.reporting_currency then cast(1 as decimal(38,10))
             else r.rate end as fx_rate,
        case when d.billing_currency <> s.reporting_currency then r.fx_path end as fx_path
    from line_days d
    cross join settings s
    asof left join to_reporting r
        on r.from_currency = d.billing_currency
       and d.charge_date >= r.rate_date
),

converted as (
    select
        l.*,
        s.reporting_currency,
        dr.fx_rate,
        dr.fx_path
    from line_items l
    cross join settings s
    left join day_rates dr
        on dr.billing_currency is not distinct from l.billing_currency
       and dr.charge_date is not distinct from cast(l.charge_period_start as date)
),

final as (
    select
        c.source_file || '#' || c.source_row || '@' || strftime(c.month, '%Y-%m') as line_id,
        c.*,
        -- at rate 1 the amount is its own conversion: rounding the DECIMAL(38,20) product back to
        -- scale 10 costs more than the multiplication, and gives the same value
        case when c.fx_rate = 1 then c.billed_cost_original
             else cast(c.billed_cost_original * c.fx_rate as decimal(38,10)) end as billed_cost,
        case when c.fx_rate = 1 then c.effective_cost_original
             else cast(c.effective_cost_original * c.fx_rate as decimal(38,10)) end as effective_cost,
        case when c.fx_rate = 1 then c.list_cost_original
             else cast(c.list_cost_original * c.fx_rate as decimal(38,10)) end as list_cost,
        case when c.fx_rate = 1 then c.contracted_cost_original
             else cast(c.contracted_cost_original * c.fx_rate as decimal(38,10)) end as contracted_cost,
        -- what the rules look at (config.rule_fields): lines with one key are placed the same way
        md5(concat_ws(chr(31),
            c.source_system,
            case when k.provider then coalesce(c.provider, chr(0)) end,
            case when k.billing_account_id then coalesce(c.billing_account_id, chr(0)) end,
            case when k.sub_account_id then coalesce(c.sub_account_id, chr(0)) end,
            case when k.service_name then coalesce(c.service_name, chr(0)) end,
            case when k.service_category then coalesce(c.service_category, chr(0)) end,
            case when k.sku_id then coalesce(c.sku_id, chr(0)) end,
            case when k.resource_id then coalesce(c.resource_id, chr(0)) end,
            case when k.region_id then coalesce(c.region_id, chr(0)) end,
            case when k.charge_category then coalesce(c.charge_category, chr(0)) end,
            case when k.charge_class then coalesce(c.charge_class, chr(0)) end,
            case when k.vendor then coalesce(c.vendor, chr(0)) end,
            case when k.vendor_kind then coalesce(c.vendor_kind, chr(0)) end,
            case when k.activity then coalesce(c.activity, chr(0)) end,
            case when k.billing_currency then coalesce(c.billing_currency, chr(0)) end,
            case when k.model_hint then coalesce(c.model_hint, chr(0)) end,
            case when k.leaf_hint then coalesce(c.leaf_hint, chr(0)) end,
            case when k.tags then c.tags end
        )) as match_key
    from converted c
    cross join key_fields k
)

select * from final
