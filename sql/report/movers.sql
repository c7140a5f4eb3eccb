-- The model x leaf cells that grew most since the month before.
-- Parameters: $m, $p (the month and the one before), $leaves (the nine), $several, $n.
with
leaf_cost as (select * from marts.monthly_leaf_cost where month in ($m, $p)),

now as (select model_id, leaf, sum(cost) as cost from leaf_cost where month = $m group by all),
prev as (select model_id, leaf, sum(cost) as cost from leaf_cost where month = $p group by all),

joined as (
    select coalesce(now.model_id, prev.model_id) as model_id,
           coalesce(now.leaf, prev.leaf) as leaf,
           coalesce(now.cost, 0) as amount,
           coalesce(prev.cost, 0) as previous
    from now full outer join prev
      on now.model_id is not distinct from prev.model_id and now.leaf = prev.leaf
),

final as (
    select * from joined
    -- people time grouped over several models is a different group each month: no mover
    where leaf in (select unnest($leaves)) and amount - previous > 0
      and model_id is distinct from $several
)

select * from final
order by amount - previous desc, model_id nulls last, leaf
limit $n
