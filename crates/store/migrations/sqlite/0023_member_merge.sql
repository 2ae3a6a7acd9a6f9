-- Merging two records of one person (API.md "Back office"): the record merged away stays as a
-- tombstone with status `merged` pointing at the kept one, so look-ups by its id, phone or
-- e-mail reach the kept record. SQLite cannot change a check constraint in place: the table is
-- rebuilt (SQLite's documented twelve-step procedure, within the migration's transaction).
create table members_next (
    tenant_id text not null,
    id text not null,
    member_code text not null,
    status text not null check (status in ('customer', 'member', 'blocked', 'merged')),
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
    updated_at bigint not null, points_debt bigint not null default 0, next_change_at bigint, tier_reached_at bigint, tier_review_at bigint, tier_overridden boolean not null default false, tier_override_until bigint, tier_cycle_start bigint, tier_carry bigint not null default 0, rfm_class text, rfm_score text, merged_into text,
    primary key (tenant_id, id)
);

insert into members_next (tenant_id, id, member_code, status, phone, email, name, search_text, gender, birthday, birth_month, birth_day, province, province_code, district, address, tags, attributes, external_ids, consent_email, consent_sms, consent_zalo, source, tier_id, points_available, points_pending, lifetime_points, lifetime_spend, order_count, last_order_at, member_since, created_at, updated_at, points_debt, next_change_at, tier_reached_at, tier_review_at, tier_overridden, tier_override_until, tier_cycle_start, tier_carry, rfm_class, rfm_score)
    select tenant_id, id, member_code, status, phone, email, name, search_text, gender, birthday, birth_month, birth_day, province, province_code, district, address, tags, attributes, external_ids, consent_email, consent_sms, consent_zalo, source, tier_id, points_available, points_pending, lifetime_points, lifetime_spend, order_count, last_order_at, member_since, created_at, updated_at, points_debt, next_change_at, tier_reached_at, tier_review_at, tier_overridden, tier_override_until, tier_cycle_start, tier_carry, rfm_class, rfm_score from members;
drop table members;
alter table members_next rename to members;
create unique index members_member_code_key on members (tenant_id, member_code);
create unique index members_phone_key on members (tenant_id, phone);
create unique index members_email_key on members (tenant_id, email);
create index members_next_change on members (tenant_id, next_change_at);
create index members_province on members (tenant_id, province_code);
create index members_tier on members (tenant_id, tier_id);
create index members_tier_review on members (tenant_id, tier_review_at) where tier_review_at is not null;
create index members_tier_override on members (tenant_id, tier_override_until) where tier_override_until is not null;
create index members_rfm on members (tenant_id, rfm_class) where rfm_class is not null;
create index members_merged_into on members (tenant_id, merged_into) where merged_into is not null;
-- Bonus rules ask whether a member used a voucher in a period, before each order.
create index voucher_redemptions_member_time on voucher_redemptions (tenant_id, member_id, created_at);
