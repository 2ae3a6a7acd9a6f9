-- Membership tiers, their history, and each member's standing on the ladder.

create table tiers (
    tenant_id text not null,
    id text not null,
    name text not null,
    rank bigint not null,
    threshold bigint not null,
    -- on base points, in thousandths: 1500 is x1.5
    earn_multiplier bigint not null,
    discount_percent bigint not null,
    brand_discounts text not null default '[]',
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index tiers_rank_key on tiers (tenant_id, rank);

create table tier_history (
    tenant_id text not null,
    id text not null,
    member_id text not null,
    from_tier_id text,
    from_name text,
    to_tier_id text,
    to_name text,
    reason text not null check (reason in ('upgrade', 'review', 'override', 'import')),
    -- the qualifying value at the time
    value bigint not null,
    note text,
    actor_kind text,
    actor_id text,
    at bigint not null,
    primary key (tenant_id, id)
);
create index tier_history_member on tier_history (tenant_id, member_id, at);

alter table members add column tier_reached_at bigint;
alter table members add column tier_review_at bigint;
alter table members add column tier_overridden boolean not null default false;
alter table members add column tier_override_until bigint;
-- reset cycles: where the current cycle started and what was carried into it
alter table members add column tier_cycle_start bigint;
alter table members add column tier_carry bigint not null default 0;
create index members_tier_review on members (tenant_id, tier_review_at);
create index members_tier_override on members (tenant_id, tier_override_until);
