-- An automation's messages, counted by its report and the automations list, without reading
-- every message of the tenant (campaigns write millions).
create index messages_automation on messages (tenant_id, automation_id, status)
    where automation_id is not null;
