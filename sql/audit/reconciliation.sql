-- Per source file and month: the cost read against where it went. Conservation holds when
-- input = superseded + nine leaves + unallocated + out_of_scope, to the cent, and when
-- rows read + rows rejected = rows in the file.
-- A vendor document (an invoice PDF, XLSX, ...: one invoice per file) also carries its own
-- figures, repeated on each month of the file: the total printed on it and the sum of its lines
-- as booked in raw (Σ lines = printed total, less a printed tax its profile does not book).
with
line_items as (select * from core.line_items),
allocated as (select * from core.allocated_line_items),
files as (select * from audit.files),
last_loads as (
    select * from audit.load_log
    where action in ('loaded', 'replaced')
    qualify row_number() over (partition by source_file order by load_id desc) = 1
),
raw_rows as (
    select source_file, count(*) as rows_in_raw from raw.focus_line_items group by all
    union all select source_file, count(*) from raw.invoice_lines group by all
    union all select source_file, count(*) from raw.aws_cur_line_items group by all
    union all select source_file, count(*) from raw.gcp_billing_line_items group by all
    union all select source_file, count(*) from raw.azure_cost_line_items group by all
    union all select source_file, count(*) from raw.timesheet_entries group by all
),
settings as (select max(value) filter (key = 'cost_basis') as cost_basis from config.settings),
documents as (select * from raw.invoice_documents),

document_lines as (
    -- the lines as raw holds them, summed as staging books them (credit notes negative)
    select
        l.source_file,
        sum(case when lower(coalesce(nullif(trim(l.document_type), ''), 'invoice')) = 'credit_note'
                 then -abs(cast(trim(l.amount) as decimal(38,10)))
                 else cast(trim(l.amount) as decimal(38,10)) end) as lines_booked
    from raw.invoice_lines l
    where l.source_file in (select source_file from documents)
    group by all
),

printed as (
    select
        d.source_file,
        d.invoice_number,
        d.document_type = 'credit_note' as is_credit,
        try_cast(d.printed_total as decimal(38,10)) as total,
        try_cast(d.printed_subtotal as decimal(38,10)) as subtotal,
        coalesce(try_cast(d.printed_tax as decimal(38,10)), 0) as tax,
        d.tax_treatment
    from documents d
),

invoice_totals as (
    select
        p.source_file,
        p.invoice_number,
        cast(case when p.is_credit then -abs(p.total) else p.total end as decimal(38,10)) as printed_total,
        dl.lines_booked as invoice_lines_booked,
        -- what the lines must book: the printed total, less a printed tax the profile leaves out
        -- (reclaimable VAT); a document printing only a subtotal books exactly that
        cast(dl.lines_booked - case
            when p.total is not null and p.tax_treatment = 'exclude'
                then (case when p.is_credit then -abs(p.total - p.tax) else p.total - p.tax end)
            when p.total is not null then (case when p.is_credit then -abs(p.total) else p.total end)
            when p.subtotal is not null then (case when p.is_credit then -abs(p.subtotal) else p.subtotal end)
        end as decimal(38,10)) as printed_total_difference
    from printed p
    left join document_lines dl using (source_file)
),

inputs as (
    select
        l.source_file,
        l.month,
        any_value(l.source_system) as source_system,
        sum(case when s.cost_basis = 'billed' then l.billed_cost else l.effective_cost end) as input_cost,
        coalesce(sum(case when s.cost_basis = 'billed' then l.billed_cost else l.effective_cost end)
                 filter (l.is_superseded), 0) as superseded_cost,
        count(distinct l.source_row) as rows_in_core
    from line_items l cross join settings s
    group by l.source_file, l.month
),

outputs as (
    select
        source_file,
        month,
        coalesce(sum(cost) filter (stage in ('pretrain', 'tuning', 'deploy', 'maintenance')), 0) as leaves_cost,
        coalesce(sum(cost) filter (leaf = 'unallocated'), 0) as unallocated_cost,
        coalesce(sum(cost) filter (leaf = 'out_of_scope'), 0) as out_of_scope_cost
    from allocated
    group by all
),

final as (
    select
        i.source_file,
        i.month,
        i.source_system,
        cast(i.input_cost as decimal(38,10)) as input_cost,
        cast(i.superseded_cost as decimal(38,10)) as superseded_cost,
        cast(coalesce(o.leaves_cost, 0) as decimal(38,10)) as leaves_cost,
        cast(coalesce(o.unallocated_cost, 0) as decimal(38,10)) as unallocated_cost,
        cast(coalesce(o.out_of_scope_cost, 0) as decimal(38,10)) as out_of_scope_cost,
        cast(i.input_cost - i.superseded_cost - coalesce(o.leaves_cost, 0) - coalesce(o.unallocated_cost, 0)
             - coalesce(o.out_of_scope_cost, 0) as decimal(38,10)) as difference,
        ll.rows_in_file,
        ll.rows_read,
        ll.rows_rejected,
        r.rows_in_raw,
        i.rows_in_core,
        it.invoice_number,
        it.printed_total,
        it.invoice_lines_booked,
        it.printed_total_difference
    from inputs i
    left join outputs o using (source_file, month)
    left join last_loads ll using (source_file)
    left join raw_rows r using (source_file)
    left join invoice_totals it using (source_file)
)

select * from final
