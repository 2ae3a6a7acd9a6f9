-- The consent history (Decree 13/2023): every change of a member's marketing consent per
-- channel, where it came from (api, ui, portal, unsubscribe, import) and who made it, written
-- in the transaction of the change.
create table consent_history (
    tenant_id text not null,
    id text not null,
    member_id text not null,
    channel text not null,
    granted boolean not null,
    source text not null,
    actor_kind text not null,
    actor_id text,
    actor_name text,
    at bigint not null,
    primary key (tenant_id, id)
);
create index consent_history_member on consent_history (tenant_id, member_id, id);
