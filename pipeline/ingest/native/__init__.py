"""The clouds' own billing exports (issue 11): one module per provider, each a source like
`pipeline/ingest/focus.py` (`RAW_TABLE`, `RAW_COLUMNS`, `read`, `plan`), each with one staging
model (`sql/staging/stg_<source>.sql`) that maps its rows onto the unified line item.

    aws_cur.py      landing/aws_cur/      CUR 2.0 (Parquet, CSV.gz) and legacy CUR (CSV.gz)
    gcp_billing.py  landing/gcp_billing/  Cloud Billing export extracts (JSONL, Parquet, CSV)
    azure_cost.py   landing/azure_cost/   Cost Management cost details, EA and MCA, actual and amortized

Raw keeps every value as text, as read (Parquet doubles as their shortest round-trip text);
staging turns each amount into DECIMAL(38,10) once, per row, before anything is summed.
See docs/formats.md for each format's documentation and our reading of it.
"""
