-- No two deliveries describe the same charges (zero rows = healthy). Counting one billing
-- account's period twice is the most expensive error a ledger can make: two FOCUS exports of
-- the same account under different export names, a re-export saved beside the original, or
-- (when native exports are read) a CUR/GCP/Azure export beside a FOCUS export of that account.
--
-- Keyed on the unified columns (provider, billing account, billing period, charge day), so any
-- billing source is compared with any other. Parts of one delivery (the files of one AWS billing
-- period, of one Azure export run, numbered part files: audit.files.delivery) share keys by
-- design; daily files of one period do not share a charge day, so they do not overlap either.
with
line_items as (select * from core.line_items),
files as (select * from audit.files),

keys as (
    -- a key holds the bases it carries cost on: an Azure actual export (billed) and the amortized
    -- export of the same scope (effective) describe one charge on two bases, never twice on one
    select
        l.source_file,
        any_value(l.source_system) as source_system,
        coalesce(f.delivery, l.source_file) as delivery,
        coalesce(l.provider, '') as provider,
        l.billing_account_id,
        coalesce(l.billing_period_start, l.month) as billing_period,
        cast(l.charge_period_start as date) as charge_day,
        bool_or(coalesce(l.billed_cost, 1) <> 0) as bills,
        bool_or(coalesce(l.effective_cost, 1) <> 0) as amortizes
    from line_items l
    left join files f on f.source_file = l.source_file
    where l.billing_account_id is not null
      and not l.is_superseded
    group by all
),

shared as (
    select
        a.source_file as file,
        b.source_file as other_file,
        a.source_system as source,
        b.source_system as other_source,
        a.provider,
        a.billing_account_id,
        a.billing_period,
        count(*) as shared_days
    from keys a
    join keys b
      on a.provider = b.provider
     and a.billing_account_id = b.billing_account_id
     and a.billing_period = b.billing_period
     and a.charge_day = b.charge_day
     and a.delivery <> b.delivery
     and a.source_file < b.source_file
     and ((a.bills and b.bills) or (a.amortizes and b.amortizes))
    group by all
),

final as (
    select
        file,
        other_file,
        source,
        other_source,
        provider,
        billing_account_id,
        strftime(billing_period, '%Y-%m') as billing_period,
        shared_days
    from shared
)

select * from final
order by billing_period, provider, billing_account_id, file, other_file
