//! A member's points inside one write transaction, and the points use-cases (balance, ledger,
//! manual adjustment).
//!
//! [`Book`] persists what `core::ledger` decides: every change is a ledger entry, credits are
//! lots, debits record the lots they took from, and the member row keeps the balances so reads
//! are cheap. The balances on the row are exact until `next_change_at` (pending points becoming
//! available, points expiring); a read after that recomputes them from the lots, and any write
//! first writes the expiry down.

use jiff::Timestamp;
use loyalty_core::id::new_id;
use loyalty_core::ledger::{
    self, Lot, NotPositive, allocate_reversal, allocate_spend, expired_lots, split_credit,
};
use loyalty_core::limits::{self, checked_total};
use loyalty_core::member::{Member, MemberStatus};
use loyalty_core::tenancy::{Access, Actor};
use loyalty_store::repo::ledger::{self as entries, Entry};
use loyalty_store::repo::members;
use loyalty_store::{Page, Paged, Sql};
use serde::Serialize;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

/// The kinds of ledger entries, as stored and shown.
pub mod kind {
    pub const EARN: &str = "earn";
    pub const REDEEM: &str = "redeem";
    pub const EXPIRE: &str = "expire";
    pub const REVERSE: &str = "reverse";
    pub const ADJUST: &str = "adjust";
}

/// Points to credit: how many, why, and when they become spendable and expire.
pub(crate) struct Credit<'a> {
    pub kind: &'a str,
    pub points: i64,
    pub order_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub available_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// A member's points, open for change in the current transaction.
pub(crate) struct Book {
    pub member: Member,
    tenant_id: String,
    now: Timestamp,
    actor: Option<Actor>,
    /// Loaded on the first operation that needs them; a plain credit does not.
    lots: Option<Vec<Lot>>,
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
            member,
            tenant_id: tenant_id.to_string(),
            now,
            actor,
            lots: None,
        }
    }

    fn lots(&mut self, sql: &mut dyn Sql) -> AppResult<&mut Vec<Lot>> {
        if self.lots.is_none() {
            self.lots = Some(entries::live_lots(sql, &self.tenant_id, &self.member.id)?);
        }
        Ok(self.lots.get_or_insert_with(Vec::new))
    }

    fn entry(&self, kind: &str, points: i64) -> Entry {
        Entry {
            id: new_id("led"),
            member_id: self.member.id.clone(),
            kind: kind.to_string(),
            points,
            remaining: None,
            order_id: None,
            reason: None,
            actor: self.actor.clone(),
            created_at: self.now,
            available_at: None,
            expires_at: None,
        }
    }

    /// Writes expiry due by now and brings the stored balances up to date.
    pub fn catch_up(&mut self, sql: &mut dyn Sql) -> AppResult<()> {
        if self.member.next_change_at.is_none_or(|at| at > self.now) {
            return Ok(());
        }
        let now = self.now;
        let tenant_id = self.tenant_id.clone();
        let expired = expired_lots(self.lots(sql)?, now);
        let total: i64 = expired.iter().map(|(_, p)| p).sum();
        if total > 0 {
            // One `expire` line per catch-up, as the background job writes it.
            let mut entry = self.entry(kind::EXPIRE, -total);
            entry.reason = Some("points expired".to_string());
            entry.expires_at = expired
                .iter()
                .filter_map(|(i, _)| self.lots.as_ref().and_then(|l| l[*i].expires_at))
                .max();
            entries::insert(sql, &tenant_id, &entry)?;
            for (i, points) in expired {
                let lot_id = self.lots(sql)?[i].id.clone();
                entries::change_remaining(sql, &tenant_id, &lot_id, -points)?;
                self.lots(sql)?[i].remaining = 0;
            }
        }
        self.recompute(sql)
    }

    /// Sets the member's balances and next change from the lots.
    fn recompute(&mut self, sql: &mut dyn Sql) -> AppResult<()> {
        let now = self.now;
        let lots = self.lots(sql)?;
        let balances = ledger::balances(lots, now);
        let next = ledger::next_change(lots, now);
        self.member.points_available = balances.available;
        self.member.points_pending = balances.pending;
        self.member.next_change_at = next;
        Ok(())
    }

    /// Credits points (an order's earnings or a positive adjustment), paying debt first;
    /// returns the entry.
    pub fn credit(&mut self, sql: &mut dyn Sql, credit: Credit<'_>) -> AppResult<Entry> {
        let Credit {
            kind,
            points,
            order_id,
            reason,
            available_at,
            expires_at,
        } = credit;
        if points <= 0 {
            return Err(NotPositive(points).into());
        }
        let (to_debt, to_lot) = split_credit(points, self.member.points_debt);
        // The balances the new lot joins must stay countable; refuse rather than wrap.
        let held = checked_total(
            "the member's points",
            self.member.points_available,
            self.member.points_pending,
        )?;
        checked_total("the member's points", held, to_lot)?;
        let mut entry = self.entry(kind, points);
        entry.remaining = Some(to_lot);
        entry.order_id = order_id.map(str::to_string);
        entry.reason = reason.map(str::to_string);
        entry.available_at = Some(available_at);
        entry.expires_at = expires_at;
        entries::insert(sql, &self.tenant_id, &entry)?;
        self.member.points_debt -= to_debt;
        if to_lot > 0 {
            let lot = Lot {
                id: entry.id.clone(),
                order_id: entry.order_id.clone(),
                remaining: to_lot,
                created_at: self.now,
                available_at,
                expires_at,
            };
            match self.lots.as_mut() {
                Some(lots) => {
                    lots.push(lot);
                    self.recompute(sql)?;
                }
                // Without the lots at hand, the balances move by the new lot alone.
                None => {
                    if lot.is_available(self.now) {
                        self.member.points_available += to_lot;
                    } else if lot.is_pending(self.now) {
                        self.member.points_pending += to_lot;
                    }
                    let next = ledger::next_change(std::slice::from_ref(&lot), self.now);
                    self.member.next_change_at = match (self.member.next_change_at, next) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        Ok(entry)
    }

    /// Spends available points (a redemption or a negative adjustment); refuses with 409 when
    /// the member does not have them.
    pub fn spend(
        &mut self,
        sql: &mut dyn Sql,
        kind: &str,
        points: i64,
        order_id: Option<&str>,
        reason: Option<&str>,
    ) -> AppResult<Entry> {
        let now = self.now;
        let allocation = allocate_spend(self.lots(sql)?, points, now)?;
        if allocation.shortfall > 0 {
            let available = ledger::balances(self.lots(sql)?, now).available;
            return Err(AppError::Conflict {
                code: "insufficient_points",
                field: Some(
                    if kind == kind::REDEEM {
                        "points_redeemed"
                    } else {
                        "points"
                    }
                    .to_string(),
                ),
                message: format!(
                    "the member has {available} points available, {points} were asked"
                ),
            });
        }
        let mut entry = self.entry(kind, -points);
        entry.order_id = order_id.map(str::to_string);
        entry.reason = reason.map(str::to_string);
        self.take(sql, &entry, &allocation.takes)?;
        self.recompute(sql)?;
        Ok(entry)
    }

    /// Takes back `points` of what `order_id` earned: the order's own lots first, then any
    /// others; what cannot be found is owed (debt).
    pub fn reverse(&mut self, sql: &mut dyn Sql, order_id: &str, points: i64) -> AppResult<()> {
        if points <= 0 {
            return Ok(());
        }
        let now = self.now;
        let allocation = allocate_reversal(self.lots(sql)?, points, order_id, now)?;
        let debt = checked_total(
            "the member's debt",
            self.member.points_debt,
            allocation.shortfall,
        )?;
        let mut entry = self.entry(kind::REVERSE, -points);
        entry.order_id = Some(order_id.to_string());
        self.take(sql, &entry, &allocation.takes)?;
        self.member.points_debt = debt;
        self.recompute(sql)
    }

    /// Gives back the points a cancelled (or fully refunded) order spent, into the lots they
    /// came from; lots that expired meanwhile get nothing. Returns the points given back.
    pub fn give_back(&mut self, sql: &mut dyn Sql, order_id: &str) -> AppResult<i64> {
        let tenant_id = self.tenant_id.clone();
        let redemptions = entries::of_order(sql, &tenant_id, order_id, kind::REDEEM)?;
        let mut taken = Vec::new();
        for redemption in &redemptions {
            taken.extend(entries::takes_of(sql, &tenant_id, &redemption.id)?);
        }
        let now = self.now;
        let back = ledger::restorable(self.lots_with(sql, &taken)?, &taken, now);
        let total: i64 = back.iter().map(|(_, p)| p).sum();
        if total == 0 {
            return Ok(0);
        }
        let mut entry = self.entry(kind::REVERSE, total);
        entry.order_id = Some(order_id.to_string());
        entry.reason = Some("points spent on the order given back".to_string());
        entries::insert(sql, &tenant_id, &entry)?;
        let (mut to_debt, _) = split_credit(total, self.member.points_debt);
        self.member.points_debt -= to_debt;
        for (i, points) in back {
            let paid = to_debt.min(points);
            to_debt -= paid;
            let lot_id = self.lots(sql)?[i].id.clone();
            entries::change_remaining(sql, &tenant_id, &lot_id, points - paid)?;
            self.lots(sql)?[i].remaining += points - paid;
        }
        self.recompute(sql)?;
        Ok(total)
    }

    /// The live lots plus the (now empty) lots listed in `taken`, which a give-back refills.
    fn lots_with(&mut self, sql: &mut dyn Sql, taken: &[(String, i64)]) -> AppResult<&Vec<Lot>> {
        let tenant_id = self.tenant_id.clone();
        let member_id = self.member.id.clone();
        let lots = self.lots(sql)?;
        let missing: Vec<&str> = taken
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| !lots.iter().any(|l| l.id == *id))
            .collect();
        if !missing.is_empty() {
            for lot in entries::lots_by_id(sql, &tenant_id, &member_id, &missing)? {
                lots.push(lot);
            }
        }
        Ok(lots)
    }

    fn take(&mut self, sql: &mut dyn Sql, entry: &Entry, takes: &[(usize, i64)]) -> AppResult<()> {
        let tenant_id = self.tenant_id.clone();
        entries::insert(sql, &tenant_id, entry)?;
        let mut recorded = Vec::with_capacity(takes.len());
        for &(i, points) in takes {
            let lot_id = self.lots(sql)?[i].id.clone();
            entries::change_remaining(sql, &tenant_id, &lot_id, -points)?;
            self.lots(sql)?[i].remaining -= points;
            recorded.push((lot_id, points));
        }
        entries::record_takes(sql, &tenant_id, &entry.id, &recorded)?;
        Ok(())
    }

    /// Writes the member row.
    pub fn save(&mut self, sql: &mut dyn Sql) -> AppResult<()> {
        self.member.updated_at = self.now;
        members::update_state(sql, &self.tenant_id, &self.member)?;
        Ok(())
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

pub const MAX_REASON_CHARS: usize = 500;

impl App {
    pub async fn points(&self, ctx: &Ctx, member_id: String) -> AppResult<PointsSummary> {
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

    pub async fn ledger(
        &self,
        ctx: &Ctx,
        member_id: String,
        page: Page,
    ) -> AppResult<Paged<Entry>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| {
                members::get(sql, &tenant_id, &member_id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                Ok(entries::list(sql, &tenant_id, &member_id, &page)?)
            })
            .await
    }

    /// A manual adjustment with its reason (điều chỉnh điểm). A debit may not take the member
    /// below zero.
    pub async fn adjust_points(
        &self,
        ctx: &Ctx,
        member_id: String,
        points: i64,
        reason: String,
    ) -> AppResult<(Entry, Member)> {
        ctx.require(Access::Admin)?;
        let reason = reason.trim().to_string();
        let mut errors = loyalty_core::Invalid::default();
        if points == 0 {
            errors.push("points", "must not be 0");
        } else {
            limits::within(
                &mut errors,
                "points",
                points,
                -limits::MAX_POINTS,
                limits::MAX_POINTS,
            );
        }
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            errors.push(
                "reason",
                format!("is required, at most {MAX_REASON_CHARS} characters"),
            );
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let info = self.tenant(ctx).await?;
        let now = self.now();
        let (ctx2, key) = (ctx.clone(), member_id.clone());
        self.db
            .write_keyed(&key, move |sql| {
                let mut book = Book::open(sql, &ctx2.tenant_id, &member_id, now, Some(ctx2.actor.clone()))?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                if book.member.status == MemberStatus::Blocked {
                    return Err(AppError::conflict("member_blocked", "member_id", "a blocked member's points cannot change"));
                }
                let before = (book.member.points_available, book.member.points_pending, book.member.points_debt);
                let entry = if points > 0 {
                    let expires_at = info.program.expires_at(now, &info.zone);
                    book.member.lifetime_points =
                        checked_total("the member's lifetime points", book.member.lifetime_points, points)?;
                    let credit = Credit {
                        kind: kind::ADJUST,
                        points,
                        order_id: None,
                        reason: Some(&reason),
                        available_at: now,
                        expires_at,
                    };
                    book.credit(sql, credit)?
                } else {
                    // Bounded above, so the negation cannot overflow.
                    book.spend(sql, kind::ADJUST, -points, None, Some(&reason))?
                };
                book.save(sql)?;
                let after = (book.member.points_available, book.member.points_pending, book.member.points_debt);
                let change = Change { entity: "member", id: &book.member.id, action: "points_adjust" };
                let snapshot = |(available, pending, debt): (i64, i64, i64)| {
                    serde_json::json!({"points": {"available": available, "pending": pending, "debt": debt}})
                };
                let mut after_json = snapshot(after);
                after_json["adjustment"] = serde_json::json!({"points": points, "reason": reason, "entry_id": entry.id});
                record(sql, &ctx2, now, change, Some(snapshot(before)), Some(after_json))?;
                Ok((entry, book.member.clone()))
            })
            .await
    }
}
