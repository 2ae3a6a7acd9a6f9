-- Mutating API requests sent with an Idempotency-Key. The row is claimed inside the transaction
-- of the request's change, so the change and its key commit together or not at all; the answer
-- is added as soon as it is known and replayed to a retry. Rows live 24 hours. (The table of
-- 0001 was never written to; its columns could not hold a claim without an answer.)
drop table idempotency_keys;
create table idempotency_keys (
    tenant_id text not null,
    key text not null,
    method text not null,
    path text not null,
    request_hash text not null,
    -- Which request's transaction made the claim: only that request stores its answer.
    claim_id text not null,
    status bigint,
    content_type text,
    location text,
    response text,
    created_at bigint not null,
    primary key (tenant_id, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);

-- Requests per second a key may make (null: the server's default).
alter table api_keys add column rate_limit_per_s bigint;
