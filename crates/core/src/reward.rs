//! Redeeming a reward for points (đổi thưởng): whether this member may have it now, and what
//! the redemption takes. `app` loads the member, the reward (locked) and — only when the reward
//! limits it — how often the member has redeemed it; this decides; `app` writes the plan.

use jiff::Timestamp;

use crate::member::{Member, MemberStatus};
use crate::records::Reward;

/// Why a member cannot have a reward now. Each is a 409 with its stable `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewardRefusal {
    MemberBlocked,
    NotAvailable,
    TierNotEligible,
    OutOfStock,
    LimitReached { limit: i64 },
}

impl RewardRefusal {
    pub fn code(self) -> &'static str {
        match self {
            RewardRefusal::MemberBlocked => "member_blocked",
            RewardRefusal::NotAvailable => "not_available",
            RewardRefusal::TierNotEligible => "tier_not_eligible",
            RewardRefusal::OutOfStock => "out_of_stock",
            RewardRefusal::LimitReached { .. } => "limit_reached",
        }
    }

    /// The field the refusal is about.
    pub fn field(self) -> &'static str {
        match self {
            RewardRefusal::MemberBlocked => "member_id",
            _ => "reward_id",
        }
    }

    pub fn message(self) -> String {
        match self {
            RewardRefusal::MemberBlocked => "a blocked member cannot redeem".into(),
            RewardRefusal::NotAvailable => "the reward is not available now".into(),
            RewardRefusal::TierNotEligible => "the member's tier cannot redeem this reward".into(),
            RewardRefusal::OutOfStock => "the reward is out of stock".into(),
            RewardRefusal::LimitReached { limit } => {
                format!("the member has redeemed this reward {limit} times already")
            }
        }
    }
}

/// What one redemption does, besides the ledger's spend (which `core::book` decides, and which
/// refuses when the member has too few points).
#[derive(Debug, Clone, PartialEq)]
pub struct RedeemPlan {
    /// Points to spend.
    pub points: i64,
    /// The ledger entry's reason.
    pub reason: String,
    /// The voucher program to issue one code of, for a voucher reward.
    pub issue_from: Option<String>,
    /// `issued` when a code is handed out now, `pending` for a gift to hand over.
    pub fulfilment: &'static str,
    /// The reward as it is after this redemption (one more redeemed, one less in stock).
    pub reward: Reward,
}

/// Decides one redemption. `redeemed_before` is how many times this member has redeemed this
/// reward; it is read only when the reward has a per-member limit (pass 0 otherwise).
pub fn redeem(
    reward: &Reward,
    member: &Member,
    redeemed_before: i64,
    now: Timestamp,
) -> Result<RedeemPlan, RewardRefusal> {
    if member.status == MemberStatus::Blocked {
        return Err(RewardRefusal::MemberBlocked);
    }
    let open = reward.active
        && reward.starts_at.is_none_or(|s| s <= now)
        && reward.ends_at.is_none_or(|e| now < e);
    if !open {
        return Err(RewardRefusal::NotAvailable);
    }
    let tier_may = reward.tiers.is_empty()
        || member
            .tier_id
            .as_ref()
            .is_some_and(|t| reward.tiers.contains(t));
    if !tier_may {
        return Err(RewardRefusal::TierNotEligible);
    }
    if reward.stock.is_some_and(|s| s <= 0) {
        return Err(RewardRefusal::OutOfStock);
    }
    if let Some(limit) = reward.per_member_limit
        && redeemed_before >= limit
    {
        return Err(RewardRefusal::LimitReached { limit });
    }
    let mut after = reward.clone();
    // Stock is positive here and the count is bounded by the stock or by i64 redemptions of
    // points no member can hold, so neither saturates in practice; saturate rather than wrap.
    after.redeemed = after.redeemed.saturating_add(1);
    after.stock = after.stock.map(|s| s - 1);
    after.updated_at = now;
    Ok(RedeemPlan {
        points: reward.points_cost,
        reason: format!("reward: {}", reward.name),
        issue_from: reward.voucher_program_id.clone(),
        fulfilment: if reward.voucher_program_id.is_some() {
            "issued"
        } else {
            "pending"
        },
        reward: after,
    })
}

/// What the store does with a gift waiting to be handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    HandOver,
    Cancel,
}

/// Why a gift cannot be settled so (409 with the code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SettleRefusal {
    #[error("a voucher reward has nothing to hand over")]
    NotAGift,
    #[error("the gift was already handed over")]
    AlreadyHandedOver,
    #[error("the gift was cancelled")]
    AlreadyCancelled,
}

impl SettleRefusal {
    pub fn code(self) -> &'static str {
        match self {
            SettleRefusal::NotAGift => "not_a_gift",
            SettleRefusal::AlreadyHandedOver => "gift_handed_over",
            SettleRefusal::AlreadyCancelled => "gift_cancelled",
        }
    }
}

/// The gift's state after `action`: `Some(new state)`, or `None` when it is already there (a
/// repeated hand-over or cancel changes nothing). Only a pending gift moves.
pub fn settle(fulfilment: &str, action: Settle) -> Result<Option<&'static str>, SettleRefusal> {
    match (fulfilment, action) {
        ("pending", Settle::HandOver) => Ok(Some("handed_over")),
        ("pending", Settle::Cancel) => Ok(Some("cancelled")),
        ("handed_over", Settle::HandOver) | ("cancelled", Settle::Cancel) => Ok(None),
        ("handed_over", Settle::Cancel) => Err(SettleRefusal::AlreadyHandedOver),
        ("cancelled", Settle::HandOver) => Err(SettleRefusal::AlreadyCancelled),
        _ => Err(SettleRefusal::NotAGift),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Profile;
    use jiff::SignedDuration;

    fn reward() -> Reward {
        let at: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        Reward {
            id: "rwd_1".into(),
            name: "Ly sứ".into(),
            points_cost: 300,
            kind: "gift".into(),
            voucher_program_id: None,
            stock: Some(2),
            per_member_limit: Some(1),
            tiers: vec!["tier_gold".into()],
            active: true,
            starts_at: Some(at),
            ends_at: Some(at + SignedDuration::from_hours(24 * 30)),
            redeemed: 5,
            created_at: at,
            updated_at: at,
        }
    }

    fn member(tier: Option<&str>, status: MemberStatus) -> Member {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        Member {
            tier_id: tier.map(str::to_string),
            ..Member::new("K7Q3M9P2".into(), status, Profile::default(), None, at)
        }
    }

    #[test]
    fn an_eligible_member_takes_one_from_stock_and_a_gift_waits_to_be_handed_over() {
        let now: Timestamp = "2026-11-10T00:00:00Z".parse().unwrap();
        let gold = member(Some("tier_gold"), MemberStatus::Member);
        let plan = redeem(&reward(), &gold, 0, now).unwrap();
        assert_eq!(plan.points, 300);
        assert_eq!(plan.reason, "reward: Ly sứ");
        assert_eq!((plan.reward.stock, plan.reward.redeemed), (Some(1), 6));
        assert_eq!((plan.fulfilment, plan.issue_from), ("pending", None));
    }

    #[test]
    fn each_rule_refuses_with_its_own_code() {
        let now: Timestamp = "2026-11-10T00:00:00Z".parse().unwrap();
        let gold = member(Some("tier_gold"), MemberStatus::Member);
        let refusal = |r: &Reward, m: &Member, before, at| redeem(r, m, before, at).unwrap_err();
        let blocked = member(Some("tier_gold"), MemberStatus::Blocked);
        assert_eq!(
            refusal(&reward(), &blocked, 0, now).code(),
            "member_blocked"
        );
        let early: Timestamp = "2026-10-01T00:00:00Z".parse().unwrap();
        assert_eq!(refusal(&reward(), &gold, 0, early).code(), "not_available");
        let late: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(refusal(&reward(), &gold, 0, late).code(), "not_available");
        let silver = member(Some("tier_silver"), MemberStatus::Member);
        assert_eq!(
            refusal(&reward(), &silver, 0, now).code(),
            "tier_not_eligible"
        );
        let none = member(None, MemberStatus::Member);
        assert_eq!(
            refusal(&reward(), &none, 0, now).code(),
            "tier_not_eligible"
        );
        let empty = Reward {
            stock: Some(0),
            ..reward()
        };
        assert_eq!(refusal(&empty, &gold, 0, now).code(), "out_of_stock");
        assert_eq!(
            refusal(&reward(), &gold, 1, now),
            RewardRefusal::LimitReached { limit: 1 }
        );
    }

    #[test]
    fn a_voucher_reward_issues_from_its_program_and_unlimited_stock_stays_unlimited() {
        let now: Timestamp = "2026-11-10T00:00:00Z".parse().unwrap();
        let voucher = Reward {
            voucher_program_id: Some("vpr_1".into()),
            stock: None,
            per_member_limit: None,
            tiers: vec![],
            ..reward()
        };
        let plan = redeem(&voucher, &member(None, MemberStatus::Member), 99, now).unwrap();
        assert_eq!(plan.fulfilment, "issued");
        assert_eq!(plan.issue_from.as_deref(), Some("vpr_1"));
        assert_eq!(plan.reward.stock, None);
    }

    #[test]
    fn only_a_pending_gift_is_handed_over_or_cancelled() {
        assert_eq!(settle("pending", Settle::HandOver), Ok(Some("handed_over")));
        assert_eq!(settle("pending", Settle::Cancel), Ok(Some("cancelled")));
        assert_eq!(settle("handed_over", Settle::HandOver), Ok(None));
        assert_eq!(
            settle("handed_over", Settle::Cancel),
            Err(SettleRefusal::AlreadyHandedOver)
        );
        assert_eq!(
            settle("cancelled", Settle::HandOver),
            Err(SettleRefusal::AlreadyCancelled)
        );
        assert_eq!(
            settle("issued", Settle::Cancel),
            Err(SettleRefusal::NotAGift)
        );
    }
}
