//! Points arithmetic: lots, balances, which lots a debit takes, expiry, reversals and debt.
//!
//! Every credit (an order's earnings, a positive adjustment) is a *lot*: points with the moment
//! they become spendable (`available_at`, after the pending days) and the moment they expire.
//! Debits take points from lots: spending (redeem, negative adjustment) takes available points
//! whose expiry is soonest first, so members lose as little as possible to expiry; a reversal
//! (cancel, refund) takes back the order's own points first. What a reversal cannot find —
//! because the points were already spent — becomes **debt**: the balance never goes below zero,
//! and later credits pay the debt before they add spendable points.
//!
//! The invariant the store keeps and `loyalty verify` checks, for every member:
//! sum of ledger entries = sum of live lots' remaining points − debt.
//!
//! [`crate::book::Book`] decides every change with these functions; the store persists what it
//! decides.

use std::cmp::Ordering;

use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub id: String,
    /// The order whose earnings created this lot, if any.
    pub order_id: Option<String>,
    pub remaining: i64,
    pub created_at: Timestamp,
    pub available_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl Lot {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn is_available(&self, now: Timestamp) -> bool {
        !self.is_expired(now) && self.available_at <= now
    }

    pub fn is_pending(&self, now: Timestamp) -> bool {
        !self.is_expired(now) && self.available_at > now
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balances {
    /// Spendable now.
    pub available: i64,
    /// Earned, not spendable yet.
    pub pending: i64,
}

/// Balances as of `now`, whether or not expiry has been written to the ledger yet. (Credits
/// are refused before a balance could leave `i64`; should stored lots hold more anyway, the
/// balance reads as the largest number rather than failing, and `verify` reports the member.)
pub fn balances(lots: &[Lot], now: Timestamp) -> Balances {
    let mut b = Balances::default();
    for lot in lots {
        if lot.is_available(now) {
            b.available = b.available.saturating_add(lot.remaining);
        } else if lot.is_pending(now) {
            b.pending = b.pending.saturating_add(lot.remaining);
        }
    }
    b
}

/// Soonest expiry first (lots that never expire last), then oldest first.
pub(crate) fn expiry_order(a: &Lot, b: &Lot) -> Ordering {
    (a.expires_at.is_none(), a.expires_at, a.created_at, &a.id).cmp(&(
        b.expires_at.is_none(),
        b.expires_at,
        b.created_at,
        &b.id,
    ))
}

/// Which lots (by index into the slice) a debit takes, and how much it could not find.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    pub takes: Vec<(usize, i64)>,
    pub shortfall: i64,
}

impl Allocation {
    pub fn taken(&self) -> i64 {
        self.takes.iter().map(|(_, p)| p).sum()
    }
}

fn take_in_order(lots: &[Lot], order: &[usize], amount: i64, out: &mut Allocation) -> i64 {
    let mut left = amount;
    for &i in order {
        if left == 0 {
            break;
        }
        let take = lots[i].remaining.min(left);
        if take > 0 {
            out.takes.push((i, take));
            left -= take;
        }
    }
    left
}

/// A debit of zero or fewer points: a caller's bug or hostile input, never a valid allocation
/// (taking `-n` points would be a credit in disguise, and `-i64::MIN` does not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a debit must take at least one point, not {0}")]
pub struct NotPositive(pub i64);

/// A spend (redemption, negative adjustment): available points only, soonest expiry first.
/// A shortfall means the member does not have enough; the caller refuses the spend.
pub fn allocate_spend(
    lots: &[Lot],
    amount: i64,
    now: Timestamp,
) -> Result<Allocation, NotPositive> {
    if amount <= 0 {
        return Err(NotPositive(amount));
    }
    let mut order: Vec<usize> = (0..lots.len())
        .filter(|&i| lots[i].is_available(now) && lots[i].remaining > 0)
        .collect();
    order.sort_by(|&a, &b| expiry_order(&lots[a], &lots[b]));
    let mut out = Allocation::default();
    out.shortfall = take_in_order(lots, &order, amount, &mut out);
    Ok(out)
}

/// A reversal of `order_id`'s earnings: the order's own live points first (pending or not),
/// then other available points soonest expiry first, then other pending points. Expired lots
/// are never touched, so a reversal cannot bring an expired point back. The shortfall becomes
/// debt.
pub fn allocate_reversal(
    lots: &[Lot],
    amount: i64,
    order_id: Option<&str>,
    now: Timestamp,
) -> Result<Allocation, NotPositive> {
    if amount <= 0 {
        return Err(NotPositive(amount));
    }
    let live = |i: &usize| !lots[*i].is_expired(now) && lots[*i].remaining > 0;
    let own = |i: &usize| order_id.is_some() && lots[*i].order_id.as_deref() == order_id;
    let mut first: Vec<usize> = (0..lots.len()).filter(|i| live(i) && own(i)).collect();
    first.sort_by(|&a, &b| expiry_order(&lots[a], &lots[b]));
    let mut available: Vec<usize> = (0..lots.len())
        .filter(|i| live(i) && !own(i) && lots[*i].is_available(now))
        .collect();
    available.sort_by(|&a, &b| expiry_order(&lots[a], &lots[b]));
    let mut pending: Vec<usize> = (0..lots.len())
        .filter(|i| live(i) && !own(i) && lots[*i].is_pending(now))
        .collect();
    pending.sort_by(|&a, &b| expiry_order(&lots[a], &lots[b]));
    let mut out = Allocation::default();
    let order: Vec<usize> = first.into_iter().chain(available).chain(pending).collect();
    out.shortfall = take_in_order(lots, &order, amount, &mut out);
    Ok(out)
}

/// Lots that have expired by `now` and still hold points: (index, points to expire).
pub fn expired_lots(lots: &[Lot], now: Timestamp) -> Vec<(usize, i64)> {
    (0..lots.len())
        .filter(|&i| lots[i].is_expired(now) && lots[i].remaining > 0)
        .map(|i| (i, lots[i].remaining))
        .collect()
}

/// The next moment after `now` at which the balances change by themselves (pending points
/// becoming available, or points expiring). Stored on the member so that reads know when the
/// stored balances are stale.
pub fn next_change(lots: &[Lot], now: Timestamp) -> Option<Timestamp> {
    lots.iter()
        .filter(|lot| lot.remaining > 0 && !lot.is_expired(now))
        .flat_map(|lot| {
            let available = (lot.available_at > now).then_some(lot.available_at);
            [available, lot.expires_at]
        })
        .flatten()
        .min()
}

/// A credit pays debt first: returns (to debt, to a new lot).
pub fn split_credit(amount: i64, debt: i64) -> (i64, i64) {
    let to_debt = amount.min(debt).max(0);
    (to_debt, amount - to_debt)
}

/// How many of an order's `earned` points a refund of `refunded_total` (cumulative) out of
/// `total` takes back in all: floor(earned × refunded ÷ total), so partial refunds that add up
/// to the total reverse exactly what was earned, and rounding never reverses too much.
pub fn reversal_target(earned: i64, refunded_total: i64, total: i64) -> i64 {
    if total <= 0 || refunded_total >= total {
        return earned;
    }
    let target = i128::from(earned) * i128::from(refunded_total.max(0)) / i128::from(total);
    i64::try_from(target).unwrap_or(earned).min(earned)
}

/// Where the points a cancelled order had spent go back: (index of the lot, points) for each
/// lot they came from that has not expired. Expired lots get nothing back, so giving points
/// back never revives an expired point.
pub fn restorable(lots: &[Lot], spent_from: &[(String, i64)], now: Timestamp) -> Vec<(usize, i64)> {
    spent_from
        .iter()
        .filter_map(|(id, points)| {
            let i = lots.iter().position(|lot| &lot.id == id)?;
            (!lots[i].is_expired(now)).then_some((i, *points))
        })
        .collect()
}

/// Points expiring in the future, grouped by moment, soonest first.
pub fn expiring(lots: &[Lot], now: Timestamp) -> Vec<(Timestamp, i64)> {
    let mut groups: Vec<(Timestamp, i64)> = Vec::new();
    let mut live: Vec<&Lot> = lots
        .iter()
        .filter(|l| l.remaining > 0 && !l.is_expired(now) && l.expires_at.is_some())
        .collect();
    live.sort_by(|a, b| expiry_order(a, b));
    for lot in live {
        let at = lot.expires_at.unwrap_or(now);
        match groups.last_mut() {
            Some((last, points)) if *last == at => *points = points.saturating_add(lot.remaining),
            _ => groups.push((at, lot.remaining)),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::{SignedDuration, Timestamp};

    fn t(hours: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_hours(hours)
    }

    fn lot(id: &str, remaining: i64, available_at: i64, expires_at: Option<i64>) -> Lot {
        Lot {
            id: id.into(),
            order_id: None,
            remaining,
            created_at: t(0),
            available_at: t(available_at),
            expires_at: expires_at.map(t),
        }
    }

    #[test]
    fn spending_takes_the_soonest_expiring_available_points_first() {
        let lots = [
            lot("never", 50, 0, None),
            lot("late", 50, 0, Some(100)),
            lot("soon", 30, 0, Some(10)),
            lot("pending", 100, 20, Some(5)),
        ];
        let a = allocate_spend(&lots, 60, t(1)).unwrap();
        assert_eq!(a.takes, vec![(2, 30), (1, 30)]);
        assert_eq!(a.shortfall, 0);
        let all = allocate_spend(&lots, 500, t(1)).unwrap();
        assert_eq!(all.shortfall, 500 - 130, "pending points cannot be spent");
    }

    #[test]
    fn a_reversal_takes_the_orders_own_points_first_then_makes_debt() {
        let mut own = lot("own", 20, 50, Some(100));
        own.order_id = Some("o1".into());
        let lots = [lot("other", 30, 0, Some(90)), own];
        let a = allocate_reversal(&lots, 100, Some("o1"), t(1)).unwrap();
        assert_eq!(a.takes, vec![(1, 20), (0, 30)]);
        assert_eq!(a.shortfall, 50);
    }

    #[test]
    fn a_debit_of_no_points_or_fewer_is_refused_whatever_the_lots() {
        let lots = [lot("a", 50, 0, None)];
        for amount in [0, -1, -50, i64::MIN] {
            assert_eq!(
                allocate_spend(&lots, amount, t(1)),
                Err(NotPositive(amount))
            );
            assert_eq!(
                allocate_reversal(&lots, amount, Some("o"), t(1)),
                Err(NotPositive(amount))
            );
        }
    }

    #[test]
    fn expired_points_are_neither_spendable_nor_reversible() {
        let lots = [lot("gone", 40, 0, Some(5))];
        assert_eq!(balances(&lots, t(6)), Balances::default());
        assert_eq!(
            allocate_reversal(&lots, 40, Some("x"), t(6))
                .unwrap()
                .shortfall,
            40
        );
        assert_eq!(expired_lots(&lots, t(6)), vec![(0, 40)]);
        assert_eq!(next_change(&lots, t(1)), Some(t(5)));
    }

    #[test]
    fn three_partial_refunds_reverse_exactly_what_was_earned() {
        let (earned, total) = (7, 70_000);
        let a = reversal_target(earned, 35_000, total);
        let b = reversal_target(earned, 35_000 + 20_000, total);
        let c = reversal_target(earned, total, total);
        assert_eq!((a, b, c), (3, 5, 7));
    }

    #[test]
    fn credits_pay_debt_first() {
        assert_eq!(split_credit(50, 80), (50, 0));
        assert_eq!(split_credit(100, 80), (80, 20));
        assert_eq!(split_credit(10, 0), (0, 10));
    }
}
