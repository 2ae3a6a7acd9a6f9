//! Channels, campaigns and messages. A message row is the exactly-once record of a send: it
//! is written before the provider is called, claimed (`sending`) by the one sender of its
//! channel, and settled with the provider's answer.

use std::collections::HashMap;

use jiff::Timestamp;
use loyalty_core::campaign::{Campaign, CampaignStatus, Channel, Message, MessageStatus};
use loyalty_core::messaging::Purpose;

use super::{json, ms, rows_in, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value, row_placeholders};
use crate::{Page, Paged};

// ---- channels ----

const CHANNEL_COLUMNS: &str =
    "id, type, name, settings, secrets_sealed, active, last_error, created_at, updated_at";

fn channel_from_row(row: &Row) -> Result<Channel, DbError> {
    Ok(Channel {
        id: row.get("id")?,
        channel_type: row.get("type")?,
        name: row.get("name")?,
        settings: json(row, "settings")?,
        secrets_sealed: row.get("secrets_sealed")?,
        active: row.get("active")?,
        last_error: row.get("last_error")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub fn insert_channel(sql: &mut dyn Sql, tenant_id: &str, c: &Channel) -> Result<(), DbError> {
    sql.execute(
        "insert into channels (tenant_id, id, type, name, settings, secrets_sealed, active,
             last_error, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            tenant_id,
            c.id.as_str(),
            c.channel_type.as_str(),
            c.name.as_str(),
            to_json(&c.settings),
            c.secrets_sealed.as_str(),
            c.active,
            c.last_error.as_deref(),
            ms(c.created_at),
            ms(c.updated_at)
        ],
    )?;
    Ok(())
}

pub fn update_channel(sql: &mut dyn Sql, tenant_id: &str, c: &Channel) -> Result<(), DbError> {
    sql.execute(
        "update channels set name = $3, settings = $4, secrets_sealed = $5, active = $6,
             last_error = $7, updated_at = $8
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            c.id.as_str(),
            c.name.as_str(),
            to_json(&c.settings),
            c.secrets_sealed.as_str(),
            c.active,
            c.last_error.as_deref(),
            ms(c.updated_at)
        ],
    )?;
    Ok(())
}

/// Replaces the sealed secrets only if they are still `before` (Zalo's refresh token is
/// single-use: of two refreshes, the second must not overwrite the first's tokens).
pub fn swap_secrets(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    before: &str,
    after: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    Ok(sql.execute(
        "update channels set secrets_sealed = $4, updated_at = $5
         where tenant_id = $1 and id = $2 and secrets_sealed = $3",
        params![tenant_id, id, before, after, ms(now)],
    )? == 1)
}

pub fn set_channel_error(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    error: Option<&str>,
) -> Result<(), DbError> {
    sql.execute(
        "update channels set last_error = $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, error],
    )?;
    Ok(())
}

pub fn get_channel(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Channel>, DbError> {
    let rows = sql.query(
        &format!("select {CHANNEL_COLUMNS} from channels where tenant_id = $1 and id = $2"),
        params![tenant_id, id],
    )?;
    rows.first().map(channel_from_row).transpose()
}

/// A channel found by its id alone, with its tenant: a provider's delivery report names only
/// the channel (its URL), and the channel's own secrets verify it.
pub fn find_channel(sql: &mut dyn Sql, id: &str) -> Result<Option<(String, Channel)>, DbError> {
    let rows = sql.query(
        &format!("select tenant_id, {CHANNEL_COLUMNS} from channels where id = $1"),
        params![id],
    )?;
    rows.first()
        .map(|r| Ok((r.get("tenant_id")?, channel_from_row(r)?)))
        .transpose()
}

pub fn list_channels(sql: &mut dyn Sql, tenant_id: &str) -> Result<Vec<Channel>, DbError> {
    sql.query(
        &format!(
            "select {CHANNEL_COLUMNS} from channels where tenant_id = $1 order by created_at, id"
        ),
        params![tenant_id],
    )?
    .iter()
    .map(channel_from_row)
    .collect()
}

/// Deletes a channel no message names; `false` when one does (it can be switched off instead).
pub fn delete_channel(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<bool, DbError> {
    let used: i64 = sql.query_scalar(
        "select count(*) from (select 1 from messages where tenant_id = $1 and channel_id = $2 limit 1) used",
        params![tenant_id, id],
    )?;
    if used > 0 {
        return Ok(false);
    }
    sql.execute(
        "delete from channels where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?;
    Ok(true)
}

/// Takes (or renews) the channel's sender lease for `holder` until `until`, unless another
/// holder's is still running.
pub fn acquire_sender(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, DbError> {
    Ok(sql.execute(
        "update channels set sender = $3, sender_until = $4
         where tenant_id = $1 and id = $2
           and (sender is null or sender = $3 or sender_until is null or sender_until <= $5)",
        params![tenant_id, id, holder, ms(until), ms(now)],
    )? == 1)
}

pub fn release_sender(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    holder: &str,
) -> Result<(), DbError> {
    sql.execute(
        "update channels set sender = null, sender_until = null
         where tenant_id = $1 and id = $2 and sender = $3",
        params![tenant_id, id, holder],
    )?;
    Ok(())
}

/// Channels with a message due, or with messages a dead sender left `sending` (its lease
/// over): an index probe per channel, however long the queue.
pub fn channels_with_work(
    sql: &mut dyn Sql,
    now: Timestamp,
) -> Result<Vec<(String, String)>, DbError> {
    sql.query(
        "select c.tenant_id, c.id from channels c
         where c.active and (
             exists (select 1 from messages m
                     where m.channel_id = c.id and m.next_attempt_at <= $1)
             or ((c.sender_until is null or c.sender_until <= $1)
                 and exists (select 1 from messages m
                             where m.channel_id = c.id and m.status = 'sending')))",
        params![ms(now)],
    )?
    .iter()
    .map(|r| Ok((r.get("tenant_id")?, r.get("id")?)))
    .collect()
}

// ---- campaigns ----

const CAMPAIGN_COLUMNS: &str = "id, name, status, purpose, audience, channels, voucher_program_id,
     send_at, attribution_days, track_email, audience_after, audience_done, audience_count,
     created_at, updated_at, launched_at, started_at, finished_at";

fn campaign_from_row(row: &Row) -> Result<Campaign, DbError> {
    let status: String = row.get("status")?;
    let purpose: String = row.get("purpose")?;
    Ok(Campaign {
        id: row.get("id")?,
        name: row.get("name")?,
        status: CampaignStatus::parse(&status)
            .ok_or_else(|| DbError::Decode(format!("campaign status {status}")))?,
        purpose: Purpose::parse(&purpose)
            .ok_or_else(|| DbError::Decode(format!("purpose {purpose}")))?,
        audience: json(row, "audience")?,
        channels: json(row, "channels")?,
        voucher_program_id: row.get("voucher_program_id")?,
        send_at: ts_opt(row, "send_at")?,
        attribution_days: row.get("attribution_days")?,
        track_email: row.get("track_email")?,
        audience_after: row.get("audience_after")?,
        audience_done: row.get("audience_done")?,
        audience_count: row.get("audience_count")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        launched_at: ts_opt(row, "launched_at")?,
        started_at: ts_opt(row, "started_at")?,
        finished_at: ts_opt(row, "finished_at")?,
    })
}

fn campaign_values<'a>(tenant_id: &'a str, c: &'a Campaign) -> Vec<Value<'a>> {
    params![
        tenant_id,
        c.id.as_str(),
        c.name.as_str(),
        c.status.as_str(),
        c.purpose.as_str(),
        to_json(&c.audience),
        to_json(&c.channels),
        c.voucher_program_id.as_deref(),
        c.send_at.map(ms),
        c.attribution_days,
        c.track_email,
        c.audience_after.as_deref(),
        c.audience_done,
        c.audience_count,
        ms(c.created_at),
        ms(c.updated_at),
        c.launched_at.map(ms),
        c.started_at.map(ms),
        c.finished_at.map(ms)
    ]
    .to_vec()
}

pub fn insert_campaign(sql: &mut dyn Sql, tenant_id: &str, c: &Campaign) -> Result<(), DbError> {
    sql.execute(
        &format!(
            "insert into campaigns (tenant_id, {CAMPAIGN_COLUMNS})
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ),
        &campaign_values(tenant_id, c),
    )?;
    Ok(())
}

pub fn update_campaign(sql: &mut dyn Sql, tenant_id: &str, c: &Campaign) -> Result<(), DbError> {
    sql.execute(
        "update campaigns set name = $3, status = $4, purpose = $5, audience = $6, channels = $7,
             voucher_program_id = $8, send_at = $9, attribution_days = $10, track_email = $11,
             audience_after = $12, audience_done = $13, audience_count = $14, created_at = $15,
             updated_at = $16, launched_at = $17, started_at = $18, finished_at = $19
         where tenant_id = $1 and id = $2",
        &campaign_values(tenant_id, c),
    )?;
    Ok(())
}

pub fn get_campaign(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Campaign>, DbError> {
    get_campaign_with(sql, tenant_id, id, "")
}

/// Reads a campaign to change it: on PostgreSQL the row stays locked until the commit.
pub fn get_campaign_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Campaign>, DbError> {
    let lock = sql.backend().for_update();
    get_campaign_with(sql, tenant_id, id, lock)
}

fn get_campaign_with(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    suffix: &str,
) -> Result<Option<Campaign>, DbError> {
    let rows = sql.query(
        &format!(
            "select {CAMPAIGN_COLUMNS} from campaigns where tenant_id = $1 and id = $2{suffix}"
        ),
        params![tenant_id, id],
    )?;
    rows.first().map(campaign_from_row).transpose()
}

/// A tenant's campaigns, newest first.
pub fn list_campaigns(
    sql: &mut dyn Sql,
    tenant_id: &str,
    page: &Page,
) -> Result<Paged<Campaign>, DbError> {
    let rows = sql.query(
        &format!(
            "select {CAMPAIGN_COLUMNS} from campaigns where tenant_id = $1 and id < $2
             order by id desc limit $3"
        ),
        params![
            tenant_id,
            page.after.as_deref().unwrap_or("\u{10FFFF}"),
            page.limit + 1
        ],
    )?;
    let found = rows
        .iter()
        .map(campaign_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(found, page.limit, |c| &c.id))
}

/// Campaigns whose audience is still to be written (scheduled and due, or sending and not
/// done), and campaigns sending whose every message is settled: (tenant, id).
pub fn campaigns_to_advance(
    sql: &mut dyn Sql,
    now: Timestamp,
) -> Result<Vec<(String, String)>, DbError> {
    sql.query(
        "select tenant_id, id from campaigns
         where (status = 'scheduled' and send_at <= $1) or status = 'sending'",
        params![ms(now)],
    )?
    .iter()
    .map(|r| Ok((r.get("tenant_id")?, r.get("id")?)))
    .collect()
}

// ---- messages ----

const MESSAGE_COLUMNS: &str = "id, campaign_id, automation_id, member_id, channel_id, channel_type,
     fallbacks, to_address, purpose, status, reason, body, context, voucher_code,
     provider_message_id, cost, attempts, next_attempt_at, test, created_at, sent_at,
     delivered_at, opened_at, clicked_at";
const MESSAGE_WIDTH: usize = 25;

fn opt_json(row: &Row, column: &str) -> Result<Option<serde_json::Value>, DbError> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| DbError::Decode(format!("column {column}: {e}")))
    })
    .transpose()
}

fn message_from_row(row: &Row) -> Result<Message, DbError> {
    let status: String = row.get("status")?;
    let purpose: String = row.get("purpose")?;
    Ok(Message {
        id: row.get("id")?,
        campaign_id: row.get("campaign_id")?,
        automation_id: row.get("automation_id")?,
        member_id: row.get("member_id")?,
        channel_id: row.get("channel_id")?,
        channel_type: row.get("channel_type")?,
        fallbacks: opt_json(row, "fallbacks")?,
        to: row.get("to_address")?,
        purpose: Purpose::parse(&purpose)
            .ok_or_else(|| DbError::Decode(format!("purpose {purpose}")))?,
        status: MessageStatus::parse(&status)
            .ok_or_else(|| DbError::Decode(format!("message status {status}")))?,
        reason: row.get("reason")?,
        body: opt_json(row, "body")?,
        context: opt_json(row, "context")?,
        voucher_code: row.get("voucher_code")?,
        provider_message_id: row.get("provider_message_id")?,
        cost: row.get("cost")?,
        attempts: row.get("attempts")?,
        next_attempt_at: ts_opt(row, "next_attempt_at")?,
        test: row.get("test")?,
        created_at: ts(row, "created_at")?,
        sent_at: ts_opt(row, "sent_at")?,
        delivered_at: ts_opt(row, "delivered_at")?,
        opened_at: ts_opt(row, "opened_at")?,
        clicked_at: ts_opt(row, "clicked_at")?,
    })
}

fn push_message<'a>(values: &mut Vec<Value<'a>>, tenant_id: &'a str, m: &'a Message) {
    values.extend([
        tenant_id.into(),
        m.id.as_str().into(),
        m.campaign_id.as_deref().into(),
        m.automation_id.as_deref().into(),
        m.member_id.as_deref().into(),
        m.channel_id.as_deref().into(),
        m.channel_type.as_deref().into(),
        m.fallbacks.as_ref().map(to_json).into(),
        m.to.as_deref().into(),
        m.purpose.as_str().into(),
        m.status.as_str().into(),
        m.reason.as_deref().into(),
        m.body.as_ref().map(to_json).into(),
        m.context.as_ref().map(to_json).into(),
        m.voucher_code.as_deref().into(),
        m.provider_message_id.as_deref().into(),
        m.cost.into(),
        m.attempts.into(),
        m.next_attempt_at.map(ms).into(),
        m.test.into(),
        ms(m.created_at).into(),
        m.sent_at.map(ms).into(),
        m.delivered_at.map(ms).into(),
        m.opened_at.map(ms).into(),
        m.clicked_at.map(ms).into(),
    ]);
}

/// Writes new messages, many to a statement; one already written for its (campaign, member)
/// is left as it is (a resumed audience pass writes nothing twice).
pub fn insert_messages(
    sql: &mut dyn Sql,
    tenant_id: &str,
    messages: &[Message],
) -> Result<u64, DbError> {
    let mut written = 0;
    for chunk in messages.chunks(40) {
        let mut values = Vec::with_capacity(chunk.len() * MESSAGE_WIDTH);
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, m) in chunk.iter().enumerate() {
            push_message(&mut values, tenant_id, m);
            rows.push(row_placeholders(i, MESSAGE_WIDTH, 1));
        }
        written += sql.execute(
            &format!(
                "insert into messages (tenant_id, {MESSAGE_COLUMNS}) values {}
                 on conflict (tenant_id, campaign_id, member_id)
                     where campaign_id is not null and test = false do nothing",
                rows.join(", ")
            ),
            &values,
        )?;
    }
    Ok(written)
}

/// Saves what a sender decided about a message.
pub fn save_message(sql: &mut dyn Sql, tenant_id: &str, m: &Message) -> Result<(), DbError> {
    sql.execute(
        "update messages set channel_id = $3, channel_type = $4, fallbacks = $5, to_address = $6,
             status = $7, reason = $8, body = $9, context = $10, provider_message_id = $11,
             cost = $12, attempts = $13, next_attempt_at = $14, sent_at = $15,
             delivered_at = $16, opened_at = $17, clicked_at = $18
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            m.id.as_str(),
            m.channel_id.as_deref(),
            m.channel_type.as_deref(),
            m.fallbacks.as_ref().map(to_json),
            m.to.as_deref(),
            m.status.as_str(),
            m.reason.as_deref(),
            m.body.as_ref().map(to_json),
            m.context.as_ref().map(to_json),
            m.provider_message_id.as_deref(),
            m.cost,
            m.attempts,
            m.next_attempt_at.map(ms),
            m.sent_at.map(ms),
            m.delivered_at.map(ms),
            m.opened_at.map(ms),
            m.clicked_at.map(ms)
        ],
    )?;
    Ok(())
}

/// Records messages the provider took, many to a statement: (id, the provider's id). The rows
/// are named by a row-value list (an index probe each, whatever the statistics of a table that
/// grew by a million rows a minute ago say) and the provider's ids chosen by a `case`.
pub fn settle_sent(
    sql: &mut dyn Sql,
    tenant_id: &str,
    sent: &[(&str, Option<&str>)],
    sent_at: Timestamp,
    cost: i64,
) -> Result<(), DbError> {
    for chunk in sent.chunks(200) {
        let mut values: Vec<Value<'_>> = vec![ms(sent_at).into(), cost.into()];
        let mut cases = String::new();
        for (id, provider_id) in chunk {
            values.push((*id).into());
            values.push((*provider_id).into());
            cases.push_str(&format!(
                " when ${} then ${}",
                values.len() - 1,
                values.len()
            ));
        }
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| *id).collect();
        let list = rows_in(sql.backend(), &mut values, &[tenant_id], &ids);
        sql.execute(
            &format!(
                "update messages set status = 'sent', sent_at = $1, cost = $2, reason = null,
                     context = null, fallbacks = null, next_attempt_at = null,
                     provider_message_id = case id{cases} end
                 where (tenant_id, id) in ({list})"
            ),
            &values,
        )?;
    }
    Ok(())
}

pub fn get_message(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Message>, DbError> {
    let rows = sql.query(
        &format!("select {MESSAGE_COLUMNS} from messages where tenant_id = $1 and id = $2"),
        params![tenant_id, id],
    )?;
    rows.first().map(message_from_row).transpose()
}

/// The message a provider knows by its own id, on a channel.
pub fn message_by_provider_id(
    sql: &mut dyn Sql,
    tenant_id: &str,
    channel_id: &str,
    provider_id: &str,
) -> Result<Option<Message>, DbError> {
    let rows = sql.query(
        &format!(
            "select {MESSAGE_COLUMNS} from messages
             where channel_id = $2 and provider_message_id = $3 and tenant_id = $1"
        ),
        params![tenant_id, channel_id, provider_id],
    )?;
    rows.first().map(message_from_row).transpose()
}

/// Where a sender's last claim stopped in its channel's queue: (time, id) of the last message
/// it took.
pub type QueuePlace = (Timestamp, String);

/// Claims the channel's due messages, earliest first, after `after` when given: each marked
/// `sending` with one more attempt and no time. Returns them and the place to read on from.
/// The due ones are one range of the due index; the update names them by a row-value list (an
/// index probe each, whatever the table's statistics say).
///
/// A place only saves walking entries already taken (PostgreSQL keeps a dead one per claimed
/// message until vacuum); a message written behind it by a transaction that committed late is
/// found when the sender reads from the start again, which it does whenever a claim comes back
/// short.
pub fn claim_due(
    sql: &mut dyn Sql,
    tenant_id: &str,
    channel_id: &str,
    now: Timestamp,
    after: Option<&QueuePlace>,
    limit: i64,
) -> Result<(Vec<Message>, Option<QueuePlace>), DbError> {
    // Only queued messages have a time, so the due index alone answers (a filter on the
    // status let PostgreSQL prefer the campaign index and sort).
    let rows = match after {
        Some((at, id)) => sql.query(
            "select id, next_attempt_at from messages
             where channel_id = $2 and (next_attempt_at, id) > ($5, $6)
               and next_attempt_at <= $3 and tenant_id = $1
             order by next_attempt_at, id limit $4",
            params![tenant_id, channel_id, ms(now), limit, ms(*at), id.as_str()],
        )?,
        None => sql.query(
            "select id, next_attempt_at from messages
             where channel_id = $2 and next_attempt_at <= $3 and tenant_id = $1
             order by next_attempt_at, id limit $4",
            params![tenant_id, channel_id, ms(now), limit],
        )?,
    };
    let mut due = Vec::with_capacity(rows.len());
    let mut place = None;
    for row in &rows {
        let id: String = row.get("id")?;
        place = Some((ts(row, "next_attempt_at")?, id.clone()));
        due.push(id);
    }
    let mut claimed = Vec::with_capacity(due.len());
    for chunk in due.chunks(200) {
        // Named by (tenant, id) rows; "still queued" is asked as "still has a time" (only
        // queued messages have one): a filter on the status let PostgreSQL, seeing one tenant
        // and one status in every row, walk the campaign index of every queued message (a
        // second a turn at a million) instead of probing the primary key.
        let mut values = Vec::with_capacity(chunk.len() * 2);
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let list = rows_in(sql.backend(), &mut values, &[tenant_id], &ids);
        for row in sql.query(
            &format!(
                "update messages set status = 'sending', attempts = attempts + 1,
                     next_attempt_at = null
                 where (tenant_id, id) in ({list}) and next_attempt_at is not null
                 returning {MESSAGE_COLUMNS}"
            ),
            &values,
        )? {
            claimed.push(message_from_row(&row)?);
        }
    }
    Ok((claimed, place))
}

/// Tells PostgreSQL's planner how the messages table looks now (a campaign just wrote tens of
/// thousands of rows into it; without fresh statistics, plans were chosen for an empty table:
/// a turn's update walked every message of the tenant). SQLite's planner needs none.
pub fn refresh_statistics(sql: &mut dyn Sql) -> Result<(), DbError> {
    if sql.backend() == crate::Backend::Postgres {
        sql.execute("analyze messages", &[])?;
    }
    Ok(())
}

/// Records a member's first open (and, for a click, first click) of a message.
pub fn mark_seen(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    clicked: bool,
    at: Timestamp,
) -> Result<(), DbError> {
    let statement = if clicked {
        "update messages set opened_at = coalesce(opened_at, $3),
             clicked_at = coalesce(clicked_at, $3)
         where tenant_id = $1 and id = $2"
    } else {
        "update messages set opened_at = coalesce(opened_at, $3) where tenant_id = $1 and id = $2"
    };
    sql.execute(statement, params![tenant_id, id, ms(at)])?;
    Ok(())
}

/// Messages of the channel left `sending` by a sender that died mid-call.
pub fn cut_off_messages(
    sql: &mut dyn Sql,
    tenant_id: &str,
    channel_id: &str,
    limit: i64,
) -> Result<Vec<Message>, DbError> {
    sql.query(
        &format!(
            "select {MESSAGE_COLUMNS} from messages
             where channel_id = $2 and status = 'sending' and tenant_id = $1 limit $3"
        ),
        params![tenant_id, channel_id, limit],
    )?
    .iter()
    .map(message_from_row)
    .collect()
}

/// Stops a campaign's unsent messages.
pub fn cancel_queued(
    sql: &mut dyn Sql,
    tenant_id: &str,
    campaign_id: &str,
) -> Result<u64, DbError> {
    sql.execute(
        "update messages set status = 'cancelled', next_attempt_at = null
         where tenant_id = $1 and campaign_id = $2 and status = 'queued'",
        params![tenant_id, campaign_id],
    )
}

/// Whether any of the campaign's messages is still waiting or being sent.
pub fn campaign_unsettled(
    sql: &mut dyn Sql,
    tenant_id: &str,
    campaign_id: &str,
) -> Result<bool, DbError> {
    let n: i64 = sql.query_scalar(
        "select count(*) from (select 1 from messages
             where tenant_id = $1 and campaign_id = $2 and status in ('queued', 'sending')
             limit 1) unsettled",
        params![tenant_id, campaign_id],
    )?;
    Ok(n > 0)
}

/// Advertising messages each member with an id from `first` to `last` was sent, or is about
/// to be, since `since` (the weekly cap counts campaigns and automations together; test sends
/// count nowhere). One range of the member index, whatever the table's statistics say: a page
/// of the audience is a range of member ids.
pub fn recent_advertising(
    sql: &mut dyn Sql,
    tenant_id: &str,
    first: &str,
    last: &str,
    since: Timestamp,
) -> Result<HashMap<String, i64>, DbError> {
    let mut counts = HashMap::new();
    for row in sql.query(
        "select member_id, count(*) as n from messages
         where tenant_id = $1 and member_id >= $2 and member_id <= $3 and created_at > $4
           and purpose = 'advertising' and test = false
           and status in ('queued', 'sending', 'sent', 'delivered')
         group by member_id",
        params![tenant_id, first, last, ms(since)],
    )? {
        counts.insert(row.get("member_id")?, row.get("n")?);
    }
    Ok(counts)
}

/// Filters of the message list.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub member_id: Option<String>,
    pub campaign_id: Option<String>,
    pub automation_id: Option<String>,
    pub status: Option<String>,
}

/// Messages, newest first, filtered.
pub fn list_messages(
    sql: &mut dyn Sql,
    tenant_id: &str,
    filter: &MessageFilter,
    page: &Page,
) -> Result<Paged<Message>, DbError> {
    let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
    let mut clause = String::from("tenant_id = $1");
    for (column, value) in [
        ("member_id", &filter.member_id),
        ("campaign_id", &filter.campaign_id),
        ("automation_id", &filter.automation_id),
        ("status", &filter.status),
    ] {
        if let Some(value) = value {
            values.push(value.as_str().into());
            clause.push_str(&format!(" and {column} = ${}", values.len()));
        }
    }
    values.push(page.after.as_deref().unwrap_or("\u{10FFFF}").into());
    clause.push_str(&format!(" and id < ${}", values.len()));
    values.push((page.limit + 1).into());
    let rows = sql.query(
        &format!(
            "select {MESSAGE_COLUMNS} from messages where {clause} order by id desc limit ${}",
            values.len()
        ),
        &values,
    )?;
    let found = rows
        .iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(found, page.limit, |m| &m.id))
}

/// A campaign's messages of one status (and suppression reason) on one channel.
#[derive(Debug, Clone)]
pub struct CountLine {
    pub status: String,
    pub reason: Option<String>,
    pub channel_id: Option<String>,
    pub messages: i64,
    pub cost: i64,
    pub opened: i64,
    pub clicked: i64,
}

/// A campaign's messages counted by status and reason.
pub fn campaign_counts(
    sql: &mut dyn Sql,
    tenant_id: &str,
    campaign_id: &str,
) -> Result<Vec<CountLine>, DbError> {
    sql.query(
        "select status, case when status = 'suppressed' then reason end as reason, channel_id,
             count(*) as n, cast(coalesce(sum(cost), 0) as bigint) as cost,
             count(opened_at) as opened, count(clicked_at) as clicked
         from messages where tenant_id = $1 and campaign_id = $2 and test = false
         group by status, case when status = 'suppressed' then reason end, channel_id",
        params![tenant_id, campaign_id],
    )?
    .iter()
    .map(|r| {
        Ok(CountLine {
            status: r.get("status")?,
            reason: r.get("reason")?,
            channel_id: r.get("channel_id")?,
            messages: r.get("n")?,
            cost: r.get("cost")?,
            opened: r.get("opened")?,
            clicked: r.get("clicked")?,
        })
    })
    .collect()
}

/// Orders and revenue of a campaign's recipients within `days` after their message, and the
/// vouchers it gave that were redeemed.
pub fn campaign_attribution(
    sql: &mut dyn Sql,
    tenant_id: &str,
    campaign_id: &str,
    days: i64,
) -> Result<(i64, i64, i64, i64), DbError> {
    let window = days.saturating_mul(86_400_000);
    let rows = sql.query(
        "select count(o.id) as orders,
             cast(coalesce(sum(o.total - o.refunded_amount), 0) as bigint) as revenue
         from messages m
         join orders o on o.tenant_id = m.tenant_id and o.member_id = m.member_id
         where m.tenant_id = $1 and m.campaign_id = $2 and m.test = false
           and m.sent_at is not null and o.status in ('paid', 'partially_refunded')
           and o.placed_at >= m.sent_at and o.placed_at < m.sent_at + $3",
        params![tenant_id, campaign_id, window],
    )?;
    let (orders, revenue) = match rows.first() {
        Some(r) => (r.get("orders")?, r.get("revenue")?),
        None => (0, 0),
    };
    let issued: i64 = sql.query_scalar(
        "select count(*) from messages
         where tenant_id = $1 and campaign_id = $2 and test = false and voucher_code is not null
           and status in ('sent', 'delivered')",
        params![tenant_id, campaign_id],
    )?;
    let redeemed: i64 = sql.query_scalar(
        "select count(*) from messages m
         join vouchers v on v.tenant_id = m.tenant_id and v.code = m.voucher_code
         where m.tenant_id = $1 and m.campaign_id = $2 and m.test = false and v.uses > 0",
        params![tenant_id, campaign_id],
    )?;
    Ok((orders, revenue, issued, redeemed))
}
