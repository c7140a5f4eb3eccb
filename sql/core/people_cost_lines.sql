-- Every allocated time-log line (a split line: one row per share) with its employee's pseudonym,
-- hours and hourly rate: the line-level people cost. It stays in the work database, for
-- auditors; the published file carries people cost only in groups of at least
-- `privacy.min_people_per_row` people (docs/privacy.md).
--
-- Each line is keyed by the groups it can be published in, finest first:
--   g1  month / leaf / model / scenario / activity / team
--   g2  month / leaf / model / scenario
--   g3  month / leaf
--   g4  month (the nine leaves only: unallocated and out_of_scope time never leaves its bucket)
-- A key doubles as the published row's id, so '/' inside a value is escaped.
with
allocated as (
    select a.*, l.activity, l.service_name, l.employee_key, l.hours, l.hourly_rate, l.billing_currency,
           l.fx_rate, l.reporting_currency
    from core.allocated_line_items a
    join core.line_items l using (line_id)
    where a.source_system = 'timesheet'
),
leaves as (select * from config.leaves),

parts as (
    select
        a.*,
        strftime(a.month, '%Y-%m') as p_month,
        replace(a.leaf, '/', '%2F') as p_leaf,
        replace(coalesce(a.model_id, '-'), '/', '%2F') as p_model,
        replace(coalesce(a.scenario, '-'), '/', '%2F') as p_scenario,
        replace(coalesce(a.activity, '-'), '/', '%2F') as p_activity,
        replace(coalesce(a.team, '-'), '/', '%2F') as p_team,
        lf.leaf is not null as in_scope
    from allocated a
    left join leaves lf on lf.leaf = a.leaf
),

final as (
    select
        share_id,
        line_id,
        month,
        leaf,
        stage,
        model_id,
        scenario,
        activity,
        team,
        rule_id,
        unallocated_reason,
        service_name,
        employee_key,
        hours,
        hourly_rate,
        -- the rate as an integer (units of 1e-10) for the GCD in the publication rule
        cast(hourly_rate * 10000000000 as hugeint) as rate_units,
        billing_currency,
        fx_rate,
        reporting_currency,
        billed_cost_original,
        effective_cost_original,
        billed_cost,
        effective_cost,
        cost,
        source_file,
        source_row,
        load_id,
        concat_ws('/', p_month, p_leaf, p_model, p_scenario, p_activity, p_team) as g1,
        concat_ws('/', p_month, p_leaf, p_model, p_scenario) as g2,
        concat_ws('/', p_month, p_leaf) as g3,
        case when in_scope then p_month end as g4
    from parts
)

select * from final
