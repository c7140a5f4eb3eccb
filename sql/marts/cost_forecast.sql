-- Cost forecast per model and leaf, per stage and for C_total, 1..`forecast_horizon_months`
-- months ahead of the ledger's last month, with a prediction interval and the backtest error of
-- the same method on past months (docs/planning.md, "Forecast").
--
-- Method, per series (a month with no cost inside a series counts as zero), fitted on the last
-- `forecast_history_months` months before the forecast's first month:
--   24 months or more: seasonal naive, the same month a year before; interval from the spread
--                      of the year-over-year differences, widening with each year ahead;
--   3 to 23 months:    damped trend: the least-squares line's value at the last month, plus its
--                      monthly slope damped by `forecast_trend_damping` (phi) each month ahead,
--                      slope x (phi + phi^2 + ... + phi^h) -- phi = 1 is the plain linear trend;
--                      interval from the residual standard error, with the usual widening away
--                      from the fitted months (at the damped distance);
--   1 or 2 months:     naive, the last month; interval from the month-to-month differences
--                      (none with one month), widening with the square root of the horizon.
-- The interval is point +- z x standard error, z the normal quantile of `forecast_interval`;
-- forecasts and bounds are cut at zero. Estimates are computed in double and stored as DECIMAL
-- rounded to the cent: they are never booked.
-- Backtests (kind = 'backtest'): each of the last `forecast_backtest_months` months is forecast
-- one month ahead from the months before it only, and compared with what it cost; every
-- forecast row carries its series' mean absolute (percentage) error and interval coverage.
-- The levels are forecast each on their own: the leaves of a stage need not add up to it.
-- People time (time-log lines) is forecast within its stage and C_total only: month-to-month
-- differences of a model's people cost on one leaf can single out one person's pay
-- (docs/privacy.md), so the model-and-leaf series hold the other cost only.
with
line_items as (select * from core.ledger_lines),
budgets as (select * from staging.stg_budgets),
fx_rates as (select * from staging.stg_fx_rates),
settings as (
    select
        cast(max(value) filter (key = 'forecast_horizon_months') as integer) as horizon,
        cast(max(value) filter (key = 'forecast_history_months') as integer) as history,
        cast(max(value) filter (key = 'forecast_interval') as double) as coverage,
        cast(max(value) filter (key = 'forecast_z') as double) as z,
        cast(max(value) filter (key = 'forecast_trend_damping') as double) as phi,
        cast(max(value) filter (key = 'forecast_backtest_months') as integer) as backtests,
        max(value) filter (key = 'people_merged') as people_merged,
        max(value) filter (key = 'reporting_currency') as currency
    from config.settings
),

in_scope as (
    select l.* from line_items l, settings s
    where l.stage in ('pretrain', 'tuning', 'deploy', 'maintenance') or l.leaf = s.people_merged
),

level_cost as (
    select 'leaf' as level, model_id, leaf, stage, month, sum(cost) as cost
    from in_scope
    where stage in ('pretrain', 'tuning', 'deploy', 'maintenance') and source_system <> 'timesheet'
    group by all
    union all
    select 'stage', null, null, stage, month, sum(cost)
    from in_scope where stage in ('pretrain', 'tuning', 'deploy', 'maintenance') group by all
    union all
    select 'total', null, null, 'total', month, sum(cost) from in_scope group by all
),

keyed as (
    select level || '|' || coalesce(model_id, '') || '|' || coalesce(leaf, '') || '|' || stage as cell, *
    from level_cost
),

span as (select max(month) as last_month from in_scope),

cells as (
    select cell, any_value(level) as level, any_value(model_id) as model_id, any_value(leaf) as leaf,
           any_value(stage) as stage, min(month) as first_month
    from keyed group by cell
),

series as (
    select
        c.cell,
        cast(m.month as date) as month,
        date_diff('month', date '2000-01-01', cast(m.month as date)) as t,
        cast(coalesce(k.cost, 0) as double) as y,
        coalesce(k.cost, 0) as cost
    from cells c
    cross join span s,
        unnest(generate_series(c.first_month, s.last_month, interval 1 month)) as m(month)
    left join keyed k on k.cell = c.cell and k.month = cast(m.month as date)
),

origins as (
    select 'forecast' as kind, cast(s.last_month + interval 1 month as date) as origin from span s
    union all
    select 'backtest', cast(o.origin as date)
    from span s cross join settings st,
        unnest(generate_series(s.last_month - to_months(st.backtests - 1), s.last_month, interval 1 month)) as o(origin)
),

fit_input as (
    select
        o.kind, o.origin, s.*,
        s.y - lag(s.y) over (partition by o.kind, o.origin, s.cell order by s.month) as d1,
        s.y - lag(s.y, 12) over (partition by o.kind, o.origin, s.cell order by s.month) as d12
    from origins o
    cross join settings st
    join series s on s.month < o.origin and s.month >= o.origin - to_months(st.history)
),

fits as (
    select
        kind, origin, cell,
        count(*) as n,
        regr_slope(y, t) as slope,
        regr_intercept(y, t) as intercept,
        avg(t) as t_mean,
        regr_sxx(y, t) as sxx,
        -- residual sum of squares of the least-squares line
        greatest(regr_syy(y, t) - coalesce(regr_sxy(y, t) ^ 2 / nullif(regr_sxx(y, t), 0), 0), 0) as sse,
        arg_max(y, month) as last_y,
        max(t) as t_last,
        stddev_samp(d1) as sd_d1,
        stddev_samp(d12) as sd_d12
    from fit_input
    group by all
),

methods as (
    select
        *,
        case when n >= 24 then 'seasonal_naive' when n >= 3 then 'damped_trend' else 'naive' end as method
    from fits
),

targets as (
    select
        m.*,
        h.h,
        -- months of trend ahead: phi + phi^2 + ... + phi^h
        case when st.phi >= 1 then h.h else st.phi * (1 - st.phi ^ h.h) / (1 - st.phi) end as steps,
        cast(m.origin + to_months(h.h - 1) as date) as month,
        date_diff('month', date '2000-01-01', cast(m.origin + to_months(h.h - 1) as date)) as t_target
    from methods m
    cross join settings st,
        unnest(generate_series(1, case when m.kind = 'forecast' then st.horizon else 1 end)) as h(h)
),

raw_forecasts as (
    select
        tg.*,
        case tg.method
            when 'damped_trend' then tg.intercept + tg.slope * (tg.t_last + tg.steps)
            when 'naive' then tg.last_y
            else (select s.y from series s where s.cell = tg.cell
                  and s.month = tg.month - to_months(12 * cast(ceil(tg.h / 12.0) as integer)))
        end as point_raw,
        case tg.method
            when 'damped_trend' then sqrt(tg.sse / (tg.n - 2))
                 * sqrt(1 + 1.0 / tg.n + (tg.t_last + tg.steps - tg.t_mean) ^ 2 / nullif(tg.sxx, 0))
            when 'naive' then tg.sd_d1 * sqrt(tg.h)
            else tg.sd_d12 * sqrt(ceil(tg.h / 12.0))
        end as se
    from targets tg
),

forecasts as (
    select
        f.*,
        greatest(f.point_raw, 0) as point_d,
        -- no spread to measure (one month, or two for naive): no interval
        case when f.se is not null then greatest(f.point_raw - st.z * f.se, 0) end as lower_d,
        case when f.se is not null then greatest(f.point_raw + st.z * f.se, 0) end as upper_d
    from raw_forecasts f cross join settings st
),

backtests as (
    select
        f.*,
        s.cost as actual
    from forecasts f
    join series s on s.cell = f.cell and s.month = f.month
    where f.kind = 'backtest'
),

backtest_summary as (
    select
        cell,
        count(*) as backtest_months,
        avg(abs(cast(actual as double) - point_d)) as mae,
        avg(abs(cast(actual as double) - point_d) / nullif(cast(actual as double), 0)) as mape,
        avg(case when cast(actual as double) between lower_d and upper_d then 1.0 else 0.0 end)
            filter (lower_d is not null) as coverage
    from backtests
    group by cell
),

budget_converted as (
    select
        b.month, b.stage,
        sum(cast(b.amount * case when b.currency = st.currency then cast(1 as decimal(38,10)) else r.rate end
                 as decimal(38,10))) as budget
    from budgets b
    cross join settings st
    asof left join (select f.* from fx_rates f, settings s2 where f.to_currency = s2.currency) r
        on r.from_currency = b.currency and b.month >= r.rate_date
    where b.leaf is null and b.model_id is null
    group by all
),

budget_grain as (
    select month, stage, budget from budget_converted
    union all
    select month, 'total', sum(budget) from budget_converted group by month
),

final as (
    select
        f.kind,
        f.origin as origin_month,
        f.month,
        f.h as horizon_months,
        c.level,
        c.model_id,
        c.leaf,
        c.stage,
        f.method,
        f.n as history_months,
        cast(round(f.point_d, 2) as decimal(38,10)) as point,
        cast(round(f.lower_d, 2) as decimal(38,10)) as lower,
        cast(round(f.upper_d, 2) as decimal(38,10)) as upper,
        st.coverage as interval_coverage,
        st.currency,
        b.actual,
        cast(b.actual - cast(round(f.point_d, 2) as decimal(38,10)) as decimal(38,10)) as error,
        cast(b.actual as double) between f.lower_d and f.upper_d as in_interval,
        bs.backtest_months,
        cast(round(bs.mae, 2) as decimal(38,10)) as backtest_mae,
        cast(round(bs.mape, 6) as decimal(18,6)) as backtest_mape,
        cast(round(bs.coverage, 4) as decimal(18,4)) as backtest_coverage,
        bg.budget
    from forecasts f
    cross join settings st
    join cells c using (cell)
    left join backtests b on b.kind = f.kind and b.origin = f.origin and b.cell = f.cell and b.month = f.month
    left join backtest_summary bs on bs.cell = f.cell
    left join budget_grain bg on bg.month = f.month and bg.stage = c.stage and c.level in ('stage', 'total')
)

select * from final
order by kind, level desc, stage, leaf, model_id, origin_month, month
