//! Events: what happened, as an integrator sees it (API.md "Events and outbound webhooks").
//!
//! A use-case's decision names the events of its change; `app` writes them in the transaction
//! of the change (the transactional outbox), so an event exists exactly when its change
//! committed. The feed and, later, outbound webhooks read them from there.

use serde::Serialize;
use std::fmt;

use crate::error::Invalid;

/// The type of an event. The names are the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    MemberCreated,
    MemberUpdated,
    MemberActivated,
    MemberErased,
    OrderPaid,
    OrderCancelled,
    OrderRefunded,
    PointsEarned,
    PointsSpent,
    PointsExpired,
    PointsAdjusted,
    TierChanged,
    VoucherIssued,
    VoucherRedeemed,
    VoucherReleased,
    RewardRedeemed,
    ReferralCompleted,
    ReferralReversed,
    MessageSent,
    MessageDelivered,
    MessageFailed,
    CampaignFinished,
    Ping,
}

impl EventType {
    pub const ALL: [EventType; 23] = [
        EventType::MemberCreated,
        EventType::MemberUpdated,
        EventType::MemberActivated,
        EventType::MemberErased,
        EventType::OrderPaid,
        EventType::OrderCancelled,
        EventType::OrderRefunded,
        EventType::PointsEarned,
        EventType::PointsSpent,
        EventType::PointsExpired,
        EventType::PointsAdjusted,
        EventType::TierChanged,
        EventType::VoucherIssued,
        EventType::VoucherRedeemed,
        EventType::VoucherReleased,
        EventType::RewardRedeemed,
        EventType::ReferralCompleted,
        EventType::ReferralReversed,
        EventType::MessageSent,
        EventType::MessageDelivered,
        EventType::MessageFailed,
        EventType::CampaignFinished,
        EventType::Ping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MemberCreated => "member.created",
            EventType::MemberUpdated => "member.updated",
            EventType::MemberActivated => "member.activated",
            EventType::MemberErased => "member.erased",
            EventType::OrderPaid => "order.paid",
            EventType::OrderCancelled => "order.cancelled",
            EventType::OrderRefunded => "order.refunded",
            EventType::PointsEarned => "points.earned",
            EventType::PointsSpent => "points.spent",
            EventType::PointsExpired => "points.expired",
            EventType::PointsAdjusted => "points.adjusted",
            EventType::TierChanged => "tier.changed",
            EventType::VoucherIssued => "voucher.issued",
            EventType::VoucherRedeemed => "voucher.redeemed",
            EventType::VoucherReleased => "voucher.released",
            EventType::RewardRedeemed => "reward.redeemed",
            EventType::ReferralCompleted => "referral.completed",
            EventType::ReferralReversed => "referral.reversed",
            EventType::MessageSent => "message.sent",
            EventType::MessageDelivered => "message.delivered",
            EventType::MessageFailed => "message.failed",
            EventType::CampaignFinished => "campaign.finished",
            EventType::Ping => "ping",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription to event types: exact names (`order.paid`), families (`points.*`) or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFilter {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Family(String),
    Exact(EventType),
}

impl TypeFilter {
    /// Parses comma-separated patterns; an unknown type or family is refused, naming `field`
    /// (a typo would otherwise subscribe to nothing, silently).
    pub fn parse(field: &str, text: &str) -> Result<TypeFilter, Invalid> {
        let mut patterns = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let pattern = if part == "*" {
                Pattern::Any
            } else if let Some(family) = part.strip_suffix(".*") {
                if !EventType::ALL
                    .iter()
                    .any(|t| t.as_str().split('.').next() == Some(family))
                {
                    return Err(unknown(field, part));
                }
                Pattern::Family(family.to_string())
            } else {
                Pattern::Exact(EventType::parse(part).ok_or_else(|| unknown(field, part))?)
            };
            patterns.push(pattern);
        }
        if patterns.is_empty() {
            return Err(Invalid::one(
                field,
                "required",
                "name at least one event type, a family such as points.* or *",
            ));
        }
        Ok(TypeFilter { patterns })
    }

    pub fn matches(&self, event: EventType) -> bool {
        self.patterns.iter().any(|p| match p {
            Pattern::Any => true,
            Pattern::Family(family) => event.as_str().split('.').next() == Some(family.as_str()),
            Pattern::Exact(exact) => *exact == event,
        })
    }

    /// The exact types this filter admits, for a query.
    pub fn types(&self) -> Vec<EventType> {
        EventType::ALL
            .into_iter()
            .filter(|t| self.matches(*t))
            .collect()
    }
}

fn unknown(field: &str, part: &str) -> Invalid {
    Invalid::one(
        field,
        "event_type.unknown",
        format!("{part} is not an event type (for example order.paid or points.*)"),
    )
}

/// An event a change raises: its type, the member it concerns (events of one member are
/// delivered in order), and the changed objects as the API shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    pub kind: EventType,
    pub member_id: Option<crate::id::MemberId>,
    /// The event's `data` as JSON text: serialized once, straight from the objects, because
    /// it is written inside the change's transaction (on the order path's critical section).
    pub data: String,
}

impl Raised {
    pub fn new(
        kind: EventType,
        member_id: Option<&crate::id::MemberId>,
        data: &impl Serialize,
    ) -> Raised {
        Raised {
            kind,
            member_id: member_id.cloned(),
            // Serializing plain data to a string cannot fail; `null` would show if it did.
            data: serde_json::to_string(data).unwrap_or_else(|_| "null".to_string()),
        }
    }
}

/// A member as events show it: the stored member without the bookkeeping a client has no use
/// for (when balances next change, the tier cycle's carry).
pub fn member_data(member: &crate::member::Member) -> serde_json::Value {
    let mut value = serde_json::to_value(member).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        for internal in ["next_change_at", "tier_cycle_start", "tier_carry"] {
            object.remove(internal);
        }
    }
    serde_json::json!({ "member": value })
}

/// `member.created`, `member.updated`, `member.activated`.
pub fn member_changed(kind: EventType, member: &crate::member::Member) -> Raised {
    Raised::new(kind, Some(&member.id), &member_data(member))
}

/// A member's balances after a points movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub available: i64,
    pub pending: i64,
    pub debt: i64,
}

impl Balance {
    pub fn of(member: &crate::member::Member) -> Balance {
        Balance {
            available: member.points_available,
            pending: member.points_pending,
            debt: member.points_debt,
        }
    }
}

/// The data of a points movement: the entry and the member's balances after it.
#[derive(Serialize)]
struct PointsMoved<'a, E: Serialize> {
    member_id: &'a str,
    entry: &'a E,
    balance: Balance,
}

/// A points movement (`points.earned`, `points.spent`, `points.expired`, `points.adjusted`):
/// the entry (as the API shows a ledger entry) and the member's balances after it.
pub fn points_moved(
    kind: EventType,
    member_id: &crate::id::MemberId,
    balance: Balance,
    entry: &impl Serialize,
) -> Raised {
    let data = PointsMoved {
        member_id,
        entry,
        balance,
    };
    Raised::new(kind, Some(member_id), &data)
}

/// Where a reader of the feed stands: after the event at `(tx, seq)`. On PostgreSQL `tx` is
/// the writing transaction's id, so that the feed never passes an event still being committed;
/// on SQLite, whose writers take turns, it is 0 and `seq` alone orders the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub tx: i64,
    pub seq: i64,
}

impl Position {
    /// The opaque cursor an API client passes back.
    pub fn cursor(self) -> String {
        format!("{}.{}", self.tx, self.seq)
    }

    pub fn parse_cursor(text: &str) -> Option<Position> {
        let (tx, seq) = text.split_once('.')?;
        let (tx, seq) = (tx.parse().ok()?, seq.parse().ok()?);
        (tx >= 0 && seq >= 0).then_some(Position { tx, seq })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("order.shipped"), None);
    }

    #[test]
    fn filters_take_names_families_and_everything() {
        let f = TypeFilter::parse("events", "order.paid, points.*").unwrap();
        assert!(f.matches(EventType::OrderPaid));
        assert!(f.matches(EventType::PointsExpired));
        assert!(!f.matches(EventType::OrderCancelled));
        assert_eq!(f.types().len(), 5);
        assert_eq!(TypeFilter::parse("events", "*").unwrap().types().len(), 23);
        for bad in ["", " , ", "order.shiped", "pints.*", "order"] {
            let error = TypeFilter::parse("events", bad).unwrap_err();
            assert_eq!(error.0[0].field, "events", "{bad:?}");
        }
    }

    #[test]
    fn cursors_read_back_and_refuse_garbage() {
        let p = Position { tx: 812, seq: 9 };
        assert_eq!(Position::parse_cursor(&p.cursor()), Some(p));
        for bad in ["", "1", "a.b", "-1.2", "1.-2", "1.2.3"] {
            assert_eq!(Position::parse_cursor(bad), None, "{bad:?}");
        }
    }
}
