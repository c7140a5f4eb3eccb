-- Which rule places each distinct match key, and what it resolves to (first match wins).
-- Rules are matched against the distinct keys, not the lines: millions of lines share a few
-- thousand keys.
with
line_items as (select * from core.line_items where not is_superseded),
rules as (select * from config.rules),
conditions as (select * from config.rule_conditions),
models as (select * from config.models),
model_aliases as (select * from config.model_aliases),
leaves as (select * from config.leaves),

keys as (
    select distinct on (match_key)
        match_key, source_system, provider, billing_account_id, sub_account_id, service_name,
        service_category, sku_id, resource_id, region_id, charge_category, charge_class, vendor,
        vendor_kind, activity, billing_currency, model_hint, leaf_hint, tags
    from line_items
),

key_values as (
    select match_key, field, value
    from (select * exclude (tags, leaf_hint) from keys)
    unpivot (value for field in (
        source_system, provider, billing_account_id, sub_account_id, service_name, service_category,
        sku_id, resource_id, region_id, charge_category, charge_class, vendor, vendor_kind, activity,
        billing_currency, model_hint
    ))
    union all
    select match_key, 'account', billing_account_id from keys where billing_account_id is not null
    union all
    select match_key, 'account', sub_account_id from keys where sub_account_id is not null
    union all
    select k.match_key, 'tag.' || lower(j.key), j.value ->> '$'
    from keys k, json_each(k.tags) j
    where j.value ->> '$' is not null
    union all
    -- AWS writes user-defined cost allocation tags as user:<key>: tag.<key> matches them too
    select k.match_key, 'tag.' || lower(substr(j.key, 6)), j.value ->> '$'
    from keys k, json_each(k.tags) j
    where j.value ->> '$' is not null and lower(j.key) like 'user:%'
),

matched_fields as (
    select kv.match_key, c.rule_id, lower(c.field) as field
    from key_values kv
    join conditions c on lower(c.field) = kv.field
    where case when c.op = 'glob' then kv.value ilike c.pattern escape '\'
               else regexp_matches(kv.value, c.pattern) end
    group by all
),

rule_hits as (
    select m.match_key, m.rule_id
    from matched_fields m join rules r using (rule_id)
    group by m.match_key, m.rule_id, r.n_fields
    having count(*) = r.n_fields
    union all
    select k.match_key, r.rule_id from keys k cross join rules r where r.n_fields = 0
),

winners as (
    select h.match_key, arg_min(h.rule_id, r.priority) as rule_id
    from rule_hits h join rules r using (rule_id)
    group by h.match_key
),

tag_values as (
    select match_key, field, value from key_values where field like 'tag.%'
),

raw_values as (
    select
        k.match_key,
        r.*,
        case r.leaf_kind
            when 'literal' then r.leaf_value
            when 'hint' then k.leaf_hint
            when 'tag' then (select min(t.value) from tag_values t where t.match_key = k.match_key and t.field = 'tag.' || lower(r.leaf_value))
        end as leaf_raw,
        case r.model_id_kind
            when 'literal' then r.model_id_value
            when 'hint' then k.model_hint
            when 'tag' then (select min(t.value) from tag_values t where t.match_key = k.match_key and t.field = 'tag.' || lower(r.model_id_value))
        end as model_raw,
        case r.scenario_kind
            when 'literal' then r.scenario_value
            when 'tag' then (select min(t.value) from tag_values t where t.match_key = k.match_key and t.field = 'tag.' || lower(r.scenario_value))
        end as scenario_raw,
        case r.team_kind
            when 'literal' then r.team_value
            when 'tag' then (select min(t.value) from tag_values t where t.match_key = k.match_key and t.field = 'tag.' || lower(r.team_value))
        end as team_raw
    from keys k
    left join winners w using (match_key)
    left join rules r on r.rule_id = w.rule_id
),

resolved as (
    select
        v.*,
        lf.leaf as leaf_ok,
        lf.stage as stage_ok,
        ma.model_id as model_ok
    from raw_values v
    left join leaves lf on lf.leaf = regexp_replace(lower(trim(v.leaf_raw)), '^c_', '')
    left join model_aliases ma on ma.alias = lower(trim(v.model_raw))
),

final as (
    select
        r.match_key,
        r.rule_id,
        r.split_by,
        r.split_models,
        r.split_metric,
        case
            when r.rule_id is null then 'unallocated'
            when r.out_of_scope then 'out_of_scope'
            when r.leaf_ok is null then 'unallocated'
            when r.split_by is not null then r.leaf_ok
            when r.model_ok is null then 'unallocated'
            else r.leaf_ok
        end as leaf,
        case
            when r.rule_id is null then 'no rule matched'
            when r.out_of_scope then null
            when r.leaf_ok is null and r.leaf_raw is null then
                'rule ' || r.rule_id || ': the line has no ' || coalesce(r.leaf_kind || ' ', '') || coalesce(r.leaf_value, 'leaf')
            when r.leaf_ok is null then 'rule ' || r.rule_id || ': ''' || r.leaf_raw || ''' is not a leaf'
            when r.split_by is not null then null
            when r.model_ok is null and r.model_raw is null then 'rule ' || r.rule_id || ': the line names no model'
            when r.model_ok is null then 'rule ' || r.rule_id || ': model ''' || r.model_raw || ''' is not in models.yaml'
        end as unallocated_reason,
        case when r.split_by is null and r.leaf_ok is not null and not coalesce(r.out_of_scope, false) then r.model_ok end as model_id,
        r.scenario_raw as scenario_override,
        r.team_raw as team_override
    from resolved r
)

select * from final
