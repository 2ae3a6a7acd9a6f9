-- Outbound webhooks. Each endpoint keeps its own place in the events feed (`cursor_tx`,
-- `cursor_seq`): a new endpoint starts at the end of the feed and gets what happens after it
-- was added; the dispatcher turns the events after its place into deliveries.
create table webhooks (
    tenant_id text not null,
    id text not null,
    url text not null,
    events text not null,
    description text,
    -- The signing secret, sealed with the server's secret key (never stored in clear).
    secret_sealed text not null,
    active boolean not null,
    disabled_reason text,
    cursor_tx bigint not null,
    cursor_seq bigint not null,
    -- Since when deliveries have failed without a success in between (cleared by a success).
    failing_since bigint,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create index webhooks_active on webhooks (tenant_id) where active;

-- One row per event per endpoint: what was sent (the same bytes on every attempt and on a
-- replay), how it went. `lane` is the event's member ('' for none): within a lane, deliveries
-- go out in the order the events happened, each after the one before it is settled.
create table webhook_deliveries (
    tenant_id text not null,
    id text not null,
    webhook_id text not null,
    event_id text not null,
    event_type text not null,
    lane text not null,
    event_tx bigint not null,
    event_seq bigint not null,
    body text not null,
    status text not null,
    attempts bigint not null default 0,
    last_status_code bigint,
    last_error text,
    next_attempt_at bigint,
    created_at bigint not null,
    delivered_at bigint,
    primary key (tenant_id, id),
    unique (tenant_id, webhook_id, event_id)
);
create index webhook_deliveries_lane on webhook_deliveries (tenant_id, webhook_id, lane, event_tx, event_seq)
    where status = 'pending';

-- Proof of the server's secret key: a known text sealed with it when the first secret was
-- stored. An instance started with another key refuses to start rather than fail to read.
create table secret_key_check (
    id bigint primary key,
    sealed text not null
);
