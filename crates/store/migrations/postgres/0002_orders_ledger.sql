-- Orders, the points ledger, bonus earning rules and job leases.

alter table members add column points_debt bigint not null default 0;
alter table members add column next_change_at bigint;
create index members_next_change on members (tenant_id, next_change_at);

create table orders (
    tenant_id text not null,
    id text not null,
    source text not null,
    external_id text not null,
    member_id text,
    status text not null check (status in ('paid', 'cancelled', 'partially_refunded', 'refunded')),
    brand text,
    store text,
    channel text,
    placed_at bigint not null,
    currency text not null,
    subtotal bigint not null,
    discount bigint not null,
    shipping bigint not null,
    total bigint not null,
    -- points spent on the order, and the money they paid
    points_redeemed bigint not null default 0,
    redeemed_value bigint not null default 0,
    -- the member's nth paid order (1 = first), for rules and reports
    member_index bigint,
    base_points bigint not null default 0,
    points_earned bigint not null default 0,
    points_reversed bigint not null default 0,
    points_returned bigint not null default 0,
    refunded_amount bigint not null default 0,
    breakdown text not null default '[]',
    -- the answer given when the order was posted, replayed to retries
    receipt text,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index orders_source_key on orders (tenant_id, source, external_id);
create index orders_member on orders (tenant_id, member_id, placed_at);
create index orders_placed on orders (tenant_id, placed_at);

create table order_lines (
    tenant_id text not null,
    order_id text not null,
    line_no bigint not null,
    sku text,
    name text,
    category text,
    quantity bigint not null,
    unit_price bigint not null,
    primary key (tenant_id, order_id, line_no)
);

create table order_refunds (
    tenant_id text not null,
    order_id text not null,
    external_id text not null,
    amount bigint not null,
    points_reversed bigint not null,
    created_at bigint not null,
    primary key (tenant_id, order_id, external_id)
);

-- Append-only. A credit (earn, positive adjust) is also a lot: `remaining` is what is left of
-- it to spend, reverse or expire. Debits have no `remaining`.
create table ledger_entries (
    tenant_id text not null,
    id text not null,
    member_id text not null,
    kind text not null check (kind in ('earn', 'redeem', 'expire', 'reverse', 'adjust')),
    points bigint not null,
    remaining bigint,
    order_id text,
    reason text,
    actor_kind text,
    actor_id text,
    actor_name text,
    created_at bigint not null,
    available_at bigint,
    expires_at bigint,
    primary key (tenant_id, id)
);
create index ledger_entries_member on ledger_entries (tenant_id, member_id, id);
create index ledger_entries_live_lots on ledger_entries (tenant_id, member_id) where remaining > 0;
create index ledger_entries_order on ledger_entries (tenant_id, order_id);

-- Which lots a debit took its points from, so a cancelled order's spent points go back where
-- they came from (and not into an expired lot).
create table lot_takes (
    tenant_id text not null,
    entry_id text not null,
    lot_id text not null,
    points bigint not null,
    primary key (tenant_id, entry_id, lot_id)
);

create table earn_rules (
    tenant_id text not null,
    id text not null,
    name text not null,
    active boolean not null,
    starts_at bigint,
    ends_at bigint,
    conditions text not null,
    effect text not null,
    caps text not null,
    awarded_points bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);

-- Points a rule gave one member on one local day, for `caps.per_member_per_day`.
create table earn_rule_days (
    tenant_id text not null,
    rule_id text not null,
    member_id text not null,
    day text not null,
    points bigint not null,
    primary key (tenant_id, rule_id, member_id, day)
);

-- Background jobs take a lease so that one instance runs each job at a time.
create table job_leases (
    tenant_id text not null,
    name text not null,
    holder text not null,
    expires_at bigint not null,
    primary key (tenant_id, name)
);
