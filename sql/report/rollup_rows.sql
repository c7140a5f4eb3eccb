-- One month of marts.monthly_cost_rollup (month x model x scenario x team): the cells every table
-- of the report is summed from, once rounded (pipeline/report/rounding.py).
-- Parameters: $month (date).
with
rollup as (select * from marts.monthly_cost_rollup where month = $month),

final as (
    select * exclude (month), month from rollup
)

select * from final
order by c_total desc, model_id nulls last, scenario nulls last, team nulls last
