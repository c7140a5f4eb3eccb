-- The month's unallocated cost in groups a person can write one rule for: the lines that share
-- what a rule matches on (source, provider, accounts, service, vendor, activity) and the reason
-- they stayed unallocated, largest first. Each group carries what helps to write the rule: its
-- resources, the tags every line of it carries, and the (leaf, model) that most of the same
-- service's allocated cost went to this month (a suggestion, shown as such).
-- Parameters: $month (date), $n (how many groups).
with
line_items as (select * from marts.cost_line_items where month = $month),

totals as (
    select
        coalesce(sum(cost), 0) as total_cost,
        coalesce(sum(cost) filter (leaf = 'unallocated'), 0) as unallocated_cost,
        coalesce(sum(cost) filter (leaf = 'out_of_scope'), 0) as out_of_scope_cost
    from line_items
),

unallocated as (
    select
        *,
        md5(concat_ws(chr(31), source_system, coalesce(provider, chr(0)), coalesce(billing_account_id, chr(0)),
                      coalesce(sub_account_id, chr(0)), coalesce(service, chr(0)), coalesce(vendor, chr(0)),
                      coalesce(activity, chr(0)), coalesce(unallocated_reason, chr(0)))) as group_key
    from line_items
    where leaf = 'unallocated'
),

groups as (
    select
        group_key,
        any_value(source_system) as source_system,
        any_value(provider) as provider,
        any_value(billing_account_id) as billing_account_id,
        any_value(sub_account_id) as sub_account_id,
        any_value(service) as service,
        any_value(vendor) as vendor,
        any_value(activity) as activity,
        any_value(unallocated_reason) as unallocated_reason,
        -- the rule that matched but could not place the lines (NULL: no rule matched)
        any_value(rule_id) as rule_id,
        sum(cost) as cost,
        count(*) as line_count,
        count(distinct resource_id) as resource_count,
        list(distinct coalesce(resource_id, '') || coalesce(' (' || resource_name || ')', ''))
            filter (resource_id is not null) as resources,
        list(distinct charge_description) filter (charge_description is not null) as descriptions
    from unallocated
    group by group_key
    -- lines that cost nothing on this basis (a commitment's fee amortised away) need no rule
    having sum(cost) <> 0
),

-- tags that every line of a group carries, with the one value they share
tag_pairs as (
    select u.group_key, j.key as tag_key, j.value ->> '$' as tag_value, count(*) as n
    from unallocated u, json_each(u.tags) j
    -- a redacted value (docs/privacy.md) is no value a rule could be written from
    where j.value ->> '$' is not null and j.value ->> '$' <> '(redacted)'
    group by all
),

common_tags as (
    select t.group_key, list(t.tag_key || '=' || t.tag_value order by t.tag_key) as tags
    from tag_pairs t
    join groups g using (group_key)
    where t.n = g.line_count
    group by t.group_key
),

-- where the same source's allocated cost went this month, most specific neighbour first
placed as (
    select source_system, provider, service, leaf, model_id, sum(cost) as cost
    from line_items
    where stage in ('pretrain', 'tuning', 'deploy', 'maintenance')
      and model_id is not null and model_id <> '(several)'
    group by all
),

neighbours as (
    select g.group_key, p.leaf, p.model_id, 1 as closeness, p.cost
    from groups g join placed p
      on p.source_system = g.source_system and p.provider is not distinct from g.provider
     and p.service is not distinct from g.service
    union all
    select g.group_key, p.leaf, p.model_id, 2, p.cost
    from groups g join placed p
      on p.source_system = g.source_system and p.provider is not distinct from g.provider
    union all
    select g.group_key, p.leaf, p.model_id, 3, p.cost
    from groups g join placed p on p.source_system = g.source_system
    union all
    select g.group_key, p.leaf, p.model_id, 4, p.cost
    from groups g cross join placed p
),

suggestions as (
    select
        group_key,
        arg_min(leaf, (closeness, -cost, leaf, model_id)) as suggested_leaf,
        arg_min(model_id, (closeness, -cost, leaf, model_id)) as suggested_model_id,
        min(closeness) as suggested_from
    from (
        select group_key, leaf, model_id, closeness, sum(cost) as cost
        from neighbours group by all
    )
    group by group_key
),

final as (
    select
        g.* exclude (group_key),
        t.total_cost,
        t.unallocated_cost,
        t.out_of_scope_cost,
        count(*) over () as group_count,
        coalesce(c.tags, []) as common_tags,
        s.suggested_leaf,
        s.suggested_model_id,
        case s.suggested_from
            when 1 then 'the same service'
            when 2 then 'the same provider'
            when 3 then 'the same source'
            when 4 then 'the month'
        end as suggested_from
    from groups g
    cross join totals t
    left join common_tags c using (group_key)
    left join suggestions s using (group_key)
)

select * from final
order by cost desc, source_system, provider nulls last, service nulls last, unallocated_reason
limit $n
