-- An automation's messages, counted by its report and the automations list, without reading
-- every message of the tenant (campaigns write millions).
create index messages_automation on messages (tenant_id, automation_id, status)
    where automation_id is not null;

-- Who was in a `segment_entered` automation's segment when it last looked: a member found in
-- the segment and not here has entered it (one run per entry); one here and no longer in the
-- segment has left it, and the row goes (so entering again is a new entry).
create table automation_segment_members (
    tenant_id text not null,
    automation_id text not null,
    member_id text not null,
    entered_at bigint not null,
    primary key (tenant_id, automation_id, member_id)
);
