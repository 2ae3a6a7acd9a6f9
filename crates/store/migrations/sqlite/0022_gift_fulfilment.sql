-- Gift rewards handed over or cancelled (API.md "Back office"): the store that handed the gift
-- over, when it was settled, and why a cancelled one was. A handed-over gift keeps the stored
-- value `fulfilled` (0006's check allows it); the API calls it `handed_over`.
alter table reward_redemptions add column store text;
alter table reward_redemptions add column settled_at bigint;
alter table reward_redemptions add column cancel_reason text;
create index reward_redemptions_fulfilment on reward_redemptions (tenant_id, fulfilment, created_at);
