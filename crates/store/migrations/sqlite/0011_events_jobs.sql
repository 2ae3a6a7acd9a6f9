-- The transactional outbox: every change writes its events in its own transaction. `seq` orders
-- the feed (SQLite's writers take turns, so a later seq never commits before an earlier one);
-- `tx` is 0 here and is the transaction id on PostgreSQL. No AUTOINCREMENT (one write fewer per
-- change): the purge always keeps the newest event, so a new seq is always above every old one.
create table events (
    seq integer primary key,
    tx bigint not null default 0,
    tenant_id text not null,
    id text not null,
    type text not null,
    member_id text,
    created_at bigint not null,
    data text not null
);
-- No feed index here: SQLite serves one shop (rarely a few tenants), whose feed is a range of
-- `seq` read in key order; an index would be one more write on every change's critical path.

-- One durable queue for the asynchronous work of every instance. A job is leased for 25 s at
-- a time (renewed while it runs), so one whose process died is taken again; `key`
-- makes enqueueing idempotent.
create table jobs (
    id text primary key,
    tenant_id text not null,
    kind text not null,
    key text not null unique,
    payload text not null,
    status text not null,
    due_at bigint not null,
    attempts bigint not null default 0,
    max_attempts bigint not null,
    leased_by text,
    lease_until bigint,
    last_error text,
    created_at bigint not null,
    finished_at bigint
);
create index jobs_queued on jobs (due_at) where status = 'queued';
create index jobs_running on jobs (lease_until) where status = 'running';
create index jobs_finished on jobs (finished_at) where finished_at is not null;

-- What the queue's probe jobs did (`loyalty jobs probe`): one row per run, so that an operator
-- (and the two-instance test) sees every job ran once and which instance ran it.
create table job_probes (
    job_id text not null,
    instance text not null,
    ran_at bigint not null
);
