-- Audit tables of the work database: what was read, refused, checked and reconciled.
create sequence if not exists audit.load_id_seq start 1;

create table if not exists audit.runs (
    run_id varchar primary key,
    started_at timestamp,
    finished_at timestamp,
    status varchar,            -- running | succeeded | failed
    month_from date,
    month_to date,
    message varchar,
    timings varchar            -- JSON: seconds per step
);

-- The current state of every file ever seen under landing/ (one row per path).
create table if not exists audit.files (
    source_file varchar primary key,   -- path relative to landing/
    source varchar,
    file_sha256 varchar,
    size_bytes bigint,
    load_id bigint,
    config_fingerprint varchar,
    status varchar,                    -- loaded | refused | missing | pending
    first_seen_at timestamp,
    last_loaded_at timestamp,
    message varchar
);

-- One row per file per load attempt.
create table if not exists audit.load_log (
    load_id bigint,
    run_id varchar,
    source varchar,
    source_file varchar,
    file_sha256 varchar,
    size_bytes bigint,
    action varchar,                    -- loaded | replaced | refused | missing | pending | dropped
    rows_in_file bigint,
    rows_read bigint,
    rows_rejected bigint,
    loaded_at timestamp,
    message varchar
);

create table if not exists audit.rejected_rows (
    load_id bigint,
    run_id varchar,
    source varchar,
    source_file varchar,
    source_row bigint,
    field varchar,
    reason varchar,
    rejected_at timestamp
);

create table if not exists audit.quality_results (
    run_id varchar,
    checked_at timestamp,
    stage varchar,
    table_name varchar,
    check_name varchar,
    severity varchar,
    success boolean,
    observed varchar
);
