-- Automations (API.md "Automations"): a trigger and its steps, and the runs of members through
-- them. A run is unique per (automation, member, occurrence): the occurrence is the trigger's
-- once-key (`birthday:2026`, `order:ord_…`, `lapse:<last purchase>`, `expiring:<date>`), so
-- a pass that finds the same occurrence twice starts nothing the second time. A run keeps the
-- steps it started with (an edit applies to new runs) and the step it is at; a step's effect
-- and the move past it are written in one transaction.
create table automations (
    tenant_id text not null,
    id text not null,
    name text not null,
    active boolean not null,
    trigger_type text not null,
    trigger text not null,
    steps text not null,
    -- Where an event trigger has read the tenant's event feed to.
    feed_tx bigint not null,
    feed_seq bigint not null,
    -- When a periodic trigger (birthday, no purchase, points expiring) last looked.
    passed_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create index automations_by_trigger on automations (tenant_id, trigger_type) where active;

create table automation_runs (
    tenant_id text not null,
    id text not null,
    automation_id text not null,
    member_id text not null,
    occurrence text not null,
    status text not null,
    step bigint not null,
    steps text not null,
    -- What earlier steps left for later ones (the voucher code, the order), JSON.
    context text not null,
    -- [{"step", "at", "result"}, …], JSON.
    log text not null,
    next_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, id)
);
create unique index automation_runs_once
    on automation_runs (tenant_id, automation_id, member_id, occurrence);
create index automation_runs_due on automation_runs (next_at, id) where next_at is not null;
create index automation_runs_member on automation_runs (tenant_id, member_id, created_at);
