//! What an order earns: the earning path's decision, pure.
//!
//! [`plan`] decides everything that needs only the order, the buyer and the program: the
//! points payment and its limit, activation, the order's index for the member, base points,
//! the tier's extra, and which bonus rules match and for how much before their caps. `app`
//! then reads (and locks) what the capped rules have already given and calls
//! [`EarnPlan::finish`], which applies the caps and totals the order's points. The quote a
//! till asks for before payment runs the same two steps and writes nothing.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::amount::{Money, Points};
use crate::limits::{OutOfRange, checked_total};
use crate::member::MemberStatus;
use crate::order::{BreakdownLine, Line};
use crate::program::Program;
use crate::rules::{Caps, EarnRule, LineFacts, MemberFacts, OrderFacts};
use crate::tier::{self, Tier};

/// What the decision needs of the buyer, as their row holds it before the order.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub status: MemberStatus,
    /// A phone or an e-mail: a walk-in guest with neither is never activated.
    pub has_contact: bool,
    pub order_count: i64,
    pub tier_id: Option<String>,
    pub tags: Vec<String>,
    pub birthday: Option<crate::birthday::Birthday>,
    /// Answers to the behaviour questions of the rules in force (`Condition::behaviours`).
    pub behaviour: HashMap<crate::rules::Behaviour, bool>,
}

/// The order as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    pub placed_at: Timestamp,
    pub total: i64,
    pub shipping: i64,
    pub points_redeemed: i64,
    pub channel: &'a Option<String>,
    pub store: &'a Option<String>,
    pub brand: &'a Option<String>,
    pub lines: &'a [Line],
}

/// What the program says, read once.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub program: &'a Program,
    pub zone: &'a TimeZone,
    pub ladder: &'a [Tier],
    pub rules: &'a [EarnRule],
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EarnError {
    #[error("a blocked member cannot spend points")]
    Blocked,
    #[error("{points} points pay {value}, more than {percent}% of the total ({limit})")]
    OverInvoice {
        points: i64,
        value: i64,
        percent: i64,
        limit: i64,
    },
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
}

/// A bonus rule that matched, before its caps.
#[derive(Debug, Clone, PartialEq)]
pub struct Bonus {
    pub rule_id: String,
    pub name: String,
    pub points: i64,
    pub caps: Caps,
}

impl Bonus {
    /// Whether giving it needs what the rule already gave (so `app` reads and locks it).
    pub fn is_capped_by_use(&self) -> bool {
        self.caps.budget_points.is_some() || self.caps.per_member_per_day.is_some()
    }
}

/// What a rule has already given: in all, and to this member on the order's local day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleUse {
    pub awarded_total: i64,
    pub member_today: i64,
}

/// The decision before the caps of the matching rules are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct EarnPlan {
    /// What the points paying part of the total are worth (đồng).
    pub redeemed_value: i64,
    /// The buyer becomes a member with this `member_since` (their first paid order).
    pub activate_since: Option<Timestamp>,
    /// The order's place among the member's paid orders (1 = first).
    pub index: i64,
    pub base_points: i64,
    /// `base`, then `tier`: the bonuses come after the caps.
    pub breakdown: Vec<BreakdownLine>,
    pub bonuses: Vec<Bonus>,
    /// The order's local day in the tenant's zone, what per-day caps count by.
    pub day: String,
    pub available_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    now: Timestamp,
}

/// The decision: what the order earns and what the rules gave.
#[derive(Debug, Clone, PartialEq)]
pub struct EarnDecision {
    pub redeemed_value: i64,
    pub activate_since: Option<Timestamp>,
    pub index: i64,
    pub base_points: i64,
    pub breakdown: Vec<BreakdownLine>,
    /// Points each capped rule gave, to add to what it has given.
    pub awards: Vec<(Bonus, i64)>,
    pub earned: i64,
    /// Of `earned`, waiting out the pending days (0 or all of it).
    pub pending: i64,
    pub available_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub day: String,
}

/// What bonus rules see of an order: its time in the tenant's zone and calendar, and `index`,
/// its place among the member's paid orders.
pub fn facts(order: Order<'_>, zone: &TimeZone, index: i64) -> OrderFacts {
    let local = order.placed_at.to_zoned_datetime(zone.clone()).datetime();
    OrderFacts {
        total: order.total,
        channel: order.channel.clone(),
        store: order.store.clone(),
        brand: order.brand.clone(),
        local,
        lunar: crate::lunar::to_lunar(local.date()),
        index,
        lines: order
            .lines
            .iter()
            .map(|l| LineFacts {
                sku: l.sku.clone(),
                category: l.category.clone(),
                quantity: l.quantity,
            })
            .collect(),
    }
}

/// Decides everything but the caps (see the module notes).
pub fn plan(order: Order<'_>, buyer: &Buyer, setting: Setting<'_>) -> Result<EarnPlan, EarnError> {
    let (program, now) = (setting.program, setting.now);
    let mut redeemed_value = 0;
    if order.points_redeemed > 0 {
        if buyer.status == MemberStatus::Blocked {
            return Err(EarnError::Blocked);
        }
        let value =
            Points::new(order.points_redeemed).worth(Money::new(program.redeem.point_value))?;
        let limit = Money::new(order.total).percent(program.redeem.max_invoice_percent);
        if value > limit {
            return Err(EarnError::OverInvoice {
                points: order.points_redeemed,
                value: value.get(),
                percent: program.redeem.max_invoice_percent,
                limit: limit.get(),
            });
        }
        redeemed_value = value.get();
    }
    let activates = buyer.status == MemberStatus::Customer
        && program.activation.auto_on_first_paid_order
        && buyer.has_contact;
    let status = if activates {
        MemberStatus::Member
    } else {
        buyer.status
    };
    let index = checked_total("the order count", buyer.order_count, 1)?;
    let local = order
        .placed_at
        .to_zoned_datetime(setting.zone.clone())
        .datetime();
    let mut plan = EarnPlan {
        redeemed_value,
        activate_since: activates.then(|| order.placed_at.min(now)),
        index,
        base_points: 0,
        breakdown: Vec::new(),
        bonuses: Vec::new(),
        day: local.date().to_string(),
        available_at: program
            .available_at(order.placed_at, setting.zone)
            .max(now.min(order.placed_at)),
        expires_at: program.expires_at(order.placed_at, setting.zone),
        now,
    };
    if status != MemberStatus::Member {
        return Ok(plan);
    }
    let base = program.base_points(order.total, order.shipping, redeemed_value);
    plan.base_points = base;
    if base > 0 {
        plan.breakdown.push(BreakdownLine {
            rule: "base".to_string(),
            rule_id: None,
            points: base,
        });
    }
    // The tier held before this order multiplies its base points.
    let held = buyer
        .tier_id
        .as_ref()
        .and_then(|id| setting.ladder.iter().find(|t| &t.id == id));
    if let Some(held) = held {
        let extra = tier::multiply(base, held.earn_multiplier_per_mille) - base;
        if extra > 0 {
            plan.breakdown.push(BreakdownLine {
                rule: "tier".to_string(),
                rule_id: Some(held.id.clone()),
                points: extra,
            });
        }
    }
    let facts = facts(order, setting.zone, index);
    let person = MemberFacts {
        tier: held.map(|t| t.name.clone()),
        tier_id: buyer.tier_id.clone(),
        tags: buyer.tags.clone(),
        birthday: buyer.birthday,
        behaviour: buyer.behaviour.clone(),
    };
    for rule in setting.rules.iter().filter(|r| r.in_force(order.placed_at)) {
        if !rule.condition.matches(&facts, &person) {
            continue;
        }
        let points = rule.effect.bonus(&rule.condition, &facts, &person, base);
        if points > 0 {
            plan.bonuses.push(Bonus {
                rule_id: rule.id.clone(),
                name: rule.name.clone(),
                points,
                caps: rule.caps,
            });
        }
    }
    Ok(plan)
}

impl EarnPlan {
    /// Applies each matching rule's caps given what it has already given (`used`, by rule id;
    /// absent means nothing), and totals the order's points.
    pub fn finish(self, used: &HashMap<String, RuleUse>) -> Result<EarnDecision, EarnError> {
        let mut breakdown = self.breakdown;
        let mut awards = Vec::new();
        for bonus in self.bonuses {
            let use_ = used.get(&bonus.rule_id).copied().unwrap_or_default();
            let given = bonus
                .caps
                .apply(bonus.points, use_.member_today, use_.awarded_total);
            if given > 0 {
                breakdown.push(BreakdownLine {
                    rule: bonus.name.clone(),
                    rule_id: Some(bonus.rule_id.clone()),
                    points: given,
                });
                awards.push((bonus, given));
            }
        }
        let earned = Points::total(
            "the points of an order",
            breakdown.iter().map(|b| Points::new(b.points)),
        )?
        .get();
        let pending = if earned > 0 && self.available_at > self.now {
            earned
        } else {
            0
        };
        Ok(EarnDecision {
            redeemed_value: self.redeemed_value,
            activate_since: self.activate_since,
            index: self.index,
            base_points: self.base_points,
            breakdown,
            awards,
            earned,
            pending,
            available_at: self.available_at,
            expires_at: self.expires_at,
            day: self.day,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn program() -> Program {
        serde_json::from_value(serde_json::json!({})).unwrap()
    }

    fn zone() -> TimeZone {
        TimeZone::get("Asia/Ho_Chi_Minh").unwrap()
    }

    fn customer() -> Buyer {
        Buyer {
            status: MemberStatus::Customer,
            has_contact: true,
            order_count: 0,
            tier_id: None,
            tags: vec![],
            birthday: None,
            behaviour: HashMap::new(),
        }
    }

    /// A rule `r1` with these conditions, effect and caps.
    fn rule(json: serde_json::Value) -> EarnRule {
        let caps: Caps = serde_json::from_value(json["caps"].clone()).unwrap();
        let parts = crate::rules::check_rule(
            "x",
            true,
            None,
            None,
            &json["conditions"],
            &json["effect"],
            caps,
        )
        .unwrap();
        EarnRule {
            id: "r1".into(),
            name: parts.name,
            active: true,
            starts_at: None,
            ends_at: None,
            conditions_json: parts.conditions_json,
            condition: parts.condition,
            effect: parts.effect,
            caps: parts.caps,
            awarded_points: 0,
            created_at: at(),
            updated_at: at(),
        }
    }

    fn at() -> Timestamp {
        "2026-11-20T03:00:00Z".parse().unwrap()
    }

    const NO_LINES: &[Line] = &[];

    fn order(total: i64, redeem: i64) -> Order<'static> {
        Order {
            placed_at: at(),
            total,
            shipping: 0,
            points_redeemed: redeem,
            channel: &None,
            store: &None,
            brand: &None,
            lines: NO_LINES,
        }
    }

    fn decide(
        order: Order<'_>,
        buyer: &Buyer,
        rules: &[EarnRule],
        used: &HashMap<String, RuleUse>,
    ) -> Result<EarnDecision, EarnError> {
        let program = program();
        let zone = zone();
        let setting = Setting {
            program: &program,
            zone: &zone,
            ladder: &[],
            rules,
            now: at(),
        };
        plan(order, buyer, setting)?.finish(used)
    }

    #[test]
    fn a_first_paid_order_activates_a_customer_and_earns_base_points() {
        let d = decide(order(70_000, 0), &customer(), &[], &HashMap::new()).unwrap();
        assert_eq!(d.activate_since, Some(at()));
        assert_eq!((d.index, d.base_points, d.earned, d.pending), (1, 7, 7, 0));
        assert_eq!(
            d.breakdown,
            vec![BreakdownLine {
                rule: "base".into(),
                rule_id: None,
                points: 7
            }]
        );
        let mut guest = customer();
        guest.has_contact = false;
        let d = decide(order(70_000, 0), &guest, &[], &HashMap::new()).unwrap();
        assert_eq!(
            (d.activate_since, d.earned),
            (None, 0),
            "a guest without contact earns nothing"
        );
    }

    #[test]
    fn points_pay_at_most_the_programs_share_and_never_for_a_blocked_member() {
        // 1,000 ₫ a point, at most 50%: 35 points pay 35,000 of 70,000.
        let d = decide(order(70_000, 35), &customer(), &[], &HashMap::new()).unwrap();
        assert_eq!(d.redeemed_value, 35_000);
        assert_eq!(d.earned, 3, "earned on the 35,000 not paid with points");
        assert!(matches!(
            decide(order(70_000, 36), &customer(), &[], &HashMap::new()),
            Err(EarnError::OverInvoice { .. })
        ));
        let mut blocked = customer();
        blocked.status = MemberStatus::Blocked;
        assert_eq!(
            decide(order(70_000, 1), &blocked, &[], &HashMap::new()),
            Err(EarnError::Blocked)
        );
    }

    #[test]
    fn a_rules_caps_count_what_it_already_gave() {
        let bonus = rule(
            serde_json::json!({"name": "x2", "conditions": {"all": []}, "effect": {"multiplier": 2},
            "caps": {"per_member_per_day": 10, "budget_points": 100}}),
        );
        let mut used = HashMap::new();
        let fresh = decide(
            order(200_000, 0),
            &customer(),
            std::slice::from_ref(&bonus),
            &used,
        )
        .unwrap();
        assert_eq!(fresh.earned, 20 + 10, "the day's cap holds the bonus to 10");
        assert_eq!(fresh.awards.len(), 1);
        used.insert(
            "r1".to_string(),
            RuleUse {
                awarded_total: 95,
                member_today: 0,
            },
        );
        let budget = decide(
            order(200_000, 0),
            &customer(),
            std::slice::from_ref(&bonus),
            &used,
        )
        .unwrap();
        assert_eq!(budget.earned, 20 + 5, "the budget's last 5 points");
    }

    proptest! {
        #[test]
        fn an_order_never_earns_more_than_its_base_and_bonuses_and_never_wraps(
            total in 0i64..=crate::limits::MAX_AMOUNT,
            count in 0i64..1_000_000,
            today in 0i64..2_000,
            awarded in 0i64..2_000,
        ) {
            let bonus = rule(serde_json::json!({"name": "x3", "conditions": {"all": []}, "effect": {"multiplier": 3},
                "caps": {"per_order": 1_000, "per_member_per_day": 1_500, "budget_points": 1_800}}));
            let mut buyer = customer();
            buyer.order_count = count;
            let used = HashMap::from([("r1".to_string(), RuleUse { awarded_total: awarded, member_today: today })]);
            let d = decide(order(total, 0), &buyer, std::slice::from_ref(&bonus), &used).unwrap();
            let base = total / 10_000;
            let given: i64 = d.awards.iter().map(|(_, g)| g).sum();
            prop_assert_eq!(d.earned, base + given);
            prop_assert!(given <= 1_000 && given <= (1_500 - today).max(0) && given <= (1_800 - awarded).max(0));
            prop_assert_eq!(d.index, count + 1);
        }
    }
}
