//! What a matching rule gives, and the caps that bound it.

use serde_json::Value;

use super::condition::{Condition, MemberFacts, OrderFacts};
use crate::error::Invalid;

/// What a matching rule gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The base points times `numerator / 1000` (so ×1.5 is 1500); the bonus is the part above
    /// the base points, rounded down.
    Multiplier {
        per_mille: i64,
    },
    BonusPoints(i64),
    PointsPerItem(i64),
}

/// The most points a `bonus_points` or `points_per_item` effect may give.
const MAX_EFFECT_POINTS: i64 = 1_000_000_000;

/// Parses `{"multiplier": 2}`, `{"bonus_points": 50}` or `{"points_per_item": 5}`.
pub fn parse_effect(value: &Value, path: &str) -> Result<Effect, Invalid> {
    let object = value.as_object().filter(|o| o.len() == 1);
    let Some((key, amount)) = object.and_then(|o| o.iter().next()) else {
        return Err(Invalid::one(
            path,
            "effect.shape",
            "must be one of {\"multiplier\": x}, {\"bonus_points\": n}, {\"points_per_item\": n}",
        ));
    };
    let field = format!("{path}.{key}");
    match key.as_str() {
        "multiplier" => {
            let per_mille = amount
                .as_f64()
                .map(|x| (x * 1000.0).round() as i64)
                .filter(|pm| (1001..=100_000).contains(pm))
                .ok_or_else(|| {
                    Invalid::one(
                        &field,
                        "effect.multiplier",
                        "must be a number above 1 and at most 100, with up to 3 decimals",
                    )
                })?;
            Ok(Effect::Multiplier { per_mille })
        }
        "bonus_points" | "points_per_item" => {
            let n = amount
                .as_i64()
                .filter(|n| (1..=MAX_EFFECT_POINTS).contains(n))
                .ok_or_else(|| {
                    Invalid::one_bounded(
                        &field,
                        "effect.points",
                        (1, MAX_EFFECT_POINTS),
                        "must be a whole number of points above 0",
                    )
                })?;
            Ok(if key == "bonus_points" {
                Effect::BonusPoints(n)
            } else {
                Effect::PointsPerItem(n)
            })
        }
        _ => Err(Invalid::one(
            field,
            "effect.unknown",
            "unknown effect: use multiplier, bonus_points or points_per_item",
        )),
    }
}

impl Effect {
    /// The bonus before caps, for an order whose base points are `base`; never more than
    /// [`crate::limits::MAX_POINTS`] (one order's bonus, however many items it has).
    pub fn bonus(
        &self,
        condition: &Condition,
        order: &OrderFacts,
        member: &MemberFacts,
        base: i64,
    ) -> i64 {
        let bonus = match *self {
            Effect::Multiplier { per_mille } => {
                let total = i128::from(base) * i128::from(per_mille) / 1000;
                i64::try_from(total)
                    .unwrap_or(i64::MAX)
                    .saturating_sub(base)
                    .max(0)
            }
            Effect::BonusPoints(n) => n,
            Effect::PointsPerItem(n) => {
                n.saturating_mul(condition.matching_quantity(order, member))
            }
        };
        bonus.min(crate::limits::MAX_POINTS)
    }

    pub fn to_json(self) -> Value {
        match self {
            Effect::Multiplier { per_mille } => {
                serde_json::json!({"multiplier": per_mille as f64 / 1000.0})
            }
            Effect::BonusPoints(n) => serde_json::json!({"bonus_points": n}),
            Effect::PointsPerItem(n) => serde_json::json!({"points_per_item": n}),
        }
    }
}

/// Limits on what a rule gives: per order, per member per local day, and in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_order: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_member_per_day: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_points: Option<i64>,
}

impl Caps {
    pub fn validate(&self, path: &str) -> Result<(), Invalid> {
        let mut e = Invalid::default();
        for (name, value) in [
            ("per_order", self.per_order),
            ("per_member_per_day", self.per_member_per_day),
            ("budget_points", self.budget_points),
        ] {
            if let Some(value) = value {
                crate::limits::points(&mut e, &format!("{path}.{name}"), value);
            }
        }
        e.into_result(|| ())
    }

    /// The bonus left after the caps, given what the rule already gave this member today and
    /// in total.
    pub fn apply(&self, bonus: i64, member_today: i64, awarded_total: i64) -> i64 {
        let mut allowed = bonus.max(0);
        if let Some(cap) = self.per_order {
            allowed = allowed.min(cap);
        }
        if let Some(cap) = self.per_member_per_day {
            allowed = allowed.min(cap.saturating_sub(member_today).max(0));
        }
        if let Some(cap) = self.budget_points {
            allowed = allowed.min(cap.saturating_sub(awarded_total).max(0));
        }
        allowed
    }
}
