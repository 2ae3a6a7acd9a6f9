-- The member portal (API.md "Member portal and widget"): a tenant is found by its portal's
-- slug; one-time sign-in codes are kept salted and hashed with their wrong tries; a member's
-- session is kept as the hash of its token (a copy of the database signs nobody in).
alter table tenants add column portal_slug text;
create unique index tenants_portal_slug on tenants (portal_slug) where portal_slug is not null;

create table portal_codes (
    tenant_id text not null,
    id text not null,
    phone text not null,
    -- The client address that asked (the per-client hourly limit).
    client text not null,
    salt text not null,
    hash text not null,
    tries bigint not null,
    used_at bigint,
    created_at bigint not null,
    primary key (tenant_id, id)
);
create index portal_codes_phone on portal_codes (tenant_id, phone, created_at);
create index portal_codes_client on portal_codes (tenant_id, client, created_at);

create table portal_sessions (
    tenant_id text not null,
    token_hash text not null,
    member_id text not null,
    expires_at bigint not null,
    created_at bigint not null,
    primary key (tenant_id, token_hash)
);

-- A member acting from the portal is an actor of the activity log.
alter table activity_log drop constraint if exists activity_log_actor_kind_check;
alter table activity_log add constraint activity_log_actor_kind_check
    check (actor_kind in ('staff', 'api_key', 'system', 'cli', 'member'));
