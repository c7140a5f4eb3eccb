-- FOCUS 1.3 Contract Commitment rows, typed: one row per commitment of a contract. No charges:
-- the cost rows that draw a commitment down name it in their ContractApplied column.
with
source as (select * from raw.focus_contract_commitments),

renamed as (
    select
        -- lineage
        source_file,
        source_row,
        load_id,
        -- the commitment
        trim(ContractId) as contract_id,
        trim(ContractCommitmentId) as contract_commitment_id,
        nullif(trim(ContractCommitmentCategory), '') as contract_commitment_category,
        nullif(trim(ContractCommitmentType), '') as contract_commitment_type,
        nullif(trim(ContractCommitmentDescription), '') as contract_commitment_description,
        cast(try_cast(trim(ContractCommitmentCost) as decimal(38,10)) as decimal(38,10)) as contract_commitment_cost,
        cast(try_cast(trim(ContractCommitmentQuantity) as decimal(38,10)) as decimal(38,10)) as contract_commitment_quantity,
        nullif(trim(ContractCommitmentUnit), '') as contract_commitment_unit,
        nullif(upper(trim(BillingCurrency)), '') as billing_currency,
        -- when (UTC)
        cast(cast(trim(ContractCommitmentPeriodStart) as timestamptz) at time zone 'UTC' as timestamp)
            as contract_commitment_period_start,
        cast(cast(trim(ContractCommitmentPeriodEnd) as timestamptz) at time zone 'UTC' as timestamp)
            as contract_commitment_period_end,
        cast(try_cast(trim(ContractPeriodStart) as timestamptz) at time zone 'UTC' as timestamp) as contract_period_start,
        cast(try_cast(trim(ContractPeriodEnd) as timestamptz) at time zone 'UTC' as timestamp) as contract_period_end
    from source
)

select * from renamed
