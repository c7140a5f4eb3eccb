-- One month of marts.monthly_leaf_cost (month x leaf x model x scenario x team): the leaves CSV.
-- Parameters: $month (date).
with
leaf_cost as (select * from marts.monthly_leaf_cost where month = $month),

final as (
    select month, leaf, stage, model_id, scenario, team, cost, billed_cost, effective_cost, line_count, currency
    from leaf_cost
)

select * from final
order by stage, leaf, cost desc, model_id nulls last, scenario nulls last, team nulls last
