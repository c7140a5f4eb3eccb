-- Owned hardware (zero rows = healthy): over its whole life (staging.stg_asset_months, booked
-- or still to come) every asset depreciates cost - salvage exactly, in its own currency; a
-- disposed one costs cost - proceeds exactly, depreciation and gain or loss together.
with
schedule as (select * from staging.stg_asset_schedule),
asset_months as (select * from staging.stg_asset_months),

last_estimate as (
    select * from schedule
    qualify row_number() over (partition by asset_id order by estimate_no desc) = 1
),

over_life as (
    select
        asset_id,
        coalesce(sum(amount) filter (kind = 'depreciation'), 0) as depreciation,
        coalesce(sum(amount) filter (kind = 'disposal'), 0) as disposal
    from asset_months
    group by asset_id
),

final as (
    select
        e.asset_id,
        e.asset_cost,
        e.salvage_value,
        e.disposal_proceeds,
        coalesce(o.depreciation, 0) as depreciation,
        coalesce(o.disposal, 0) as disposal
    from last_estimate e
    left join over_life o using (asset_id)
    where case
        when e.disposal_date is not null
            then coalesce(o.depreciation, 0) + coalesce(o.disposal, 0) <> e.asset_cost - e.disposal_proceeds
        else coalesce(o.depreciation, 0) <> e.asset_cost - e.salvage_value
    end
)

select * from final
