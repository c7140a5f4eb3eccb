-- The month's budgets for all models together: per stage, per budgeted leaf, and the total
-- (a budget for one model is not the all-models budget). Parameters: $month (date).
with
budget_vs_actual as (select * from marts.budget_vs_actual where month = $month and model_id is null),

final as (
    select stage, leaf, sum(budget) as budget
    from budget_vs_actual
    group by stage, leaf
    having count(budget) > 0
)

select * from final
