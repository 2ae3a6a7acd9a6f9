-- Web-store and POS connections: one per store on Haravan, Shopify, Sapo or KiotViet. The
-- webhook URL names the connection by id alone (the platform does not know our tenant), so
-- ids are unique across tenants.
create table connections (
    tenant_id text not null,
    id text not null,
    platform text not null,
    name text not null,
    -- The platform's signing secret and Haravan's verify token, sealed with the server's key.
    secret_sealed text not null,
    verify_token_sealed text,
    store text,
    brand text,
    active boolean not null,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index connections_id on connections (id);

-- What came in on a connection and what we did with it: one row per message of a delivery
-- (a KiotViet delivery may carry several). A platform's retry of the same delivery finds its
-- row (by the platform's delivery id, or the body's hash) and only counts the receipt.
create table connection_deliveries (
    tenant_id text not null,
    id text not null,
    connection_id text not null,
    delivery_key text not null,
    part bigint not null,
    topic text not null,
    -- The platform's order id the message was about, and our order.
    order_ref text,
    order_id text,
    -- applied | ignored | error
    result text not null,
    -- Why nothing was done, as `loyalty_connect::sync` says it (a cancellation that came
    -- before the order was paid is looked up by it).
    reason text,
    detail text,
    error text,
    receipts bigint not null,
    received_at bigint not null,
    last_received_at bigint not null,
    primary key (tenant_id, id),
    unique (tenant_id, connection_id, delivery_key, part)
);
create index connection_deliveries_list on connection_deliveries (tenant_id, connection_id, id);
create index connection_deliveries_age on connection_deliveries (last_received_at);
create index connection_deliveries_order on connection_deliveries (tenant_id, connection_id, order_ref)
    where order_ref is not null;
