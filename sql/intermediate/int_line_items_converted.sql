-- The unified line item converted to the reporting currency at the rate in force on the
-- charge date (the latest rate on or before it). A missing rate leaves fx_rate NULL here;
-- the transform step refuses to go on and names the currency.
with
line_items as (select * from core.int_line_items_unioned),
fx_rates as (select * from staging.stg_fx_rates),
settings as (select value as reporting_currency from config.settings where key = 'reporting_currency'),

to_reporting as (
    select f.* from fx_rates f, settings s where f.to_currency = s.reporting_currency
),

converted as (
    select
        l.*,
        s.reporting_currency,
        case when l.billing_currency = s.reporting_currency then cast(1 as decimal(38,10))
             else r.rate end as fx_rate
    from line_items l
    cross join settings s
    asof left join to_reporting r
        on r.from_currency = l.billing_currency
       and cast(l.charge_period_start as date) >= r.rate_date
),

final as (
    select
        source_file || '#' || source_row || '@' || strftime(month, '%Y-%m') as line_id,
        *,
        cast(billed_cost_original * fx_rate as decimal(38,10)) as billed_cost,
        cast(effective_cost_original * fx_rate as decimal(38,10)) as effective_cost,
        -- what the rules can see of a line: lines with one key are placed the same way
        md5(concat_ws(chr(31),
            source_system, coalesce(provider, chr(0)), coalesce(billing_account_id, chr(0)),
            coalesce(sub_account_id, chr(0)), coalesce(service_name, chr(0)), coalesce(service_category, chr(0)),
            coalesce(sku_id, chr(0)), coalesce(resource_id, chr(0)), coalesce(region_id, chr(0)),
            coalesce(charge_category, chr(0)), coalesce(charge_class, chr(0)), coalesce(vendor, chr(0)),
            coalesce(vendor_kind, chr(0)), coalesce(activity, chr(0)), coalesce(billing_currency, chr(0)),
            coalesce(model_hint, chr(0)), coalesce(leaf_hint, chr(0)), tags
        )) as match_key
    from converted
)

select * from final
