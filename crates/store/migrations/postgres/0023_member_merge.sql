-- Merging two records of one person (API.md "Back office"): the record merged away stays as a
-- tombstone with status `merged` pointing at the kept one, so look-ups by its id, phone or
-- e-mail reach the kept record.
alter table members drop constraint members_status_check;
alter table members add constraint members_status_check
    check (status in ('customer', 'member', 'blocked', 'merged'));
alter table members add column merged_into text;
create index members_merged_into on members (tenant_id, merged_into) where merged_into is not null;
-- Bonus rules ask whether a member used a voucher in a period, before each order.
create index voucher_redemptions_member_time on voucher_redemptions (tenant_id, member_id, created_at);
