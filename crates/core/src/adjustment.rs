//! A manual points adjustment (điều chỉnh điểm) by an admin: whether it may happen and which
//! move of the ledger it is. The move itself (which lots a debit takes, the debt a credit pays
//! off, the refusal when too few points remain) is `core::book`'s.

use jiff::Timestamp;

use crate::book::{Credit, EntryKind};
use crate::limits::{OutOfRange, checked_total};
use crate::member::{Member, MemberStatus};

/// The ledger move an adjustment makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Points given: spendable now, expiring as earned points do; they count towards the
    /// member's lifetime points, which become `lifetime_points`.
    Credit {
        points: i64,
        expires_at: Option<Timestamp>,
        lifetime_points: i64,
    },
    /// Points taken, oldest lots first.
    Debit { points: i64 },
}

/// The book's credit for a positive adjustment: spendable now, with its reason.
pub fn credit(
    points: i64,
    expires_at: Option<Timestamp>,
    reason: &str,
    now: Timestamp,
) -> Credit<'_> {
    Credit {
        kind: EntryKind::Adjust,
        points,
        order_id: None,
        reason: Some(reason),
        available_at: now,
        expires_at,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdjustRefusal {
    #[error("a blocked member's points cannot change")]
    MemberBlocked,
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
}

/// Decides an adjustment of `points` (non-zero, bounded by `input::points`) for `member`;
/// `expires_at` is when points earned now would expire under the program.
pub fn adjust(
    member: &Member,
    points: i64,
    expires_at: Option<Timestamp>,
) -> Result<Adjustment, AdjustRefusal> {
    if member.status == MemberStatus::Blocked {
        return Err(AdjustRefusal::MemberBlocked);
    }
    if points > 0 {
        let lifetime_points = checked_total(
            "the member's lifetime points",
            member.lifetime_points,
            points,
        )?;
        Ok(Adjustment::Credit {
            points,
            expires_at,
            lifetime_points,
        })
    } else {
        // Bounded by the input check, so the negation cannot overflow.
        Ok(Adjustment::Debit { points: -points })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Profile;

    fn member(status: MemberStatus, lifetime_points: i64) -> Member {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        Member {
            lifetime_points,
            ..Member::new("K7Q3M9P2".into(), status, Profile::default(), None, at)
        }
    }

    #[test]
    fn a_gift_of_points_credits_and_counts_towards_lifetime_a_negative_one_debits() {
        let expiry: Timestamp = "2027-12-31T17:00:00Z".parse().unwrap();
        let m = member(MemberStatus::Member, 1_000);
        assert_eq!(
            adjust(&m, 250, Some(expiry)),
            Ok(Adjustment::Credit {
                points: 250,
                expires_at: Some(expiry),
                lifetime_points: 1_250
            })
        );
        assert_eq!(
            adjust(&m, -40, Some(expiry)),
            Ok(Adjustment::Debit { points: 40 })
        );
    }

    #[test]
    fn a_blocked_member_or_a_lifetime_total_past_the_range_is_refused() {
        let blocked = member(MemberStatus::Blocked, 0);
        assert_eq!(
            adjust(&blocked, 10, None),
            Err(AdjustRefusal::MemberBlocked)
        );
        let full = member(MemberStatus::Member, i64::MAX - 5);
        assert!(matches!(
            adjust(&full, 10, None),
            Err(AdjustRefusal::OutOfRange(_))
        ));
    }
}
