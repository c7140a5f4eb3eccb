-- Month x model x scenario, wide: the nine leaves, the four stages, C_total, and the two
-- buckets outside it. C_total = C_pretrain + C_tuning + C_deploy + C_maintenance
-- + C_people_merged, the last being people time of leaf-months with too few people to show by
-- leaf, merged across leaves (docs/privacy.md; zero when every leaf-month has enough people).
with
leaf_cost as (select * from marts.monthly_leaf_cost),
settings as (select value as people_merged from config.settings where key = 'people_merged'),

pivoted as (
    select
        month, model_id, scenario, team, currency, cost_basis,
        cast(coalesce(sum(cost) filter (leaf = 'data'), 0) as decimal(38,10)) as c_data,
        cast(coalesce(sum(cost) filter (leaf = 'labeled'), 0) as decimal(38,10)) as c_labeled,
        cast(coalesce(sum(cost) filter (leaf = 'training'), 0) as decimal(38,10)) as c_training,
        cast(coalesce(sum(cost) filter (leaf = 'tuning_time'), 0) as decimal(38,10)) as c_tuning_time,
        cast(coalesce(sum(cost) filter (leaf = 'tuning_resources'), 0) as decimal(38,10)) as c_tuning_resources,
        cast(coalesce(sum(cost) filter (leaf = 'hardware'), 0) as decimal(38,10)) as c_hardware,
        cast(coalesce(sum(cost) filter (leaf = 'software'), 0) as decimal(38,10)) as c_software,
        cast(coalesce(sum(cost) filter (leaf = 'maintenance_time'), 0) as decimal(38,10)) as c_maintenance_time,
        cast(coalesce(sum(cost) filter (leaf = 'maintenance_resources'), 0) as decimal(38,10)) as c_maintenance_resources,
        cast(coalesce(sum(cost) filter (leaf = s.people_merged), 0) as decimal(38,10)) as c_people_merged,
        cast(coalesce(sum(cost) filter (leaf = 'unallocated'), 0) as decimal(38,10)) as c_unallocated,
        cast(coalesce(sum(cost) filter (leaf = 'out_of_scope'), 0) as decimal(38,10)) as c_out_of_scope
    from leaf_cost
    cross join settings s
    group by month, model_id, scenario, team, currency, cost_basis
),

staged as (
    select
        *,
        c_data + c_labeled + c_training as c_pretrain,
        c_tuning_time + c_tuning_resources as c_tuning,
        c_hardware + c_software as c_deploy,
        c_maintenance_time + c_maintenance_resources as c_maintenance
    from pivoted
),

final as (
    select
        month, model_id, scenario, team,
        c_data, c_labeled, c_training, c_tuning_time, c_tuning_resources, c_hardware, c_software,
        c_maintenance_time, c_maintenance_resources,
        c_pretrain, c_tuning, c_deploy, c_maintenance, c_people_merged,
        c_pretrain + c_tuning + c_deploy + c_maintenance + c_people_merged as c_total,
        c_unallocated, c_out_of_scope,
        currency, cost_basis
    from staged
)

select * from final
