-- Cost spikes per model and leaf, month over month and day by day, judged with robust
-- statistics: a month (day) is a spike when its cost is more than `anomaly_z_threshold` robust
-- z-scores above the median of the `anomaly_monthly_history` months (`anomaly_daily_history`
-- days) before it, and at least `anomaly_min_amount` and `anomaly_min_share` of it above that
-- median. The robust z-score is
-- 0.6745 x (cost - median) / MAD, MAD = the median of the absolute deviations from the median
-- (Iglewicz and Hoaglin); with MAD = 0 (a flat history) any rise of `anomaly_min_amount` counts.
-- Missing months/days inside a series count as zero. Fewer than `anomaly_min_months`
-- (`anomaly_min_days`) of history: not judged. Days are judged on cloud lines charged for one
-- day (FOCUS hourly/daily usage); invoices and time logs have no day. `driver_lines` lists the
-- five largest lines of the spike (JSON: line_id, service, resource_id, cost).
with
-- people time is left out: a spike of one model's people cost on one leaf against its median
-- can single out one person's pay (docs/privacy.md)
-- the lean ledger (it carries the service and charge period a daily line needs); the five driver
-- lines of a spike get their resource id from core.line_items
line_items as (
    select * from core.ledger_lines
    where stage in ('pretrain', 'tuning', 'deploy', 'maintenance') and model_id is not null
      and source_system <> 'timesheet'
),
settings as (
    select
        cast(max(value) filter (key = 'anomaly_z_threshold') as double) as z_threshold,
        cast(max(value) filter (key = 'anomaly_min_amount') as decimal(38,10)) as min_amount,
        cast(max(value) filter (key = 'anomaly_min_share') as decimal(38,10)) as min_share,
        cast(max(value) filter (key = 'anomaly_monthly_history') as integer) as monthly_history,
        cast(max(value) filter (key = 'anomaly_min_months') as integer) as min_months,
        cast(max(value) filter (key = 'anomaly_daily_history') as integer) as daily_history,
        cast(max(value) filter (key = 'anomaly_min_days') as integer) as min_days
    from config.settings
),

-- month series: every month from a cell's first cost to the ledger's last month
monthly_cost as (
    select model_id, leaf, month as period, sum(cost) as cost from line_items group by all
),
month_span as (select max(month) as last_month from line_items),
monthly_cells as (
    select model_id, leaf, min(period) as first_period from monthly_cost group by all
),
monthly as (
    select c.model_id, c.leaf, cast(p.period as date) as period, coalesce(m.cost, 0) as cost
    from monthly_cells c
    cross join month_span s,
        unnest(generate_series(c.first_period, s.last_month, interval 1 month)) as p(period)
    left join monthly_cost m on m.model_id = c.model_id and m.leaf = c.leaf and m.period = cast(p.period as date)
),

-- day series: cloud lines charged for one day
daily_lines as (
    select *, cast(charge_period_start as date) as day
    from line_items
    where source_system = 'focus' and charge_period_end <= charge_period_start + interval 1 day
),
daily_cost as (
    select model_id, leaf, day as period, sum(cost) as cost from daily_lines group by all
),
day_span as (select max(day) as last_day from daily_lines),
daily_cells as (
    select model_id, leaf, min(period) as first_period from daily_cost group by all
),
daily as (
    select c.model_id, c.leaf, cast(p.period as date) as period, coalesce(d.cost, 0) as cost
    from daily_cells c
    cross join day_span s,
        unnest(generate_series(c.first_period, s.last_day, interval 1 day)) as p(period)
    left join daily_cost d on d.model_id = c.model_id and d.leaf = c.leaf and d.period = cast(p.period as date)
),

series as (
    select 'month' as grain, * from monthly
    union all
    select 'day', * from daily
),

history as (
    select s.grain, s.model_id, s.leaf, s.period, s.cost, h.cost as past
    from series s
    cross join settings st
    join series h
      on h.grain = s.grain and h.model_id = s.model_id and h.leaf = s.leaf
     and h.period < s.period
     and h.period >= case when s.grain = 'month' then s.period - to_months(st.monthly_history)
                          else s.period - to_days(st.daily_history) end
),

medians as (
    select grain, model_id, leaf, period, any_value(cost) as cost, median(past) as baseline, count(*) as history_n
    from history group by all
),

mads as (
    select h.grain, h.model_id, h.leaf, h.period, median(abs(h.past - m.baseline)) as mad
    from history h join medians m using (grain, model_id, leaf, period)
    group by all
),

scored as (
    select
        m.*,
        d.mad,
        case when d.mad > 0 then 0.6745 * cast(m.cost - m.baseline as double) / cast(d.mad as double) end as robust_z
    from medians m
    join mads d using (grain, model_id, leaf, period)
),

spikes as (
    select s.*
    from scored s cross join settings st
    where s.history_n >= case when s.grain = 'month' then st.min_months else st.min_days end
      and s.cost - s.baseline >= st.min_amount
      and s.cost - s.baseline >= st.min_share * s.baseline
      and (s.robust_z >= st.z_threshold or (s.mad = 0 and s.cost > s.baseline))
),

drivers_top as (
    select
        sp.grain, sp.model_id, sp.leaf, sp.period,
        -- the five largest (a top-5 heap, not a sorted list of every line); equal costs by line_id
        max_by({'line_id': l.line_id, 'item_id': l.item_id, 'service': l.service, 'cost': l.cost},
               struct_pack(c := l.cost, id := l.line_id), 5) as top,
        count(*) as line_count
    from spikes sp
    join line_items l
      on l.model_id = sp.model_id and l.leaf = sp.leaf
     and case when sp.grain = 'month' then l.month = sp.period
              else l.source_system = 'focus' and cast(l.charge_period_start as date) = sp.period
                   and l.charge_period_end <= l.charge_period_start + interval 1 day end
    group by all
),

driver_rows as (
    select grain, model_id, leaf, period, line_count, unnest(top) as d, generate_subscripts(top, 1) as i
    from drivers_top
),

drivers as (
    select
        r.grain, r.model_id, r.leaf, r.period,
        to_json(list({'line_id': r.d.line_id, 'service': r.d.service, 'resource_id': li.resource_id,
                      'cost': r.d.cost} order by r.i))::varchar as driver_lines,
        any_value(r.line_count) as line_count
    from driver_rows r
    left join core.line_items li on li.line_id = r.d.item_id
    group by r.grain, r.model_id, r.leaf, r.period
),

final as (
    select
        sp.grain || ':' || sp.model_id || ':' || sp.leaf || ':' || strftime(sp.period, '%Y-%m-%d') as anomaly_id,
        sp.grain,
        cast(date_trunc('month', sp.period) as date) as month,
        sp.period,
        sp.model_id,
        sp.leaf,
        lf.stage,
        cast(sp.cost as decimal(38,10)) as cost,
        cast(sp.baseline as decimal(38,10)) as baseline_median,
        cast(sp.mad as decimal(38,10)) as baseline_mad,
        cast(sp.cost - sp.baseline as decimal(38,10)) as excess,
        sp.robust_z,
        sp.history_n,
        d.line_count,
        d.driver_lines
    from spikes sp
    left join drivers d using (grain, model_id, leaf, period)
    left join config.leaves lf on lf.leaf = sp.leaf
)

select * from final
order by period, grain, excess desc
