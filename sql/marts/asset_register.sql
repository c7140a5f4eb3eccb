-- Owned hardware: one row per asset and estimate (its first useful life, then each change of
-- useful life or salvage from its effective month on), with what the asset has booked in the
-- reporting currency: depreciation, maintenance and the gain or loss on disposal (a gain is
-- negative); in its own currency, what its whole life depreciates and what is still to come
-- (months after the ledger's latest) or spent before the ledger began. `is_change` marks a changed estimate, which the report lists.
with
schedule as (select * from staging.stg_asset_schedule),
asset_months as (select * from staging.stg_asset_months),
line_items as (select line_id, resource_id, sku_id from core.line_items where source_system = 'asset'),
-- the lean allocation carries keys; the asset id and the kind of booking come back from the line
allocated as (
    select a.*, li.resource_id, li.sku_id
    from core.allocated_line_items a
    join line_items li using (line_id)
    where a.source_system = 'asset'
),

-- in the asset's own currency, over its whole life: what is booked and what is still to come
over_life as (
    select
        asset_id,
        sum(amount) filter (kind = 'depreciation') as depreciation_over_life,
        coalesce(sum(amount) filter (kind = 'depreciation' and month > booked_through), 0) as depreciation_to_come,
        coalesce(sum(amount) filter (kind = 'depreciation' and month < booked_from), 0)
            as depreciation_before_ledger,
        max(month) filter (kind = 'depreciation') as last_depreciation_month_of_life,
        any_value(booked_from) as booked_from,
        any_value(booked_through) as booked_through
    from asset_months
    group by asset_id
),

booked as (
    select
        resource_id as asset_id,
        coalesce(sum(cost) filter (sku_id = 'depreciation'), 0) as depreciation_booked,
        coalesce(sum(cost) filter (sku_id = 'maintenance'), 0) as maintenance_booked,
        coalesce(sum(cost) filter (sku_id = 'disposal'), 0) as disposal_gain_loss,
        max(month) filter (sku_id = 'depreciation') as last_depreciation_month
    from allocated
    group by resource_id
),

final as (
    select
        s.asset_id,
        s.estimate_no,
        s.description,
        s.serves,
        s.leaf,
        s.in_service_month,
        s.effective_month,
        s.estimate_no > 1 as is_change,
        s.useful_life_months,
        s.previous_useful_life_months,
        s.salvage_value,
        s.previous_salvage_value,
        s.n_months as months_left_at_effective_month,
        s.currency,
        s.asset_cost,
        s.depreciated_before,
        s.to_depreciate,
        s.monthly as monthly_depreciation,
        s.disposal_date,
        s.disposal_proceeds,
        cast(coalesce(b.depreciation_booked, 0) as decimal(38,10)) as depreciation_booked,
        cast(coalesce(b.maintenance_booked, 0) as decimal(38,10)) as maintenance_booked,
        cast(coalesce(b.disposal_gain_loss, 0) as decimal(38,10)) as disposal_gain_loss,
        b.last_depreciation_month,
        cast(o.depreciation_over_life as decimal(38,10)) as depreciation_over_life,
        cast(o.depreciation_to_come as decimal(38,10)) as depreciation_to_come,
        cast(o.depreciation_before_ledger as decimal(38,10)) as depreciation_before_ledger,
        o.last_depreciation_month_of_life,
        o.booked_from,
        o.booked_through
    from schedule s
    left join booked b using (asset_id)
    left join over_life o using (asset_id)
)

select * from final
order by asset_id, estimate_no
