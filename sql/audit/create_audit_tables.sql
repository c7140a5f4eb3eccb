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
    status varchar,                    -- loaded | refused | missing | dropped | duplicate | moved | forgotten | removed
    first_seen_at timestamp,
    last_loaded_at timestamp,
    message varchar,
    -- (added in place on warehouses built before them: pipeline.db.upgrade_audit_tables)
    delivery varchar,                  -- the delivery the file is part of (docs/formats.md)
    booked_sha256 varchar,             -- the content whose rows are on the books under this path (NULL: none)
    duplicate_of varchar               -- duplicate: the path its content is booked under, moved: where it went
);

-- What each landing file's bytes hashed to, and its stat when they were hashed (one row per
-- path): a file whose size, mtime, ctime, inode and device are all unchanged is not read again
-- (pipeline/landing/walk.py, ingest.trust_file_stat). A cache: deleting its rows only costs a re-hash.
create table if not exists audit.file_hashes (
    source_file varchar primary key,   -- path relative to landing/
    size_bytes bigint,
    mtime_ns bigint,
    ctime_ns bigint,
    inode ubigint,
    device ubigint,
    file_sha256 varchar,
    hashed_at timestamp
);

-- The result of each month-local SQL check (sql/checks/ reading only month-partitioned tables),
-- one row per check and month: a month whose rows are as they were when it was checked is not
-- checked again (pipeline/quality). The transform deletes the months it rebuilds. A cache:
-- deleting its rows only costs a check over the whole ledger.
create table if not exists audit.checked_months (
    check_name varchar,
    check_sha256 varchar,
    month date,
    inputs varchar,          -- the month's rows, billed and effective cost of each table read
    offending_rows bigint,
    first_row varchar,       -- the month's first offending row, as audit.quality_results shows it
    checked_at timestamp,
    primary key (check_name, month)
);

-- The raw gate's per-file counts of each raw table (pipeline/quality/suites.py), one row per
-- file: a file whose loads and their rows are as they were when it was counted is not counted
-- again. A cache: deleting its rows only costs counting every file again.
create table if not exists audit.checked_files (
    raw_table varchar,
    probe_key varchar,       -- SHA-256 of the table's rules (a changed rule counts every file again)
    source_file varchar,
    loads varchar,           -- 'load_id:rows' of each load of the file when it was counted
    frame_row varchar,       -- the file's counts as JSON
    checked_at timestamp,
    primary key (probe_key, source_file)
);

-- One row per file per load attempt.
create table if not exists audit.load_log (
    load_id bigint,
    run_id varchar,
    source varchar,
    source_file varchar,
    file_sha256 varchar,
    size_bytes bigint,
    action varchar,                    -- loaded | replaced | refused | missing | pending | dropped | duplicate | moved | forgotten
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
    rejected_at timestamp,
    cost decimal(38,10),               -- the amount the row carried, where it parsed (original currency)
    currency varchar                   -- its ISO-4217 currency, where it parsed
);

-- Files a person took out of the books with `costledger forget PATH --reason TEXT`.
create table if not exists audit.forgotten_files (
    source_file varchar,
    source varchar,
    file_sha256 varchar,               -- the content that was booked
    load_id bigint,                    -- the load that booked it (audit.load_log)
    rows_removed bigint,               -- its rows taken out of raw
    cost decimal(38,10),               -- what they carried, in the reporting currency at the cost basis
    currency varchar,
    first_month date,
    last_month date,
    reason varchar,
    forgotten_at timestamp,
    forgotten_by varchar               -- the OS user who ran the command
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

-- What core's month partitions (core.line_items, core.allocated_line_items) were last built
-- from: every load in the raw tables with its row count and a hash of its rows, and the months
-- its lines fall in. Replaced by each transform, inside its transaction. The next run compares
-- the raw tables with it to find the months to recompute (pipeline/transform/scope.py).
create table if not exists audit.built_loads (
    raw_table varchar,
    load_id bigint,
    raw_rows bigint,
    raw_hash hugeint,
    months date[]
);

-- What each run's transform recomputed: every month (mode 'full', with the reason) or a list of
-- months (mode 'months'), decided once per run, so the separate steps of an orchestrated run
-- (transform, publish) see the same set.
create table if not exists audit.run_scope (
    run_id varchar primary key,
    decided_at timestamp,
    mode varchar,              -- full | months | range
    reason varchar,            -- one line: why full, or which files touched the months
    months date[],             -- the months recomputed (mode months/range)
    loads bigint[],            -- the loads whose raw rows the recomputed months read
    months_in_ledger integer,  -- months in core after the transform
    fingerprints varchar,      -- JSON: code, settings and config-file hashes the build used
    built boolean              -- the transform committed
);
