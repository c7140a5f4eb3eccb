-- Every line placed on a leaf (or unallocated / out_of_scope), shared costs split across
-- models. A split line becomes one row per share; the shares sum exactly to the line
-- (integer arithmetic in units of 1e-10, the remainder on the last share).
-- Lean by design: a share carries the line's keys, its allocation and the few line columns the
-- marts group by (provider, service, charge category and period), not the line's other columns
-- (sku, resource, tags, ...); publish joins those back from core.line_items by line_id.
with
-- read by five parts of the allocation and not materialized: each re-scans the columns it needs
-- from the stored table, cheaper than one temporary copy of every line (at 5M lines the copy
-- spilled 4.6 GB and its scans took a third of the statement's CPU)
line_items as not materialized (
    select
        line_id, month, source_system, source_file, source_row, load_id, match_key,
        -- the few line columns the marts group or filter by (few distinct values: they compress
        -- to almost nothing), so that no mart joins the ledger back to core.line_items
        provider, service_name, charge_category, charge_period_start, charge_period_end,
        billed_cost, effective_cost, billed_cost_original, effective_cost_original,
        -- the FOCUS price and quantity columns, split like the cost (FOCUS 1.3 split cost allocation:
        -- the summable metrics of the allocated charges sum to the origin charge's)
        list_cost_original, contracted_cost_original, list_cost, contracted_cost,
        pricing_quantity, consumed_quantity
    from core.line_items
    where not is_superseded
),
matches as (select * from core.rule_matches),
models as (select * from config.models),
leaves as (select * from config.leaves),
metrics as (select * from staging.stg_usage_metrics),
settings as (select value as cost_basis from config.settings where key = 'cost_basis'),

placed as not materialized (
    select l.*, m.* exclude (match_key)
    from line_items l join matches m using (match_key)
),

direct as not materialized (
    select
        p.* exclude (scenario_override, team_override, split_by, split_models, split_metric),
        coalesce(p.scenario_override, md.scenario) as scenario,
        coalesce(p.team_override, md.team) as team,
        cast(null as varchar) as split_basis,
        cast(null as varchar) as split_weight
    from placed p
    left join models md on md.model_id = p.model_id
    where p.split_by is null or p.leaf in ('unallocated', 'out_of_scope')
),

-- what each model was allocated directly in a month: the weights of cost-proportional splits
direct_cost as (
    select d.month, d.model_id,
           sum(case when s.cost_basis = 'billed' then d.billed_cost else d.effective_cost end) as cost
    from direct d cross join settings s
    where d.model_id is not null and d.leaf not in ('unallocated', 'out_of_scope')
    group by all
),

split_lines as (
    select * from placed where split_by is not null and leaf not in ('unallocated', 'out_of_scope')
),

targets as (
    select s.line_id, s.month, s.split_by, s.split_metric, md.model_id
    from split_lines s
    join models md on s.split_models is null or list_contains(s.split_models, md.model_id)
),

weighted as (
    select
        t.*,
        -- weights as integers (1e-4 precision) so the shares can be computed exactly
        case t.split_by
            when 'even' then cast(1 as hugeint)
            when 'cost' then cast(round(greatest(coalesce(dc.cost, 0), 0) * 10000) as hugeint)
            when 'metric' then cast(round(coalesce(mt.value, 0) * 10000) as hugeint)
        end as w
    from targets t
    left join direct_cost dc on dc.month = t.month and dc.model_id = t.model_id
    left join metrics mt on mt.month = t.month and mt.model_id = t.model_id and mt.metric = t.split_metric
),

-- a model with no weight gets no share (and no zero row)
positive as (
    select * from weighted where w > 0
),

weight_totals as (
    -- the last share (the greatest model_id) takes the remainder
    select line_id, sum(w) as w_total, max(model_id) as last_model_id from positive group by line_id
),

-- a split with nothing to weigh by (no metric, no allocated cost) stays unallocated, visibly
unsplittable as (
    select
        s.* exclude (scenario_override, team_override, split_by, split_models, split_metric, leaf, unallocated_reason),
        'unallocated' as leaf,
        'rule ' || s.rule_id || ': split by ' || s.split_by || coalesce(' ' || s.split_metric, '')
            || ' has no weights for ' || strftime(s.month, '%Y-%m') as unallocated_reason,
        cast(null as varchar) as scenario,
        cast(null as varchar) as team,
        cast(null as varchar) as split_basis,
        cast(null as varchar) as split_weight
    from split_lines s
    left join weight_totals wt using (line_id)
    where coalesce(wt.w_total, 0) = 0
),

shares as (
    select
        s.* exclude (scenario_override, team_override, split_by, split_models, split_metric, model_id,
                     billed_cost, effective_cost, billed_cost_original, effective_cost_original, list_cost_original,
                     contracted_cost_original, list_cost, contracted_cost, pricing_quantity, consumed_quantity),
        w.model_id,
        coalesce(s.scenario_override, md.scenario) as scenario,
        coalesce(s.team_override, md.team) as team,
        s.split_by || coalesce(':' || s.split_metric, '') as split_basis,
        cast(w.w as varchar) || '/' || cast(wt.w_total as varchar) as split_weight,
        w.w,
        wt.w_total,
        w.model_id = wt.last_model_id as is_last,
        s.billed_cost as line_billed_cost,
        s.effective_cost as line_effective_cost,
        s.billed_cost_original as line_billed_cost_original,
        s.effective_cost_original as line_effective_cost_original,
        s.list_cost_original as line_list_cost_original,
        s.contracted_cost_original as line_contracted_cost_original,
        s.list_cost as line_list_cost,
        s.contracted_cost as line_contracted_cost,
        s.pricing_quantity as line_pricing_quantity,
        s.consumed_quantity as line_consumed_quantity
    from split_lines s
    join positive w using (line_id)
    join weight_totals wt using (line_id)
    join models md on md.model_id = w.model_id
    where wt.w_total > 0
),

-- each share's floor of amount * w / w_total in units of 1e-10 (computed once: materialized)
share_floors as materialized (
    select
        *,
        cast(cast(cast(line_billed_cost * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as billed_cost_floor,
        cast(cast(cast(line_effective_cost * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as effective_cost_floor,
        cast(cast(cast(line_billed_cost_original * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as billed_cost_original_floor,
        cast(cast(cast(line_effective_cost_original * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as effective_cost_original_floor,
        cast(cast(cast(line_list_cost_original * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as list_cost_original_floor,
        cast(cast(cast(line_contracted_cost_original * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as contracted_cost_original_floor,
        cast(cast(cast(line_list_cost * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as list_cost_floor,
        cast(cast(cast(line_contracted_cost * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as contracted_cost_floor,
        cast(cast(cast(line_pricing_quantity * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as pricing_quantity_floor,
        cast(cast(cast(line_consumed_quantity * 10000000000 as hugeint) * w // w_total as decimal(38,0))
             * cast(0.0000000001 as decimal(11,10)) as decimal(38,10)) as consumed_quantity_floor
    from shares
),

-- what the shares' floors add up to per line; the last share is the line less the others' floors
floor_sums as (
    select
        line_id,
        sum(billed_cost_floor) as billed_cost_floors,
        sum(effective_cost_floor) as effective_cost_floors,
        sum(billed_cost_original_floor) as billed_cost_original_floors,
        sum(effective_cost_original_floor) as effective_cost_original_floors,
        sum(list_cost_original_floor) as list_cost_original_floors,
        sum(contracted_cost_original_floor) as contracted_cost_original_floors,
        sum(list_cost_floor) as list_cost_floors,
        sum(contracted_cost_floor) as contracted_cost_floors,
        sum(pricing_quantity_floor) as pricing_quantity_floors,
        sum(consumed_quantity_floor) as consumed_quantity_floors
    from share_floors
    group by line_id
),

split_rows as (
    select
        f.* exclude (w, w_total, is_last,
                     line_billed_cost, line_effective_cost, line_billed_cost_original, line_effective_cost_original,
                     line_list_cost_original, line_contracted_cost_original, line_list_cost,
                     line_contracted_cost, line_pricing_quantity, line_consumed_quantity,
                     billed_cost_floor, effective_cost_floor, billed_cost_original_floor, effective_cost_original_floor, list_cost_original_floor,
                     contracted_cost_original_floor, list_cost_floor, contracted_cost_floor, pricing_quantity_floor, consumed_quantity_floor),
        case when f.is_last then f.line_billed_cost - (fs.billed_cost_floors - f.billed_cost_floor) else f.billed_cost_floor end as billed_cost,
        case when f.is_last then f.line_effective_cost - (fs.effective_cost_floors - f.effective_cost_floor) else f.effective_cost_floor end as effective_cost,
        case when f.is_last then f.line_billed_cost_original - (fs.billed_cost_original_floors - f.billed_cost_original_floor) else f.billed_cost_original_floor end as billed_cost_original,
        case when f.is_last then f.line_effective_cost_original - (fs.effective_cost_original_floors - f.effective_cost_original_floor) else f.effective_cost_original_floor end as effective_cost_original,
        case when f.is_last then f.line_list_cost_original - (fs.list_cost_original_floors - f.list_cost_original_floor) else f.list_cost_original_floor end as list_cost_original,
        case when f.is_last then f.line_contracted_cost_original - (fs.contracted_cost_original_floors - f.contracted_cost_original_floor) else f.contracted_cost_original_floor end as contracted_cost_original,
        case when f.is_last then f.line_list_cost - (fs.list_cost_floors - f.list_cost_floor) else f.list_cost_floor end as list_cost,
        case when f.is_last then f.line_contracted_cost - (fs.contracted_cost_floors - f.contracted_cost_floor) else f.contracted_cost_floor end as contracted_cost,
        case when f.is_last then f.line_pricing_quantity - (fs.pricing_quantity_floors - f.pricing_quantity_floor) else f.pricing_quantity_floor end as pricing_quantity,
        case when f.is_last then f.line_consumed_quantity - (fs.consumed_quantity_floors - f.consumed_quantity_floor) else f.consumed_quantity_floor end as consumed_quantity
    from share_floors f
    join floor_sums fs using (line_id)
),

unioned as (
    select * from direct
    union all by name
    select * from unsplittable
    union all by name
    select * from split_rows
),

final as (
    select
        u.* exclude (leaf),
        u.leaf,
        coalesce(lf.stage, u.leaf) as stage,
        u.line_id || coalesce('/' || case when u.split_basis is not null then u.model_id end, '') as share_id,
        case when s.cost_basis = 'billed' then u.billed_cost else u.effective_cost end as cost
    from unioned u
    cross join settings s
    left join leaves lf on lf.leaf = u.leaf
)

select * from final
