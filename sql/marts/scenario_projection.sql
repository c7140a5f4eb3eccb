-- What-if strategies (config/scenarios.yaml, config.strategy_changes) projected against the
-- forecast baseline (marts.cost_forecast, kind 'forecast', per model and leaf), month by month
-- over the forecast horizon; docs/planning.md, "What-if".
--   percent          baseline x change x the share of the cell it applies to (a service glob:
--                    that service's share of the cell's last three months; else all of it)
--   commitment       - baseline x cloud share (or the service's share) x coverage x discount
--   labeling_volume  the labeled leaf x change
--   owned_hardware   from start_month: - baseline x cloud share x replaces, + depreciation
--                    (straight line to salvage, cut to the cent, the remainder in the last month
--                    of the life) + maintenance; cash basis: the capex in start_month instead of
--                    the depreciation
-- Rows: each leaf (summed over models; people time is forecast within C_total only) and C_total
-- ('total': its own forecast moved by the changes on the leaves), for 'baseline' and each strategy.
-- On the total rows: the cumulative difference from the baseline (cost and cash basis) and the
-- break-even month: the first month from which the cumulative cash difference stays at or below
-- zero to the horizon's end. Projections are estimates: shares in double, amounts rounded to cents.
with
forecast as (select * from marts.cost_forecast where kind = 'forecast' and level = 'leaf'),
-- the lean ledger, with the service of its rows (a line's, a people group's own)
line_items as (
    select * from core.ledger_lines
    where stage in ('pretrain', 'tuning', 'deploy', 'maintenance')
),
changes as (select * from config.strategy_changes),
leaves as (select * from config.leaves),

recent as (
    select * from line_items where month > (select max(month) from line_items) - interval 3 month
),

cells as (
    select model_id, leaf, sum(cost) as total from recent group by all
),

-- the share of a cell a change acts on
shares as (
    select
        c.strategy_id,
        c.change_no,
        t.model_id,
        t.leaf,
        case
            when c.kind in ('commitment', 'owned_hardware') or c.service_like is not null then
                cast(coalesce(sum(r.cost) filter (
                    (c.service_like is null or r.service ilike c.service_like)
                    and (c.kind not in ('commitment', 'owned_hardware') or r.source_system = 'focus')
                ), 0) as double) / nullif(cast(t.total as double), 0)
            else 1.0
        end as share
    from changes c
    cross join cells t
    left join recent r on r.model_id = t.model_id and r.leaf = t.leaf
    group by c.strategy_id, c.change_no, c.kind, c.service_like, t.model_id, t.leaf, t.total
),

deltas as (
    select
        c.strategy_id,
        f.month,
        f.model_id,
        f.leaf,
        cast(f.point as double) * coalesce(s.share, case when c.kind = 'percent' and c.service_like is null
                                                         then 1.0 else 0.0 end)
            * case c.kind
                when 'percent' then c.change
                when 'commitment' then -c.coverage * c.discount
                when 'labeling_volume' then c.change
                when 'owned_hardware' then case when f.month >= c.start_month then -c.replaces else 0 end
              end as delta
    from changes c
    join forecast f
      on (c.leaf is null or c.leaf = f.leaf or c.kind = 'labeling_volume')
     and (c.model_id is null or c.model_id = f.model_id)
     and (c.kind <> 'labeling_volume' or f.leaf = 'labeled')
    left join shares s
      on s.strategy_id = c.strategy_id and s.change_no = c.change_no
     and s.model_id = f.model_id and s.leaf = f.leaf
),

horizon as (select distinct month, horizon_months from forecast),

owned as (
    select
        c.strategy_id,
        h.month,
        c.model_id,
        c.leaf,
        date_diff('month', c.start_month, h.month) as idx,
        c.life_months,
        cast(c.capex - c.salvage as decimal(38,10)) as depreciable,
        cast(cast(cast(floor((c.capex - c.salvage) * 100) as hugeint) // c.life_months as decimal(38,0))
             * cast(0.01 as decimal(3,2)) as decimal(38,10)) as monthly,
        c.maintenance_per_month,
        case when h.month = c.start_month then c.capex else 0 end as capex
    from changes c
    join horizon h on h.month >= c.start_month and h.month < c.start_month + to_months(c.life_months)
    where c.kind = 'owned_hardware'
),

owned_cost as (
    select
        strategy_id, month, model_id, leaf,
        case when idx = life_months - 1 then depreciable - (life_months - 1) * monthly else monthly end as depreciation,
        maintenance_per_month as maintenance,
        capex
    from owned
),

strategies as (
    select 'baseline' as strategy_id, 'Baseline (forecast)' as strategy_name
    union all
    select distinct strategy_id, strategy_name from changes
),

-- every strategy's cost per model, leaf and month
cell_months as (
    select s.strategy_id, f.month, f.horizon_months, f.model_id, f.leaf, f.point as baseline
    from strategies s cross join forecast f
    union all
    -- an owned server's leaf with no forecast of its own
    select o.strategy_id, o.month, h.horizon_months, o.model_id, o.leaf, cast(0 as decimal(38,10))
    from owned_cost o join horizon h using (month)
    where not exists (select 1 from forecast f where f.month = o.month and f.model_id = o.model_id and f.leaf = o.leaf)
),

projected as (
    select
        cm.strategy_id, cm.month, cm.horizon_months, cm.model_id, cm.leaf, cm.baseline,
        cast(round(coalesce((select sum(d.delta) from deltas d where d.strategy_id = cm.strategy_id
                             and d.month = cm.month and d.model_id = cm.model_id and d.leaf = cm.leaf), 0), 2)
             as decimal(38,10)) as delta,
        coalesce(oc.depreciation, 0) + coalesce(oc.maintenance, 0) as owned_cost,
        coalesce(oc.depreciation, 0) as owned_depreciation,
        coalesce(oc.capex, 0) as capex
    from cell_months cm
    left join owned_cost oc
      on oc.strategy_id = cm.strategy_id and oc.month = cm.month and oc.model_id = cm.model_id and oc.leaf = cm.leaf
),

leaf_rows as (
    select
        p.strategy_id, p.month, any_value(p.horizon_months) as horizon_months, p.leaf,
        sum(p.baseline) as baseline,
        greatest(sum(p.baseline + p.delta + p.owned_cost), 0) as projected,
        sum(p.owned_depreciation) as owned_depreciation,
        sum(p.capex) as capex
    from projected p
    group by p.strategy_id, p.month, p.leaf
),

-- C_total: its own forecast (people time included, which the leaf forecasts leave out),
-- moved by what the strategy changes on the leaves
total_forecast as (select month, point from marts.cost_forecast where kind = 'forecast' and level = 'total'),

total_rows as (
    select l.strategy_id, l.month, any_value(l.horizon_months) as horizon_months, 'total' as leaf,
           any_value(tf.point) as baseline,
           greatest(any_value(tf.point) + sum(l.projected - l.baseline), 0) as projected,
           sum(l.owned_depreciation) as owned_depreciation, sum(l.capex) as capex
    from leaf_rows l join total_forecast tf using (month)
    group by l.strategy_id, l.month
),

totals as (
    select
        *,
        projected - baseline as difference,
        projected - owned_depreciation + capex as projected_cash
    from total_rows
),

cumulative as (
    select
        *,
        sum(difference) over w as cumulative_difference,
        sum(projected_cash - baseline) over w as cumulative_cash_difference
    from totals
    window w as (partition by strategy_id order by month rows between unbounded preceding and current row)
),

break_even as (
    select
        strategy_id,
        min(month) filter (stays_below) as break_even_month
    from (
        select strategy_id, month,
               max(cumulative_cash_difference) over (partition by strategy_id order by month
                   rows between current row and unbounded following) <= 0 as stays_below
        from cumulative
    )
    group by strategy_id
),

final as (
    select
        l.strategy_id, s.strategy_name, l.month, l.horizon_months, 'leaf' as level, l.leaf, lf.stage,
        cast(l.baseline as decimal(38,10)) as baseline,
        cast(l.projected as decimal(38,10)) as projected,
        cast(l.projected - l.baseline as decimal(38,10)) as difference,
        cast(null as decimal(38,10)) as projected_cash,
        cast(null as decimal(38,10)) as capex,
        cast(null as decimal(38,10)) as cumulative_difference,
        cast(null as decimal(38,10)) as cumulative_cash_difference,
        cast(null as date) as break_even_month
    from leaf_rows l
    join strategies s using (strategy_id)
    left join leaves lf on lf.leaf = l.leaf
    union all
    select
        c.strategy_id, s.strategy_name, c.month, c.horizon_months, 'total', null, 'total',
        cast(c.baseline as decimal(38,10)), cast(c.projected as decimal(38,10)), cast(c.difference as decimal(38,10)),
        cast(c.projected_cash as decimal(38,10)), cast(c.capex as decimal(38,10)),
        cast(c.cumulative_difference as decimal(38,10)), cast(c.cumulative_cash_difference as decimal(38,10)),
        case when c.strategy_id <> 'baseline' then b.break_even_month end
    from cumulative c
    join strategies s using (strategy_id)
    left join break_even b using (strategy_id)
)

select * from final
order by strategy_id = 'baseline' desc, strategy_id, level desc, month, leaf
