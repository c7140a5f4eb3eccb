-- Audit tables of the work database: what was read, refused, checked and reconciled.
create sequence if not exists audit.load_id_seq start 1;

-- One row per run. status: running (a process holding the run lock is at work) | waiting
-- (between two steps an orchestrator runs as separate tasks) | publishing (building the
-- published file: the published file's own copy of this table shows its builder so) |
-- succeeded (written only after the swap) | failed | interrupted (no process held the lock any
-- more: killed or crashed, as the next run records and `costledger status` shows).
create table if not exists audit.runs (
    run_id varchar primary key,
    started_at timestamp,
    finished_at timestamp,
    status varchar,
    month_from date,
    month_to date,
    message varchar,
    timings varchar,           -- JSON: seconds per step
    inputs_fingerprint varchar, -- landing files as booked + config + code, when the run published them
    published_stamp varchar    -- size:mtime_ns:inode of the published file after the run
);
alter table audit.runs add column if not exists inputs_fingerprint varchar;
alter table audit.runs add column if not exists published_stamp varchar;

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
