-- The contract commitments FOCUS 1.3 exports declare (Contract Commitment dataset), published as
-- delivered: what was committed, for which period, at what cost or quantity. Never cost of the
-- ledger: it is what the cost rows (marts.cost_line_items) draw down.
with
commitments as (select * from staging.stg_focus_contract_commitments),

final as (
    select
        contract_id,
        contract_commitment_id,
        contract_commitment_category,
        contract_commitment_type,
        contract_commitment_description,
        contract_commitment_cost,
        contract_commitment_quantity,
        contract_commitment_unit,
        billing_currency,
        contract_commitment_period_start,
        contract_commitment_period_end,
        contract_period_start,
        contract_period_end,
        source_file,
        source_row,
        load_id
    from commitments
)

select * from final
order by contract_id, contract_commitment_id
