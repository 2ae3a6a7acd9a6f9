-- Saved segments, RFM classes, imports and products.

create table segments (
    tenant_id text not null,
    id text not null,
    name text not null,
    description text,
    conditions text not null,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);

alter table members add column rfm_class text;
alter table members add column rfm_score text;
create index members_rfm on members (tenant_id, rfm_class);
create index members_province on members (tenant_id, province_code);
create index members_tier on members (tenant_id, tier_id);

create table imports (
    tenant_id text not null,
    id text not null,
    kind text not null check (kind in ('members', 'orders', 'products')),
    status text not null check (status in ('running', 'done', 'failed')),
    total bigint not null default 0,
    imported bigint not null default 0,
    failed bigint not null default 0,
    -- the first rows' errors, as JSON [{row, field, message}]
    errors text not null default '[]',
    message text,
    created_at bigint not null,
    finished_at bigint,
    primary key (tenant_id, id)
);

create table products (
    tenant_id text not null,
    sku text not null,
    name text not null,
    category text,
    brand text,
    price bigint not null,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, sku)
);
