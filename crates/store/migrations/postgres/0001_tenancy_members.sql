-- Tenancy, staff, API keys, members and the activity log.
-- Conventions (both backends): every table leads with tenant_id; ids are text; money, points and
-- counts are bigint; instants are bigint milliseconds since the Unix epoch (UTC); JSON documents
-- are text; enums are text with a check.

create table tenants (
    tenant_id text primary key,
    name text not null,
    timezone text not null,
    currency text not null,
    program text not null default '{}',
    created_at bigint not null,
    updated_at bigint not null
);

create table brands (
    tenant_id text not null,
    id text not null,
    code text not null,
    name text not null,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index brands_code_key on brands (tenant_id, code);

create table stores (
    tenant_id text not null,
    id text not null,
    code text not null,
    name text not null,
    brand_id text,
    province text,
    province_code text,
    district text,
    address text,
    active boolean not null default true,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index stores_code_key on stores (tenant_id, code);

create table staff_users (
    tenant_id text not null,
    id text not null,
    email text not null,
    name text,
    role text not null check (role in ('owner', 'manager', 'marketer', 'cashier', 'viewer')),
    password_hash text not null,
    active boolean not null default true,
    created_at bigint not null,
    updated_at bigint not null,
    last_login_at bigint,
    primary key (tenant_id, id)
);
create unique index staff_users_email_key on staff_users (tenant_id, email);

-- The key's public prefix is unique across tenants: a request names its tenant only through
-- its key. (Under Citus this is a reference table.)
create table api_keys (
    tenant_id text not null,
    id text not null,
    name text not null,
    key_prefix text not null,
    secret_hash text not null,
    scopes text not null,
    created_by text,
    created_at bigint not null,
    last_used_at bigint,
    revoked_at bigint,
    primary key (tenant_id, id)
);
create unique index api_keys_prefix_key on api_keys (key_prefix);

create table members (
    tenant_id text not null,
    id text not null,
    member_code text not null,
    status text not null check (status in ('customer', 'member', 'blocked')),
    phone text,
    email text,
    name text,
    -- name, phone and e-mail folded to plain lower case, for "contains" search on both backends
    search_text text not null,
    gender text check (gender in ('female', 'male', 'other')),
    birthday text,
    birth_month bigint,
    birth_day bigint,
    province text,
    province_code text,
    district text,
    address text,
    tags text not null default '[]',
    attributes text not null default '{}',
    external_ids text not null default '{}',
    consent_email boolean not null default false,
    consent_sms boolean not null default false,
    consent_zalo boolean not null default false,
    source text,
    tier_id text,
    points_available bigint not null default 0,
    points_pending bigint not null default 0,
    lifetime_points bigint not null default 0,
    lifetime_spend bigint not null default 0,
    order_count bigint not null default 0,
    last_order_at bigint,
    member_since bigint,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index members_member_code_key on members (tenant_id, member_code);
create unique index members_phone_key on members (tenant_id, phone);
create unique index members_email_key on members (tenant_id, email);

-- An index over members.external_ids, so a web store's customer id finds its member.
create table member_external_ids (
    tenant_id text not null,
    system text not null,
    external_id text not null,
    member_id text not null,
    primary key (tenant_id, system, external_id)
);
create index member_external_ids_member on member_external_ids (tenant_id, member_id);

-- Append-only: who changed what, when, with the entity before and after.
create table activity_log (
    tenant_id text not null,
    id text not null,
    at bigint not null,
    actor_kind text not null check (actor_kind in ('staff', 'api_key', 'system', 'cli')),
    actor_id text,
    actor_name text,
    entity text not null,
    entity_id text not null,
    action text not null,
    before_data text,
    after_data text,
    primary key (tenant_id, id)
);
create index activity_log_entity on activity_log (tenant_id, entity, entity_id);
create index activity_log_at on activity_log (tenant_id, at);
create index activity_log_actor on activity_log (tenant_id, actor_id);

-- Answers to mutating requests sent with an Idempotency-Key, replayed on a retry.
create table idempotency_keys (
    tenant_id text not null,
    key text not null,
    request_hash text not null,
    status bigint not null,
    response text not null,
    created_at bigint not null,
    primary key (tenant_id, key)
);
