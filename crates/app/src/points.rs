//! A member's points inside one write transaction, and the points use-cases (balance, ledger,
//! manual adjustment).
//!
//! [`Book`] is the store's side of `core::book::Book`, which decides every change (and which the
//! property tests drive): it loads what the core book needs — the member's stored balances, the
//! live lots when an operation walks them, the lots an order's redemption took — calls it, and
//! writes what it decided (entries, lots' remaining points, takes) and the member's balances,
//! all in the caller's transaction.

use jiff::Timestamp;
use loyalty_core::book::{self, Credit, EntryKind, LedgerError, OrderPoints, Stored, Write};
use loyalty_core::event::{EventType, Raised};
use loyalty_core::id::MemberId;
use loyalty_core::ledger;
use loyalty_core::member::Member;
use loyalty_core::tenancy::{Access, Actor};
use loyalty_store::repo::ledger::{self as entries, Entry};
use loyalty_store::repo::members;
use loyalty_store::{Page, Paged, Sql};
use serde::Serialize;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

/// A member's points, open for change in the current transaction.
pub(crate) struct Book {
    pub member: Member,
    tenant_id: String,
    now: Timestamp,
    actor: Option<Actor>,
    core: book::Book,
}

fn stored(member: &Member) -> Stored {
    Stored {
        available: member.points_available,
        pending: member.points_pending,
        debt: member.points_debt,
        next_change_at: member.next_change_at,
    }
}

impl Book {
    /// Locks the member and writes down any expiry due by `now`.
    pub fn open(
        sql: &mut dyn Sql,
        tenant_id: &str,
        member_id: &str,
        now: Timestamp,
        actor: Option<Actor>,
    ) -> AppResult<Option<Book>> {
        let Some(member) = members::get_for_update(sql, tenant_id, member_id)? else {
            return Ok(None);
        };
        let mut book = Book::with(member, tenant_id, now, actor);
        book.catch_up(sql)?;
        Ok(Some(book))
    }

    /// Wraps a member already read for update in this transaction.
    pub fn with(member: Member, tenant_id: &str, now: Timestamp, actor: Option<Actor>) -> Book {
        Book {
            core: book::Book::new(stored(&member), now),
            member,
            tenant_id: tenant_id.to_string(),
            now,
            actor,
        }
    }

    /// Loads the member's live lots, once, for an operation that walks them.
    fn load_lots(&mut self, sql: &mut dyn Sql) -> AppResult<()> {
        if self.core.needs_lots() {
            let lots = entries::live_lots(sql, &self.tenant_id, &self.member.id)?;
            self.core.load_lots(lots);
        }
        Ok(())
    }

    /// Writes what the core book decided, and the balances onto the member; returns the
    /// entries inserted.
    fn persist(&mut self, sql: &mut dyn Sql) -> AppResult<Vec<Entry>> {
        let mut inserted = Vec::new();
        for write in self.core.take_writes() {
            match write {
                Write::Entry(e) => {
                    let entry = Entry {
                        id: e.id,
                        member_id: self.member.id.clone(),
                        kind: e.kind,
                        points: e.points,
                        remaining: e.remaining,
                        order_id: e.order_id,
                        reason: e.reason,
                        actor: self.actor.clone(),
                        created_at: e.created_at,
                        available_at: e.available_at,
                        expires_at: e.expires_at,
                    };
                    entries::insert(sql, &self.tenant_id, &entry)?;
                    inserted.push(entry);
                }
                Write::Remaining { lot_id, delta } => {
                    entries::change_remaining(sql, &self.tenant_id, &lot_id, delta)?;
                }
                Write::Takes { entry_id, takes } => {
                    entries::record_takes(sql, &self.tenant_id, &entry_id, &takes)?;
                }
            }
        }
        let s = self.core.stored();
        self.member.points_available = s.available;
        self.member.points_pending = s.pending;
        self.member.points_debt = s.debt;
        self.member.next_change_at = s.next_change_at;
        Ok(inserted)
    }

    /// Writes expiry due by now, with its `points.expired` event, and brings the stored
    /// balances up to date. (The sweep then finds nothing left to do for this member.)
    pub fn catch_up(&mut self, sql: &mut dyn Sql) -> AppResult<()> {
        if !self.core.is_due() {
            return Ok(());
        }
        self.load_lots(sql)?;
        self.core.catch_up().map_err(ledger_error("points"))?;
        let raised: Vec<Raised> = self
            .persist(sql)?
            .iter()
            .map(|entry| crate::events::points_moved(EventType::PointsExpired, &self.member, entry))
            .collect();
        crate::events::raise(sql, &self.tenant_id, self.now, &raised)
    }

    /// Credits points (an order's earnings or a positive adjustment), paying debt first;
    /// returns the entry, and the write-down of points already expired when credited (a late
    /// order), whose `points.expired` event the caller raises after the credit's own.
    pub fn credit(&mut self, sql: &mut dyn Sql, credit: Credit<'_>) -> AppResult<Credited> {
        self.core.credit(credit).map_err(ledger_error("points"))?;
        let (mut expired, credited): (Vec<Entry>, Vec<Entry>) = self
            .persist(sql)?
            .into_iter()
            .partition(|entry| entry.kind == EntryKind::Expire);
        Ok(Credited {
            entry: one(credited)?,
            expired: expired.pop(),
        })
    }

    /// Spends available points (a redemption or a negative adjustment); refuses with 409 when
    /// the member does not have them. `field` names the input the refusal is about.
    pub fn spend(
        &mut self,
        sql: &mut dyn Sql,
        kind: EntryKind,
        points: i64,
        order_id: Option<&str>,
        reason: Option<&str>,
        field: &'static str,
    ) -> AppResult<Entry> {
        self.load_lots(sql)?;
        self.core
            .spend(kind, points, order_id, reason)
            .map_err(ledger_error(field))?;
        one(self.persist(sql)?)
    }

    /// Takes back points given without an order (a referral reward reversed), into debt when
    /// the member has spent them; returns the entry.
    pub fn take_back(&mut self, sql: &mut dyn Sql, points: i64, reason: &str) -> AppResult<Entry> {
        self.load_lots(sql)?;
        self.core
            .take_back(points, reason)
            .map_err(ledger_error("points"))?;
        one(self.persist(sql)?)
    }

    /// Cancels an order's points: reverses what it still holds, gives back what it spent.
    /// Returns the entries written.
    pub fn cancel_order(
        &mut self,
        sql: &mut dyn Sql,
        order: &mut OrderPoints,
    ) -> AppResult<Vec<Entry>> {
        let spent_from = self.spent_from(sql, order)?;
        self.core
            .cancel_order(order, &spent_from)
            .map_err(ledger_error("status"))?;
        self.persist(sql)
    }

    /// Refunds `amount` of an order; returns the points reversed now and the entries written.
    pub fn refund_order(
        &mut self,
        sql: &mut dyn Sql,
        order: &mut OrderPoints,
        amount: i64,
    ) -> AppResult<(i64, Vec<Entry>)> {
        let spent_from = self.spent_from(sql, order)?;
        let reversed = self
            .core
            .refund_order(order, amount, &spent_from)
            .map_err(ledger_error("amount"))?;
        Ok((reversed, self.persist(sql)?))
    }

    /// The lots an order's redemptions took (loaded into the book, expired or empty ones too,
    /// since giving back refills them), with the points taken from each.
    fn spent_from(
        &mut self,
        sql: &mut dyn Sql,
        order: &OrderPoints,
    ) -> AppResult<Vec<(String, i64)>> {
        self.load_lots(sql)?;
        if order.redeemed <= 0 {
            return Ok(Vec::new());
        }
        let tenant_id = self.tenant_id.clone();
        let redemptions =
            entries::of_order(sql, &tenant_id, &order.id, EntryKind::Redeem.as_str())?;
        let mut taken = Vec::new();
        for redemption in &redemptions {
            taken.extend(entries::takes_of(sql, &tenant_id, &redemption.id)?);
        }
        self.load_taken_lots(sql, &taken)?;
        Ok(taken)
    }

    /// Loads the lots in `taken` the book does not hold yet (expired or emptied ones).
    fn load_taken_lots(&mut self, sql: &mut dyn Sql, taken: &[(String, i64)]) -> AppResult<()> {
        let known = self.core.lots().unwrap_or_default();
        let missing: Vec<&str> = taken
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| !known.iter().any(|l| l.id == *id))
            .collect();
        if !missing.is_empty() {
            let lots = entries::lots_by_id(sql, &self.tenant_id, &self.member.id, &missing)?;
            self.core.load_lots(lots);
        }
        Ok(())
    }

    /// Gives back what the spend `entry_id` took (a gift reward cancelled), into the lots it
    /// came from (those expired meanwhile get nothing); the entry written, if any point came
    /// back.
    pub fn give_back_spend(
        &mut self,
        sql: &mut dyn Sql,
        entry_id: &str,
        reason: &str,
    ) -> AppResult<Option<Entry>> {
        self.load_lots(sql)?;
        let taken = entries::takes_of(sql, &self.tenant_id, entry_id)?;
        self.load_taken_lots(sql, &taken)?;
        let back = self
            .core
            .give_back(None, &taken, reason)
            .map_err(ledger_error("points"))?;
        if back == 0 {
            return Ok(None);
        }
        Ok(Some(one(self.persist(sql)?)?))
    }

    /// Writes the member row.
    pub fn save(&mut self, sql: &mut dyn Sql) -> AppResult<()> {
        self.member.updated_at = self.now;
        members::update_state(sql, &self.tenant_id, &self.member)?;
        Ok(())
    }
}

/// A credit's entry, and its write-down when the points had already expired.
pub struct Credited {
    pub entry: Entry,
    pub expired: Option<Entry>,
}

impl Credited {
    /// The events of the credit, the credit's own first: `kind` for the credit, then
    /// `points.expired` for a write-down.
    pub fn events(&self, kind: EventType, member: &Member) -> Vec<Raised> {
        std::iter::once((kind, &self.entry))
            .chain(self.expired.iter().map(|e| (EventType::PointsExpired, e)))
            .map(|(kind, entry)| crate::events::points_moved(kind, member, entry))
            .collect()
    }
}

fn one(mut inserted: Vec<Entry>) -> AppResult<Entry> {
    inserted
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the ledger wrote no entry")))
}

/// A ledger refusal in the API's terms; `field` names the input it is about.
/// The member's spendable points at `now`, without writing anything: expiry due by now is
/// worked out in memory (a quote; the next write records it).
pub(crate) fn available_now(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member: &Member,
    now: Timestamp,
) -> AppResult<i64> {
    let mut core = book::Book::new(stored(member), now);
    if core.is_due() {
        if core.needs_lots() {
            core.load_lots(entries::live_lots(sql, tenant_id, &member.id)?);
        }
        core.catch_up().map_err(ledger_error("points"))?;
    }
    Ok(core.stored().available)
}

fn ledger_error(field: &'static str) -> impl Fn(LedgerError) -> AppError {
    move |error| match error {
        LedgerError::NotPositive(_) => {
            AppError::invalid("points", "points.not_positive", error.to_string())
        }
        LedgerError::Insufficient { .. } => AppError::Conflict {
            code: "insufficient_points",
            field: Some(field.to_string()),
            message: error.to_string(),
        },
        LedgerError::OutOfRange(range) => range.into(),
        LedgerError::AlreadyCancelled => AppError::conflict(
            "already_cancelled",
            "status",
            "the order is already cancelled",
        ),
        LedgerError::OverRefund { .. } => {
            AppError::conflict("over_refund", "amount", error.to_string())
        }
        LedgerError::LotsNotLoaded => AppError::Internal(anyhow::anyhow!("{error}")),
    }
}

/// Brings a member read outside a write up to date with the clock: pending points that have
/// become available, and expired points, are counted as of `now` without writing anything.
pub(crate) fn as_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member: &mut Member,
    now: Timestamp,
) -> AppResult<()> {
    if member.next_change_at.is_none_or(|at| at > now) {
        return Ok(());
    }
    let lots = entries::live_lots(sql, tenant_id, &member.id)?;
    let balances = ledger::balances(&lots, now);
    member.points_available = balances.available;
    member.points_pending = balances.pending;
    member.next_change_at = ledger::next_change(&lots, now);
    Ok(())
}

/// A member's points as `GET /members/{id}/points` shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointsSummary {
    pub available: i64,
    pub pending: i64,
    /// Points reversed after they were spent, to be paid off by the next earnings.
    pub debt: i64,
    pub lifetime_earned: i64,
    pub expiring: Vec<Expiring>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expiring {
    pub points: i64,
    pub expires_at: Timestamp,
}

use loyalty_core::adjustment::{self, AdjustRefusal, Adjustment};
pub use loyalty_core::input::points::MAX_REASON_CHARS;
use loyalty_core::input::points::validate_adjustment;

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, member_id = %member_id))]
    pub async fn points(&self, ctx: &Ctx, member_id: MemberId) -> AppResult<PointsSummary> {
        ctx.require(Access::Read)?;
        let (tenant_id, now) = (ctx.tenant_id.clone(), self.now());
        self.db
            .snapshot(move |sql| {
                let member = members::get(sql, &tenant_id, &member_id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                let lots = entries::live_lots(sql, &tenant_id, &member.id)?;
                let balances = ledger::balances(&lots, now);
                Ok(PointsSummary {
                    available: balances.available,
                    pending: balances.pending,
                    debt: member.points_debt,
                    lifetime_earned: entries::lifetime_earned(sql, &tenant_id, &member.id)?,
                    expiring: ledger::expiring(&lots, now)
                        .into_iter()
                        .map(|(expires_at, points)| Expiring { points, expires_at })
                        .collect(),
                })
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, member_id = %member_id))]
    pub async fn ledger(
        &self,
        ctx: &Ctx,
        member_id: MemberId,
        page: Page,
    ) -> AppResult<Paged<Entry>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| {
                let member = members::get(sql, &tenant_id, &member_id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                Ok(entries::list(sql, &tenant_id, &member.id, &page)?)
            })
            .await
    }

    /// A manual adjustment with its reason (điều chỉnh điểm). A debit may not take the member
    /// below zero.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, member_id = %member_id))]
    pub async fn adjust_points(
        &self,
        ctx: &Ctx,
        member_id: MemberId,
        points: i64,
        reason: String,
    ) -> AppResult<(Entry, Member)> {
        ctx.require(Access::Admin)?;
        let (points, reason) = validate_adjustment(points, &reason)?;
        let info = self.tenant(ctx).await?;
        let now = self.now();
        let (ctx2, key) = (ctx.clone(), member_id.clone());
        let expires_at = info.program.expires_at(now, &info.zone);
        self.db
            .write_keyed(&key, move |sql| {
                adjust_in(sql, &ctx2, &member_id, points, &reason, expires_at, now)
            })
            .await
    }
}

/// A manual adjustment inside the caller's transaction (the API's, or an automation step's):
/// the member locked, the ledger written, the activity and the event recorded.
pub(crate) fn adjust_in(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    member_id: &str,
    points: i64,
    reason: &str,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> AppResult<(Entry, Member)> {
    let mut book = Book::open(sql, &ctx.tenant_id, member_id, now, Some(ctx.actor.clone()))?
        .ok_or(AppError::NotFound { entity: "member" })?;
    let adjustment =
        adjustment::adjust(&book.member, points, expires_at).map_err(|refusal| match refusal {
            AdjustRefusal::MemberBlocked => {
                AppError::conflict("member_blocked", "member_id", refusal.to_string())
            }
            AdjustRefusal::OutOfRange(range) => range.into(),
        })?;
    let before = (
        book.member.points_available,
        book.member.points_pending,
        book.member.points_debt,
    );
    let (entry, expired) = match adjustment {
        Adjustment::Credit {
            points,
            expires_at,
            lifetime_points,
        } => {
            book.member.lifetime_points = lifetime_points;
            let credited = book.credit(sql, adjustment::credit(points, expires_at, reason, now))?;
            (credited.entry, credited.expired)
        }
        Adjustment::Debit { points } => (
            book.spend(sql, EntryKind::Adjust, points, None, Some(reason), "points")?,
            None,
        ),
    };
    book.save(sql)?;
    let after = (
        book.member.points_available,
        book.member.points_pending,
        book.member.points_debt,
    );
    let change = Change {
        entity: "member",
        id: &book.member.id,
        action: "points_adjust",
    };
    let snapshot = |(available, pending, debt): (i64, i64, i64)| serde_json::json!({"points": {"available": available, "pending": pending, "debt": debt}});
    let mut after_json = snapshot(after);
    after_json["adjustment"] =
        serde_json::json!({"points": points, "reason": reason, "entry_id": entry.id});
    record(
        sql,
        ctx,
        now,
        change,
        Some(snapshot(before)),
        Some(after_json),
    )?;
    let events: Vec<Raised> = std::iter::once((EventType::PointsAdjusted, &entry))
        .chain(expired.iter().map(|e| (EventType::PointsExpired, e)))
        .map(|(kind, e)| crate::events::points_moved(kind, &book.member, e))
        .collect();
    crate::events::raise(sql, &ctx.tenant_id, now, &events)?;
    Ok((entry, book.member.clone()))
}
