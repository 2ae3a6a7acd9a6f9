//! Raising events in the transaction of the change (the outbox) and serving the tenant's feed.

use jiff::Timestamp;
use loyalty_core::event::{Balance, EventType, Position, Raised, TypeFilter};
use loyalty_core::member::Member;
use loyalty_core::tenancy::Access;
use loyalty_store::Sql;
use loyalty_store::repo::events;
use loyalty_store::repo::ledger::Entry;

use crate::{App, AppError, AppResult, Ctx};

pub use loyalty_store::repo::events::Event;

/// How long events stay in the feed (API.md: at least 30 days).
pub const RETENTION_DAYS: i64 = 35;

/// Writes `raised` in the caller's transaction: they commit with the change or not at all.
pub fn raise(
    sql: &mut dyn Sql,
    tenant_id: &str,
    at: Timestamp,
    raised: &[Raised],
) -> AppResult<()> {
    if !raised.is_empty() {
        events::insert(sql, tenant_id, at, raised)?;
    }
    Ok(())
}

/// A ledger entry as events show it (the API's ledger entry), borrowed from the entry written.
#[derive(Debug, serde::Serialize)]
pub struct EntryData<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub points: i64,
    pub order_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub created_at: Timestamp,
    pub available_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

pub fn entry_data(e: &Entry) -> EntryData<'_> {
    EntryData {
        id: &e.id,
        kind: e.kind.as_str(),
        points: e.points,
        order_id: e.order_id.as_deref(),
        reason: e.reason.as_deref(),
        created_at: e.created_at,
        available_at: e.available_at,
        expires_at: e.expires_at,
    }
}

/// `points.*` for an entry written for `member`.
pub fn points_moved(kind: EventType, member: &Member, entry: &Entry) -> Raised {
    loyalty_core::event::points_moved(kind, &member.id, Balance::of(member), &entry_data(entry))
}

/// One page of the feed.
pub struct EventPage {
    pub items: Vec<Event>,
    /// Where the next page starts; `None` when this page was the last (as every list).
    pub next_cursor: Option<String>,
    /// Where to poll from for events newer than this page: never `None`, so that a client
    /// that reached the end keeps its place.
    pub poll_cursor: String,
}

impl App {
    /// The tenant's events after `cursor`, oldest first, of the types `types` admits (all
    /// when `None`).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn events(
        &self,
        ctx: &Ctx,
        types: Option<String>,
        cursor: Option<String>,
        limit: i64,
    ) -> AppResult<EventPage> {
        ctx.require(Access::Admin)?;
        let types = match types.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(text) => TypeFilter::parse("type", text)?.types(),
        };
        let after = match cursor.as_deref() {
            None | Some("") => Position::default(),
            Some(text) => Position::parse_cursor(text).ok_or_else(|| {
                AppError::invalid("cursor", "cursor.unknown", "is not a cursor this feed gave")
            })?,
        };
        let tenant_id = ctx.tenant_id.clone();
        let items = self
            .db
            .read(move |sql| events::feed(sql, &tenant_id, &types, after, limit))
            .await?;
        let poll_cursor = items.last().map_or(after, |e| e.position).cursor();
        let full = i64::try_from(items.len()).is_ok_and(|n| n == limit);
        Ok(EventPage {
            next_cursor: full.then(|| poll_cursor.clone()),
            items,
            poll_cursor,
        })
    }
}
