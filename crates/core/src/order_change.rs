//! Cancelling and refunding a posted order: whether the change is allowed, the order's new
//! state, and what it does to the member's counters. The points themselves (what to reverse,
//! what to give back) are `core::book`'s `cancel_order` / `refund_order`; `app` loads the order
//! (locked), asks these, and writes the result in one transaction.

use crate::limits::{OutOfRange, checked_total};
use crate::member::Member;
use crate::order::OrderStatus;
use crate::records::OrderRow;

/// Why an order cannot change this way. Each is a 409 with its stable `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRefusal {
    AlreadyCancelled,
    /// The refund `external_id` was recorded before with another amount.
    RefundMismatch {
        external_id: String,
        recorded: i64,
    },
    OverRefund {
        refundable: i64,
        total: i64,
    },
}

impl ChangeRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            ChangeRefusal::AlreadyCancelled => "already_cancelled",
            ChangeRefusal::RefundMismatch { .. } => "refund_mismatch",
            ChangeRefusal::OverRefund { .. } => "over_refund",
        }
    }

    pub fn field(&self) -> &'static str {
        match self {
            ChangeRefusal::AlreadyCancelled => "status",
            ChangeRefusal::RefundMismatch { .. } => "external_id",
            ChangeRefusal::OverRefund { .. } => "amount",
        }
    }
}

/// What a refund does to the order, decided before the ledger reverses its share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refund {
    /// The same refund again: change nothing, answer with the order as it is.
    Replay,
    /// A new refund: the order's refunded amount and status become these.
    Apply {
        refunded_amount: i64,
        status: OrderStatus,
    },
}

/// May `order` be cancelled? (A cancel of a cancelled order is refused, not replayed: the
/// caller asked for a change that cannot happen twice.)
pub fn cancel(order: &OrderRow) -> Result<(), ChangeRefusal> {
    if order.status == OrderStatus::Cancelled {
        return Err(ChangeRefusal::AlreadyCancelled);
    }
    Ok(())
}

/// Decides a refund of `amount` (already bounded at the edge) with refund id `external_id`;
/// `recorded` is the amount an earlier refund with that id recorded, if there was one.
pub fn refund(
    order: &OrderRow,
    external_id: &str,
    amount: i64,
    recorded: Option<i64>,
) -> Result<Refund, ChangeRefusal> {
    if let Some(recorded) = recorded {
        return if recorded == amount {
            Ok(Refund::Replay)
        } else {
            Err(ChangeRefusal::RefundMismatch {
                external_id: external_id.to_string(),
                recorded,
            })
        };
    }
    if order.status == OrderStatus::Cancelled {
        return Err(ChangeRefusal::AlreadyCancelled);
    }
    // Both are bounded by the order's total, itself bounded at the edge: no overflow.
    let refundable = order.total - order.refunded_amount;
    if amount > refundable {
        return Err(ChangeRefusal::OverRefund {
            refundable,
            total: order.total,
        });
    }
    let refunded_amount = order.refunded_amount + amount;
    let status = if refunded_amount == order.total {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    Ok(Refund::Apply {
        refunded_amount,
        status,
    })
}

/// The member's counters after their order is cancelled: the points it earned and the spend it
/// counted no longer count, nor does the order (unless a full refund already took it off).
pub fn count_cancel(
    member: &mut Member,
    order: &OrderRow,
    points_reversed: i64,
) -> Result<(), OutOfRange> {
    member.lifetime_points =
        checked_total("lifetime points", member.lifetime_points, -points_reversed)?;
    member.lifetime_spend = checked_total(
        "lifetime spend",
        member.lifetime_spend,
        -(order.total - order.refunded_amount),
    )?;
    if order.status != OrderStatus::Refunded {
        member.order_count = (member.order_count - 1).max(0);
    }
    Ok(())
}

/// The member's counters after a refund of `amount` that reversed `points_reversed`; a refund
/// that empties the order takes it off the member's order count.
pub fn count_refund(
    member: &mut Member,
    amount: i64,
    points_reversed: i64,
    now_refunded: OrderStatus,
) -> Result<(), OutOfRange> {
    if now_refunded == OrderStatus::Refunded {
        member.order_count = (member.order_count - 1).max(0);
    }
    member.lifetime_points =
        checked_total("lifetime points", member.lifetime_points, -points_reversed)?;
    member.lifetime_spend = checked_total("lifetime spend", member.lifetime_spend, -amount)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{MemberStatus, Profile};
    use jiff::Timestamp;

    fn order(total: i64, refunded: i64, status: OrderStatus) -> OrderRow {
        let at: Timestamp = "2026-11-20T03:00:00Z".parse().unwrap();
        OrderRow {
            id: "ord_1".into(),
            source: "pos".into(),
            external_id: "HN01-1".into(),
            member_id: Some("mem_1".into()),
            status,
            brand: None,
            store: None,
            channel: None,
            placed_at: at,
            currency: "VND".into(),
            subtotal: total,
            discount: 0,
            shipping: 0,
            total,
            points_redeemed: 0,
            redeemed_value: 0,
            member_index: Some(1),
            base_points: 0,
            points_earned: 0,
            points_reversed: 0,
            points_returned: 0,
            refunded_amount: refunded,
            breakdown: "[]".into(),
            receipt: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn refunds_add_up_to_the_total_and_no_further() {
        let paid = order(300_000, 0, OrderStatus::Paid);
        assert_eq!(
            refund(&paid, "r1", 100_000, None),
            Ok(Refund::Apply {
                refunded_amount: 100_000,
                status: OrderStatus::PartiallyRefunded
            })
        );
        let partly = order(300_000, 100_000, OrderStatus::PartiallyRefunded);
        assert_eq!(
            refund(&partly, "r2", 200_000, None),
            Ok(Refund::Apply {
                refunded_amount: 300_000,
                status: OrderStatus::Refunded
            })
        );
        assert_eq!(
            refund(&partly, "r2", 200_001, None).unwrap_err().code(),
            "over_refund"
        );
    }

    #[test]
    fn the_same_refund_replays_and_a_different_amount_under_its_id_is_refused() {
        let partly = order(300_000, 100_000, OrderStatus::PartiallyRefunded);
        assert_eq!(
            refund(&partly, "r1", 100_000, Some(100_000)),
            Ok(Refund::Replay)
        );
        assert_eq!(
            refund(&partly, "r1", 90_000, Some(100_000))
                .unwrap_err()
                .code(),
            "refund_mismatch"
        );
        let cancelled = order(300_000, 0, OrderStatus::Cancelled);
        assert_eq!(
            refund(&cancelled, "r9", 1, None).unwrap_err().code(),
            "already_cancelled"
        );
        assert_eq!(cancel(&cancelled), Err(ChangeRefusal::AlreadyCancelled));
    }

    #[test]
    fn a_cancel_after_a_full_refund_does_not_take_the_order_off_twice() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut m = Member {
            order_count: 3,
            lifetime_spend: 500_000,
            lifetime_points: 80,
            ..Member::new(
                "K7Q3M9P2".into(),
                MemberStatus::Member,
                Profile::default(),
                None,
                at,
            )
        };
        let refunded = order(300_000, 300_000, OrderStatus::Refunded);
        count_cancel(&mut m, &refunded, 0).unwrap();
        assert_eq!((m.order_count, m.lifetime_spend), (3, 500_000));
        let paid = order(200_000, 0, OrderStatus::Paid);
        count_cancel(&mut m, &paid, 20).unwrap();
        assert_eq!(
            (m.order_count, m.lifetime_spend, m.lifetime_points),
            (2, 300_000, 60)
        );
        count_refund(&mut m, 100_000, 10, OrderStatus::PartiallyRefunded).unwrap();
        assert_eq!(
            (m.order_count, m.lifetime_spend, m.lifetime_points),
            (2, 200_000, 50)
        );
    }
}
