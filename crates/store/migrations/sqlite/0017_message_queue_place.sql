-- A sender reads its channel's queue from where its last turn stopped, (time, id), instead of
-- from the start: on PostgreSQL every message it claimed leaves a dead entry at the front of
-- the due index until vacuum, and a scan from the start walked all of them each turn.
drop index messages_due;
create index messages_due on messages (channel_id, next_attempt_at, id)
    where next_attempt_at is not null;
