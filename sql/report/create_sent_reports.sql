-- The durable record of report e-mails, in the work database (one row per send attempt).
-- A (month, recipients) with a row in status 'sent' or 'sending' is not mailed again unless forced.
create table if not exists audit.sent_reports (
    send_id varchar not null,
    month date not null,
    recipients varchar not null,          -- lower-cased, sorted, comma-separated
    content_hash varchar not null,        -- sha256 of subject, bodies, charts and CSVs
    message_id varchar not null,
    subject varchar,
    lang varchar,
    status varchar not null,              -- sending | sent | failed
    forced boolean not null,
    smtp_server varchar,
    claimed_at timestamp not null,        -- UTC
    sent_at timestamp,                    -- UTC, when the server accepted the message
    attempts integer,
    refused varchar,                      -- recipients the server refused while accepting others
    error varchar
)
