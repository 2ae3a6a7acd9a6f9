-- Webhook deliveries go out in batches: one sender per endpoint at a time (across instances,
-- by the lease below) takes the due heads of the endpoint's lanes, sends them together and
-- records how they went in one transaction. Only a lane's head carries `next_attempt_at`
-- (the others wait behind it with none), so the due heads are one range of an index however
-- long the backlog behind them is.
alter table webhooks add column sender text;
alter table webhooks add column sender_until bigint;

update webhook_deliveries set next_attempt_at = null
where status = 'pending'
  and exists (
      select 1 from webhook_deliveries e
      where e.tenant_id = webhook_deliveries.tenant_id
        and e.webhook_id = webhook_deliveries.webhook_id
        and e.lane = webhook_deliveries.lane
        and e.status = 'pending'
        and (e.event_tx, e.event_seq) < (webhook_deliveries.event_tx, webhook_deliveries.event_seq)
  );

create index webhook_deliveries_due on webhook_deliveries (tenant_id, webhook_id, next_attempt_at)
    where status = 'pending' and next_attempt_at is not null;

-- Each attempt of a delivery was a job; the sender now finds them by their rows.
delete from jobs where kind = 'webhook.deliver' and status <> 'running';
