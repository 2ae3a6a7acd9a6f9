-- Voucher programs and their codes, redemptions, the rewards catalogue and its redemptions.

create table voucher_programs (
    tenant_id text not null,
    id text not null,
    name text not null,
    kind text not null check (kind in ('percent', 'fixed', 'free_shipping', 'free_item')),
    value bigint not null,
    max_discount bigint,
    min_order bigint not null,
    free_item_sku text,
    valid_from bigint,
    valid_until bigint,
    scope text not null,
    total_uses bigint,
    uses_per_member bigint,
    stackable boolean not null,
    active boolean not null,
    code_kind text not null check (code_kind in ('shared', 'unique')),
    code_prefix text not null,
    code_length bigint not null,
    shared_code text,
    -- redemptions in force, for total_uses
    uses bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);

-- Codes are unique per tenant (whatever their program) and stored upper case.
create table vouchers (
    tenant_id text not null,
    code text not null,
    program_id text not null,
    member_id text,
    uses bigint not null default 0,
    issued_via text not null,
    created_at bigint not null,
    primary key (tenant_id, code)
);
create index vouchers_program on vouchers (tenant_id, program_id);
create index vouchers_member on vouchers (tenant_id, member_id);

create table voucher_redemptions (
    tenant_id text not null,
    id text not null,
    code text not null,
    program_id text not null,
    member_id text,
    order_ref text not null,
    order_id text,
    discount bigint not null,
    order_total bigint not null,
    status text not null check (status in ('redeemed', 'released')),
    created_at bigint not null,
    released_at bigint,
    primary key (tenant_id, id)
);
create unique index voucher_redemptions_ref on voucher_redemptions (tenant_id, code, order_ref);
create index voucher_redemptions_program on voucher_redemptions (tenant_id, program_id, created_at);
create index voucher_redemptions_member on voucher_redemptions (tenant_id, program_id, member_id);
create index voucher_redemptions_order on voucher_redemptions (tenant_id, order_id);

create table rewards (
    tenant_id text not null,
    id text not null,
    name text not null,
    points_cost bigint not null,
    kind text not null check (kind in ('voucher', 'gift')),
    voucher_program_id text,
    -- null: unlimited
    stock bigint,
    per_member_limit bigint,
    -- tier ids allowed to redeem; empty: everyone
    tiers text not null default '[]',
    active boolean not null,
    starts_at bigint,
    ends_at bigint,
    redeemed bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);

create table reward_redemptions (
    tenant_id text not null,
    id text not null,
    reward_id text not null,
    member_id text not null,
    points_spent bigint not null,
    ledger_entry_id text not null,
    voucher_code text,
    fulfilment text not null check (fulfilment in ('issued', 'pending', 'fulfilled', 'cancelled')),
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create index reward_redemptions_member on reward_redemptions (tenant_id, reward_id, member_id);
create index reward_redemptions_reward on reward_redemptions (tenant_id, reward_id, created_at);
