-- Channels, campaigns and their messages (API.md "Channels and messages", "Campaigns").
--
-- A channel's secrets are one sealed JSON document (never stored in the clear); its sender
-- lease lets one instance at a time send its queued messages. A message row is written per
-- audience member when the campaign starts sending (`queued` or `suppressed`), and at most
-- one per (campaign, member): the unique index is the exactly-once guard. A claimed row is
-- `sending` until the provider's answer is recorded; one found `sending` by a new sender was
-- cut off mid-call and is retried only where the provider recognises its reference.
create table channels (
    tenant_id text not null,
    id text not null,
    type text not null,
    name text not null,
    settings text not null,
    secrets_sealed text not null,
    active boolean not null,
    sender text,
    sender_until bigint,
    last_error text,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index channels_by_id on channels (id);

create table campaigns (
    tenant_id text not null,
    id text not null,
    name text not null,
    status text not null,
    purpose text not null,
    audience text not null,
    channels text not null,
    voucher_program_id text,
    send_at bigint,
    attribution_days bigint not null,
    track_email boolean not null,
    -- How far the audience has been written into messages (member id), and whether all of it.
    audience_after text,
    audience_done boolean not null,
    audience_count bigint not null,
    created_at bigint not null,
    updated_at bigint not null,
    launched_at bigint,
    started_at bigint,
    finished_at bigint,
    primary key (tenant_id, id)
);
create index campaigns_due on campaigns (status, send_at);

create table messages (
    tenant_id text not null,
    id text not null,
    campaign_id text,
    automation_id text,
    member_id text,
    channel_id text,
    channel_type text,
    -- The next channels to fall back to: [[index, channel_id, address], …] (JSON), or null.
    fallbacks text,
    to_address text,
    purpose text not null,
    status text not null,
    reason text,
    body text,
    -- The member's template variables, kept only while a fallback may need a new rendering.
    context text,
    voucher_code text,
    provider_message_id text,
    cost bigint not null,
    attempts bigint not null,
    next_attempt_at bigint,
    test boolean not null,
    created_at bigint not null,
    sent_at bigint,
    delivered_at bigint,
    opened_at bigint,
    clicked_at bigint,
    primary key (tenant_id, id)
);
create unique index messages_once on messages (tenant_id, campaign_id, member_id)
    where campaign_id is not null and test = false;
create index messages_due on messages (channel_id, next_attempt_at)
    where next_attempt_at is not null;
create index messages_sending on messages (channel_id) where status = 'sending';
create index messages_member on messages (tenant_id, member_id, created_at);
create index messages_campaign on messages (tenant_id, campaign_id, status);
create index messages_provider on messages (channel_id, provider_message_id)
    where provider_message_id is not null;
