-- Referral (API.md "Referral"). A member's referral code is drawn the first time it is needed
-- (the portal shows it, the API asks for it); a friend is referred once (the unique index is
-- what refuses a second referral made at the same moment). The reward columns record what completing
-- the referral gave each side (points, a voucher code), so that reversing it takes back exactly
-- that and the report can add up its cost.
create table referral_codes (
    tenant_id text not null,
    member_id text not null,
    code text not null,
    created_at bigint not null,
    primary key (tenant_id, member_id)
);
create unique index referral_codes_code on referral_codes (tenant_id, code);

create table referrals (
    tenant_id text not null,
    id text not null,
    referrer_id text not null,
    friend_id text not null,
    status text not null check (status in ('pending', 'completed', 'reversed')),
    -- Where it was made: `registration`, `pos` or `portal`.
    source text not null,
    created_at bigint not null,
    completed_order_id text,
    completed_at bigint,
    reversed_at bigint,
    referrer_points bigint not null default 0,
    referrer_voucher text,
    friend_points bigint not null default 0,
    friend_voucher text,
    primary key (tenant_id, id)
);
create unique index referrals_friend on referrals (tenant_id, friend_id);
create index referrals_referrer on referrals (tenant_id, referrer_id, created_at);
create index referrals_order on referrals (tenant_id, completed_order_id)
    where completed_order_id is not null;
