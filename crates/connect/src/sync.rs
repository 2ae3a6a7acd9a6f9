//! What a platform's word on an order means for ours: the decision, apart from its doing.
//!
//! Platforms retry and do not keep order: an `orders/updated` may come before `orders/create`,
//! and any delivery may come five times. So a plan compares the platform's state with ours and
//! only ever moves ours forward — unpaid → paid (earn, once) → refunded in part → cancelled —
//! and every step it asks for is itself idempotent (an order by its external id, a refund by
//! its id), so applying a plan twice changes nothing the second time.

use loyalty_core::order::OrderStatus;

use crate::{OrderSnapshot, Payment, RefundNote};

/// Our order of a platform order, as far as a plan needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ours {
    pub status: OrderStatus,
    pub refunded_amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Post the order: it is paid, and earns.
    Post,
    Cancel,
    /// Refund by amount; `external_id` makes it once-only.
    Refund {
        external_id: String,
        amount: i64,
    },
}

/// The steps to take, and why nothing is done when there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub reason: Option<&'static str>,
}

impl Plan {
    fn nothing(reason: &'static str) -> Plan {
        Plan {
            steps: Vec::new(),
            reason: Some(reason),
        }
    }
}

/// Why nothing was done: shown in the delivery log, and `CANCELLED_UNPAID` remembered there so
/// that an older "paid" delivery arriving after it earns nothing.
pub const CANCELLED_UNPAID: &str = "cancelled before it was paid";
pub const UNPAID: &str = "not paid yet";
pub const ALREADY_CANCELLED: &str = "already cancelled";
pub const UP_TO_DATE: &str = "already up to date";
pub const UNKNOWN_ORDER: &str = "refund of an order that was never paid here";

/// The plan for an order snapshot. `cancelled_unpaid` says a cancellation of this order came
/// before any paid delivery did.
pub fn order(snapshot: &OrderSnapshot, ours: Option<&Ours>, cancelled_unpaid: bool) -> Plan {
    match (snapshot.payment, ours) {
        (_, Some(o)) if o.status == OrderStatus::Cancelled => Plan::nothing(ALREADY_CANCELLED),
        (Payment::Cancelled, Some(_)) => Plan {
            steps: vec![Step::Cancel],
            reason: None,
        },
        (Payment::Cancelled, None) => Plan::nothing(CANCELLED_UNPAID),
        (Payment::Unpaid, None) => Plan::nothing(UNPAID),
        // A late "pending" never takes back a payment we saw.
        (Payment::Unpaid, Some(_)) => Plan::nothing(UP_TO_DATE),
        (Payment::Paid, None) if cancelled_unpaid => Plan::nothing(CANCELLED_UNPAID),
        (Payment::Paid, ours) => {
            let mut steps = Vec::new();
            if ours.is_none() {
                steps.push(Step::Post);
            }
            steps.extend(refunds(snapshot, ours.map_or(0, |o| o.refunded_amount)));
            if steps.is_empty() {
                Plan::nothing(UP_TO_DATE)
            } else {
                Plan {
                    steps,
                    reason: None,
                }
            }
        }
    }
}

/// The plan for a refund the platform announced on its own.
pub fn refund(note: &RefundNote, ours: Option<&Ours>) -> Plan {
    match ours {
        None => Plan::nothing(UNKNOWN_ORDER),
        Some(o) if o.status == OrderStatus::Cancelled => Plan::nothing(ALREADY_CANCELLED),
        Some(_) if note.amount <= 0 => Plan::nothing(UP_TO_DATE),
        Some(_) => Plan {
            steps: vec![refund_step(note)],
            reason: None,
        },
    }
}

fn refund_step(note: &RefundNote) -> Step {
    Step::Refund {
        external_id: format!("refund-{}", note.id),
        amount: note.amount,
    }
}

/// Refunds listed with the order go by their ids (a repeat is recognised by the refund's id);
/// a refunded total without a list tops ours up to it.
fn refunds(snapshot: &OrderSnapshot, ours_refunded: i64) -> Vec<Step> {
    if !snapshot.refunds.is_empty() {
        // Refunds this platform once reported only as a total (`refunded-to-…`) and now lists
        // by id are already ours: nothing is refunded twice.
        let listed = snapshot
            .refunds
            .iter()
            .map(|r| r.amount)
            .fold(0i64, i64::saturating_add);
        if listed <= ours_refunded {
            return Vec::new();
        }
        return snapshot.refunds.iter().map(refund_step).collect();
    }
    match snapshot.refunded_total {
        Some(total) if total > ours_refunded => vec![Step::Refund {
            external_id: format!("refunded-to-{total}"),
            amount: total - ours_refunded,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(payment: Payment) -> OrderSnapshot {
        OrderSnapshot {
            id: "1".into(),
            number: None,
            payment,
            customer: None,
            placed_at: None,
            currency: None,
            lines: Vec::new(),
            discount: 0,
            shipping: 0,
            total: 100_000,
            refunds: Vec::new(),
            refunded_total: None,
            notes: Vec::new(),
        }
    }

    const PAID: Ours = Ours {
        status: OrderStatus::Paid,
        refunded_amount: 0,
    };

    #[test]
    fn paid_posts_once_and_unpaid_waits() {
        assert_eq!(
            order(&snapshot(Payment::Paid), None, false).steps,
            vec![Step::Post]
        );
        assert_eq!(
            order(&snapshot(Payment::Paid), Some(&PAID), false).reason,
            Some(UP_TO_DATE)
        );
        assert_eq!(
            order(&snapshot(Payment::Unpaid), None, false).reason,
            Some(UNPAID)
        );
        assert_eq!(
            order(&snapshot(Payment::Unpaid), Some(&PAID), false).reason,
            Some(UP_TO_DATE)
        );
    }

    #[test]
    fn cancel_moves_forward_only() {
        assert_eq!(
            order(&snapshot(Payment::Cancelled), Some(&PAID), false).steps,
            vec![Step::Cancel]
        );
        let cancelled = Ours {
            status: OrderStatus::Cancelled,
            refunded_amount: 0,
        };
        assert_eq!(
            order(&snapshot(Payment::Paid), Some(&cancelled), false).reason,
            Some(ALREADY_CANCELLED)
        );
        assert_eq!(
            order(&snapshot(Payment::Cancelled), None, false).reason,
            Some(CANCELLED_UNPAID)
        );
        // An older "paid" after the cancellation of an order we never had earns nothing.
        assert_eq!(
            order(&snapshot(Payment::Paid), None, true).reason,
            Some(CANCELLED_UNPAID)
        );
    }

    #[test]
    fn refunds_go_by_id_or_top_up_to_the_total() {
        let mut s = snapshot(Payment::Paid);
        s.refunds = vec![RefundNote {
            id: "9".into(),
            amount: 30_000,
        }];
        assert_eq!(
            order(&s, None, false).steps,
            vec![
                Step::Post,
                Step::Refund {
                    external_id: "refund-9".into(),
                    amount: 30_000
                }
            ]
        );
        let mut s = snapshot(Payment::Paid);
        s.refunded_total = Some(40_000);
        let partly = Ours {
            status: OrderStatus::PartiallyRefunded,
            refunded_amount: 30_000,
        };
        assert_eq!(
            order(&s, Some(&partly), false).steps,
            vec![Step::Refund {
                external_id: "refunded-to-40000".into(),
                amount: 10_000
            }]
        );
        let up = Ours {
            status: OrderStatus::PartiallyRefunded,
            refunded_amount: 40_000,
        };
        assert_eq!(order(&s, Some(&up), false).reason, Some(UP_TO_DATE));
        // Reported first as a total, then listed by id: already ours.
        let mut s = snapshot(Payment::Paid);
        s.refunds = vec![RefundNote {
            id: "1".into(),
            amount: 40_000,
        }];
        assert_eq!(order(&s, Some(&up), false).reason, Some(UP_TO_DATE));
    }

    #[test]
    fn a_refund_needs_our_order() {
        let note = RefundNote {
            id: "9".into(),
            amount: 1,
        };
        assert_eq!(refund(&note, None).reason, Some(UNKNOWN_ORDER));
        assert_eq!(refund(&note, Some(&PAID)).steps.len(), 1);
    }
}
