-- The month's rule coverage: allocated / in-scope cost in percent. Parameters: $month (date).
with
coverage as (select * from marts.rule_coverage where month = $month),

final as (
    select
        sum(allocated_cost) as allocated,
        sum(in_scope_cost) as in_scope,
        count(*) as n,
        max(coverage_pct) as pct
    from coverage
)

select * from final
