//! A member's points book: the ledger decisions production runs, and the property tests drive.
//!
//! A [`Book`] holds what the store keeps for a member — the stored balances and, when an
//! operation needs them, the live lots — and every operation decides with the allocation rules
//! of [`crate::ledger`] and records what must be written as [`Write`]s: new entries (a credit is
//! also a lot), changes to lots' remaining points, and which lots a debit took from. `app` loads
//! a book, calls it, and persists its writes in the same transaction; nothing here does I/O.
//!
//! Operations that walk the lots (spending, reversing, giving back, writing expiry down) need
//! them loaded ([`Book::needs_lots`], [`Book::load_lots`]); a plain credit does not, and moves
//! the stored balances by the new lot alone.

use jiff::Timestamp;

use crate::amount::Points;
use crate::id::{OrderId, new_id};
use crate::ledger::{
    self, Balances, Lot, NotPositive, allocate_reversal, allocate_spend, expired_lots, restorable,
    reversal_target, split_credit,
};
use crate::limits::{OutOfRange, checked_total};

/// What a ledger entry records: `earn`, `redeem`, `expire`, `reverse` or `adjust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Earn,
    Redeem,
    Expire,
    Reverse,
    Adjust,
}

impl EntryKind {
    pub const ALL: [EntryKind; 5] = [
        EntryKind::Earn,
        EntryKind::Redeem,
        EntryKind::Expire,
        EntryKind::Reverse,
        EntryKind::Adjust,
    ];

    /// As stored and shown (`earn`, `redeem`…).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Redeem => "redeem",
            EntryKind::Expire => "expire",
            EntryKind::Reverse => "reverse",
            EntryKind::Adjust => "adjust",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The reason of the entry that gives back what a cancelled or refunded order spent.
const SPENT_GIVEN_BACK: &str = "points spent on the order given back";

/// A ledger entry to insert. A credit's `remaining` makes it a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub id: String,
    pub kind: EntryKind,
    /// Signed: credits positive, debits negative.
    pub points: i64,
    pub remaining: Option<i64>,
    pub order_id: Option<OrderId>,
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub available_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

/// One thing the store must write for an operation, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Entry(NewEntry),
    /// A lot's remaining points move by `delta`.
    Remaining {
        lot_id: String,
        delta: i64,
    },
    /// The lots a debit entry took its points from (so a cancel can give them back).
    Takes {
        entry_id: String,
        takes: Vec<(String, i64)>,
    },
}

/// Points to credit: how many, why, and when they become spendable and expire.
#[derive(Debug, Clone, Copy)]
pub struct Credit<'a> {
    pub kind: EntryKind,
    pub points: i64,
    pub order_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub available_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// The balances a member row stores, exact until `next_change_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub available: i64,
    pub pending: i64,
    /// Points reversed after they had been spent; paid off by the next credits.
    pub debt: i64,
    pub next_change_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    NotPositive(#[from] NotPositive),
    #[error("the member has {available} points available, {requested} were asked")]
    Insufficient { available: i64, requested: i64 },
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    /// A caller's bug: the operation walks the lots and they were not loaded.
    #[error("the member's lots were not loaded")]
    LotsNotLoaded,
    #[error("the order is already cancelled")]
    AlreadyCancelled,
    #[error("only {refundable} of the order's total can still be refunded")]
    OverRefund { refundable: i64 },
}

/// A member's points, open for change.
#[derive(Debug, Clone)]
pub struct Book {
    now: Timestamp,
    stored: Stored,
    lots: Option<Vec<Lot>>,
    writes: Vec<Write>,
}

impl Book {
    /// The book of a member whose row stores `stored`, as of `now`.
    pub fn new(stored: Stored, now: Timestamp) -> Book {
        Book {
            now,
            stored,
            lots: None,
            writes: Vec::new(),
        }
    }

    /// What the member row should store now.
    pub fn stored(&self) -> Stored {
        self.stored
    }

    /// Whether the next operation of this kind needs the lots: writing expiry down when the
    /// stored balances are due to change, or any debit.
    pub fn needs_lots(&self) -> bool {
        self.lots.is_none()
    }

    /// Whether the stored balances are stale (pending points due, or points expired).
    pub fn is_due(&self) -> bool {
        self.stored.next_change_at.is_some_and(|at| at <= self.now)
    }

    /// Gives the book the member's live lots (and any others an operation will refill).
    pub fn load_lots(&mut self, lots: Vec<Lot>) {
        match self.lots.as_mut() {
            Some(known) => {
                for lot in lots {
                    if !known.iter().any(|k| k.id == lot.id) {
                        known.push(lot);
                    }
                }
            }
            None => self.lots = Some(lots),
        }
    }

    /// The lots known to the book.
    pub fn lots(&self) -> Option<&[Lot]> {
        self.lots.as_deref()
    }

    /// The writes decided since the last call, in the order they must be made.
    pub fn take_writes(&mut self) -> Vec<Write> {
        std::mem::take(&mut self.writes)
    }

    fn lots_mut(&mut self) -> Result<&mut Vec<Lot>, LedgerError> {
        self.lots.as_mut().ok_or(LedgerError::LotsNotLoaded)
    }

    fn entry(&self, kind: EntryKind, points: i64) -> NewEntry {
        NewEntry {
            id: new_id("led"),
            kind,
            points,
            remaining: None,
            order_id: None,
            reason: None,
            created_at: self.now,
            available_at: None,
            expires_at: None,
        }
    }

    /// Writes down the points expired by now (one `expire` entry) and brings the stored
    /// balances up to date. Needs the lots when [`Book::is_due`].
    pub fn catch_up(&mut self) -> Result<(), LedgerError> {
        if !self.is_due() {
            return Ok(());
        }
        let now = self.now;
        let lots = self.lots_mut()?;
        let expired = expired_lots(lots, now);
        let total = Points::total(
            "expired points",
            expired.iter().map(|(_, p)| Points::new(*p)),
        )?
        .get();
        if total > 0 {
            let last_expiry = expired
                .iter()
                .filter_map(|(i, _)| lots[*i].expires_at)
                .max();
            let mut changes = Vec::with_capacity(expired.len());
            for &(i, points) in &expired {
                lots[i].remaining = 0;
                changes.push(Write::Remaining {
                    lot_id: lots[i].id.clone(),
                    delta: -points,
                });
            }
            let mut entry = self.entry(EntryKind::Expire, -total);
            entry.reason = Some("points expired".to_string());
            entry.expires_at = last_expiry;
            self.writes.push(Write::Entry(entry));
            self.writes.extend(changes);
        }
        self.recompute()
    }

    /// Sets the stored balances and next change from the lots.
    fn recompute(&mut self) -> Result<(), LedgerError> {
        let now = self.now;
        let lots = self.lots_mut()?;
        let Balances { available, pending } = ledger::balances(lots, now);
        let next = ledger::next_change(lots, now);
        self.stored.available = available;
        self.stored.pending = pending;
        self.stored.next_change_at = next;
        Ok(())
    }

    /// Credits points (earnings, a positive adjustment, an opening balance), paying debt
    /// first; returns the entry's id. Refuses a balance that would leave the countable range.
    /// Points that have already expired when they are credited (a web store's order sent in
    /// after its points' lifetime) are written down at once, with an `expire` entry after the
    /// credit: they pay no debt and never count as held.
    pub fn credit(&mut self, credit: Credit<'_>) -> Result<String, LedgerError> {
        if credit.points <= 0 {
            return Err(NotPositive(credit.points).into());
        }
        if credit.expires_at.is_some_and(|at| at <= self.now) {
            return Ok(self.credit_expired(credit));
        }
        let (to_debt, to_lot) = split_credit(credit.points, self.stored.debt);
        let held = checked_total(
            "the member's points",
            self.stored.available,
            self.stored.pending,
        )?;
        checked_total("the member's points", held, to_lot)?;
        let mut entry = self.entry(credit.kind, credit.points);
        entry.remaining = Some(to_lot);
        entry.order_id = credit.order_id.map(OrderId::from);
        entry.reason = credit.reason.map(str::to_string);
        entry.available_at = Some(credit.available_at);
        entry.expires_at = credit.expires_at;
        let id = entry.id.clone();
        self.stored.debt -= to_debt;
        if to_lot > 0 {
            let lot = Lot {
                id: id.clone(),
                order_id: entry.order_id.as_ref().map(ToString::to_string),
                remaining: to_lot,
                created_at: self.now,
                available_at: credit.available_at,
                expires_at: credit.expires_at,
            };
            let now = self.now;
            match self.lots.as_mut() {
                Some(lots) => {
                    lots.push(lot);
                    self.recompute()?;
                }
                // Without the lots at hand, the balances move by the new lot alone.
                None => {
                    if lot.is_available(now) {
                        self.stored.available += to_lot;
                    } else if lot.is_pending(now) {
                        self.stored.pending += to_lot;
                    }
                    let next = ledger::next_change(std::slice::from_ref(&lot), now);
                    self.stored.next_change_at = match (self.stored.next_change_at, next) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        self.writes.push(Write::Entry(entry));
        Ok(id)
    }

    /// The credit of points already expired, and their write-down.
    fn credit_expired(&mut self, credit: Credit<'_>) -> String {
        let mut entry = self.entry(credit.kind, credit.points);
        entry.remaining = Some(0);
        entry.order_id = credit.order_id.map(OrderId::from);
        entry.reason = credit.reason.map(str::to_string);
        entry.available_at = Some(credit.available_at);
        entry.expires_at = credit.expires_at;
        let id = entry.id.clone();
        let mut expiry = self.entry(EntryKind::Expire, -credit.points);
        expiry.reason = Some("points expired".to_string());
        expiry.expires_at = credit.expires_at;
        self.writes.push(Write::Entry(entry));
        self.writes.push(Write::Entry(expiry));
        id
    }

    /// Spends available points (a redemption, a negative adjustment); refuses when the member
    /// does not have them. Returns the entry's id.
    pub fn spend(
        &mut self,
        kind: EntryKind,
        points: i64,
        order_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<String, LedgerError> {
        let now = self.now;
        let lots = self.lots_mut()?;
        let allocation = allocate_spend(lots, points, now)?;
        if allocation.shortfall > 0 {
            return Err(LedgerError::Insufficient {
                available: ledger::balances(lots, now).available,
                requested: points,
            });
        }
        let mut entry = self.entry(kind, -points);
        entry.order_id = order_id.map(OrderId::from);
        entry.reason = reason.map(str::to_string);
        let id = entry.id.clone();
        self.take(entry, &allocation.takes)?;
        self.recompute()?;
        Ok(id)
    }

    /// Takes back `points` of what `order_id` earned: the order's own lots first, then any
    /// others; what cannot be found becomes debt.
    pub fn reverse(&mut self, order_id: &str, points: i64) -> Result<(), LedgerError> {
        // Non-positive points are refused by the allocation, before the entry is written.
        let mut entry = self.entry(EntryKind::Reverse, points.saturating_neg());
        entry.order_id = Some(OrderId::from(order_id));
        self.take_owing(entry, Some(order_id), points)
    }

    /// Takes back `points` given without an order (a referral reward reversed): available lots
    /// first, then pending ones; what cannot be found becomes debt.
    pub fn take_back(&mut self, points: i64, reason: &str) -> Result<(), LedgerError> {
        let mut entry = self.entry(EntryKind::Reverse, points.saturating_neg());
        entry.reason = Some(reason.to_string());
        self.take_owing(entry, None, points)
    }

    fn take_owing(
        &mut self,
        entry: NewEntry,
        order_id: Option<&str>,
        points: i64,
    ) -> Result<(), LedgerError> {
        let now = self.now;
        let lots = self.lots_mut()?;
        let allocation = allocate_reversal(lots, points, order_id, now)?;
        let debt = checked_total("the member's debt", self.stored.debt, allocation.shortfall)?;
        self.take(entry, &allocation.takes)?;
        self.stored.debt = debt;
        self.recompute()
    }

    /// Gives back the points an order spent (`spent_from`: the lots its redemptions took and
    /// how much), into those lots; lots that expired meanwhile get nothing, and debt is paid
    /// first. Needs the lots, including those in `spent_from`. Returns the points given back.
    pub fn give_back(
        &mut self,
        order_id: Option<&str>,
        spent_from: &[(String, i64)],
        reason: &str,
    ) -> Result<i64, LedgerError> {
        let now = self.now;
        let lots = self.lots.as_mut().ok_or(LedgerError::LotsNotLoaded)?;
        let back = restorable(lots, spent_from, now);
        let total = Points::total(
            "points given back",
            back.iter().map(|(_, p)| Points::new(*p)),
        )?
        .get();
        if total == 0 {
            return Ok(0);
        }
        let (mut to_debt, _) = split_credit(total, self.stored.debt);
        self.stored.debt -= to_debt;
        let mut changes = Vec::with_capacity(back.len());
        for (i, points) in back {
            let paid = to_debt.min(points);
            to_debt -= paid;
            lots[i].remaining += points - paid;
            changes.push(Write::Remaining {
                lot_id: lots[i].id.clone(),
                delta: points - paid,
            });
        }
        let mut entry = self.entry(EntryKind::Reverse, total);
        entry.order_id = order_id.map(OrderId::from);
        entry.reason = Some(reason.to_string());
        self.writes.push(Write::Entry(entry));
        self.writes.extend(changes);
        self.recompute()?;
        Ok(total)
    }

    fn take(&mut self, entry: NewEntry, takes: &[(usize, i64)]) -> Result<(), LedgerError> {
        let entry_id = entry.id.clone();
        let lots = self.lots_mut()?;
        let mut recorded = Vec::with_capacity(takes.len());
        let mut changes = Vec::with_capacity(takes.len());
        for &(i, points) in takes {
            lots[i].remaining -= points;
            changes.push(Write::Remaining {
                lot_id: lots[i].id.clone(),
                delta: -points,
            });
            recorded.push((lots[i].id.clone(), points));
        }
        self.writes.push(Write::Entry(entry));
        self.writes.extend(changes);
        self.writes.push(Write::Takes {
            entry_id,
            takes: recorded,
        });
        Ok(())
    }

    /// Cancels an order: reverses whatever it still holds of its earnings and gives back the
    /// points it spent. `spent_from` is what its redemptions took (see [`Book::give_back`]).
    pub fn cancel_order(
        &mut self,
        order: &mut OrderPoints,
        spent_from: &[(String, i64)],
    ) -> Result<(), LedgerError> {
        if order.cancelled {
            return Err(LedgerError::AlreadyCancelled);
        }
        let to_reverse = (order.earned - order.reversed).max(0);
        if to_reverse > 0 {
            self.reverse(&order.id, to_reverse)?;
            order.reversed += to_reverse;
        }
        // A full refund gave the spent points back already.
        if order.refunded < order.total {
            order.returned += self.give_back(Some(&order.id), spent_from, SPENT_GIVEN_BACK)?;
        }
        order.cancelled = true;
        Ok(())
    }

    /// Records a refund of `amount` (cumulative with earlier ones) and reverses the matching
    /// share of the points: floor(earned × refunded so far ÷ total) minus what was reversed, so
    /// refunds that add up to the total reverse exactly what was earned. A full refund gives
    /// back the points the order spent. Returns the points reversed now.
    pub fn refund_order(
        &mut self,
        order: &mut OrderPoints,
        amount: i64,
        spent_from: &[(String, i64)],
    ) -> Result<i64, LedgerError> {
        if order.cancelled {
            return Err(LedgerError::AlreadyCancelled);
        }
        let refundable = order.total - order.refunded;
        if amount <= 0 || amount > refundable {
            return Err(LedgerError::OverRefund { refundable });
        }
        let refunded = order.refunded + amount;
        let target = reversal_target(order.earned, refunded, order.total);
        let to_reverse = (target - order.reversed).max(0);
        if to_reverse > 0 {
            self.reverse(&order.id, to_reverse)?;
        }
        order.reversed += to_reverse;
        order.refunded = refunded;
        if refunded == order.total {
            order.returned += self.give_back(Some(&order.id), spent_from, SPENT_GIVEN_BACK)?;
        }
        Ok(to_reverse)
    }
}

/// What an order has done to its member's points, as the order row keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPoints {
    pub id: OrderId,
    pub total: i64,
    pub earned: i64,
    pub reversed: i64,
    pub refunded: i64,
    pub redeemed: i64,
    /// Redeemed points given back when the order was cancelled or fully refunded.
    pub returned: i64,
    pub cancelled: bool,
}

#[cfg(test)]
mod tests;
