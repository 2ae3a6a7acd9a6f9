-- Most members have no review date, no override and (on a fresh import) no RFM class: partial
-- indexes keep those members out of three indexes, so inserting a member writes fewer pages.
-- Queries compare these columns (`tier_review_at <= $2`), which implies `is not null`, so both
-- databases still use the indexes.
drop index members_tier_review;
drop index members_tier_override;
drop index members_rfm;
create index members_tier_review on members (tenant_id, tier_review_at) where tier_review_at is not null;
create index members_tier_override on members (tenant_id, tier_override_until) where tier_override_until is not null;
create index members_rfm on members (tenant_id, rfm_class) where rfm_class is not null;
