//! Bonus earning rules: a condition tree over the order and the member, an effect, and caps.
//!
//! ```json
//! {"all": [{"field": "member.birthday", "op": "is_today"},
//!          {"field": "order.total", "op": ">=", "value": 100000}]}
//! ```
//! Trees nest with `all`, `any` and `not`. A leaf on `line.*` holds when *some* line of the order
//! satisfies it; for a `points_per_item` effect, the lines counted are those for which the whole
//! tree holds with that line in place.

mod behaviour;
mod condition;
mod effect;

pub use behaviour::{Behaviour, BehaviourKind};
pub use condition::*;
pub use effect::*;

use serde_json::Value;

use crate::error::Invalid;

/// A bonus rule as kept by the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct EarnRule {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub starts_at: Option<jiff::Timestamp>,
    pub ends_at: Option<jiff::Timestamp>,
    /// The tree as the tenant wrote it (what the API returns).
    pub conditions_json: Value,
    pub condition: Condition,
    pub effect: Effect,
    pub caps: Caps,
    /// Points the rule has given in all (for `caps.budget_points`).
    pub awarded_points: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

impl EarnRule {
    /// Whether the rule applies to an order placed at `at`.
    pub fn in_force(&self, at: jiff::Timestamp) -> bool {
        self.active && self.starts_at.is_none_or(|s| s <= at) && self.ends_at.is_none_or(|e| at < e)
    }
}

/// The checked parts of a rule as posted.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleParts {
    pub name: String,
    pub active: bool,
    pub starts_at: Option<jiff::Timestamp>,
    pub ends_at: Option<jiff::Timestamp>,
    pub conditions_json: Value,
    pub condition: Condition,
    pub effect: Effect,
    pub caps: Caps,
}

/// Checks a rule's fields, naming every mistake by path.
pub fn check_rule(
    name: &str,
    active: bool,
    starts_at: Option<&str>,
    ends_at: Option<&str>,
    conditions: &Value,
    effect: &Value,
    caps: Caps,
) -> Result<RuleParts, Invalid> {
    let mut e = Invalid::default();
    let name = e.label("name", name);
    let mut instant = |field: &str, value: Option<&str>| {
        value
            .filter(|v| !v.is_empty())
            .and_then(|v| match v.parse::<jiff::Timestamp>() {
                Ok(t) => Some(t),
                Err(_) => {
                    e.push_coded(field, "timestamp.format", "must be an RFC 3339 time");
                    None
                }
            })
    };
    let starts_at = instant("starts_at", starts_at);
    let ends_at = instant("ends_at", ends_at);
    if let (Some(s), Some(end)) = (starts_at, ends_at)
        && s >= end
    {
        e.push_coded("ends_at", "range.to_before_from", "must be after starts_at");
    }
    let condition = match parse_condition(conditions, "conditions") {
        Ok(c) => Some(c),
        Err(errors) => {
            e.0.extend(errors.0);
            None
        }
    };
    let effect = match parse_effect(effect, "effect") {
        Ok(x) => Some(x),
        Err(errors) => {
            e.0.extend(errors.0);
            None
        }
    };
    if let Err(errors) = caps.validate("caps") {
        e.0.extend(errors.0);
    }
    match (condition, effect) {
        (Some(condition), Some(effect)) if e.is_empty() => Ok(RuleParts {
            name,
            active,
            starts_at,
            ends_at,
            conditions_json: conditions.clone(),
            condition,
            effect,
            caps,
        }),
        _ => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::birthday::Birthday;
    use jiff::civil::DateTime;
    use jiff::civil::date;
    use serde_json::json;

    fn order(on: DateTime) -> OrderFacts {
        OrderFacts {
            total: 150_000,
            channel: Some("pos".into()),
            store: Some("HN01".into()),
            brand: Some("cafe".into()),
            local: on,
            lunar: crate::lunar::to_lunar(on.date()),
            index: 1,
            lines: vec![
                LineFacts {
                    sku: Some("CF-001".into()),
                    category: Some("drinks".into()),
                    quantity: 2,
                },
                LineFacts {
                    sku: Some("BK-002".into()),
                    category: Some("cakes".into()),
                    quantity: 3,
                },
            ],
        }
    }

    fn cond(v: Value) -> Condition {
        parse_condition(&v, "conditions").unwrap()
    }

    fn member(birthday: &str) -> MemberFacts {
        MemberFacts {
            birthday: Birthday::from_stored(birthday),
            tags: vec!["VIP".into()],
            tier: Some("Vàng".into()),
            ..MemberFacts::default()
        }
    }

    #[test]
    fn the_contract_example_matches_on_the_birthday_only() {
        let c = cond(
            json!({"all": [{"field": "member.birthday", "op": "is_today"}, {"field": "order.total", "op": ">=", "value": 100000}]}),
        );
        let m = member("1990-05-17");
        assert!(c.matches(&order(date(2026, 5, 17).at(0, 0, 0, 0)), &m));
        assert!(c.matches(&order(date(2026, 5, 17).at(23, 59, 59, 0)), &m));
        assert!(!c.matches(&order(date(2026, 5, 16).at(23, 59, 59, 0)), &m));
        assert!(!c.matches(&order(date(2026, 5, 18).at(0, 0, 0, 0)), &m));
    }

    #[test]
    fn birthday_weeks_and_months_and_leap_days() {
        let week = cond(json!({"field": "member.birthday", "op": "in_week"}));
        // 2026-12-31 is a Thursday; its week runs to Sunday 2027-01-03.
        assert!(week.matches(
            &order(date(2026, 12, 31).at(12, 0, 0, 0)),
            &member("--01-02")
        ));
        assert!(!week.matches(
            &order(date(2026, 12, 27).at(12, 0, 0, 0)),
            &member("--01-02")
        ));
        let month = cond(json!({"field": "member.birthday", "op": "in_month"}));
        assert!(month.matches(&order(date(2026, 2, 1).at(9, 0, 0, 0)), &member("--02-29")));
        let today = cond(json!({"field": "member.birthday", "op": "is_today"}));
        assert!(today.matches(
            &order(date(2027, 2, 28).at(9, 0, 0, 0)),
            &member("2000-02-29")
        ));
        assert!(today.matches(
            &order(date(2028, 2, 29).at(9, 0, 0, 0)),
            &member("2000-02-29")
        ));
        assert!(!today.matches(
            &order(date(2028, 2, 28).at(9, 0, 0, 0)),
            &member("2000-02-29")
        ));
    }

    #[test]
    fn tet_by_lunar_date() {
        let tet = cond(json!({"field": "order.lunar_date", "op": "=", "value": "01-01"}));
        let m = MemberFacts::default();
        assert!(tet.matches(&order(date(2026, 2, 17).at(0, 0, 0, 0)), &m));
        assert!(!tet.matches(&order(date(2026, 2, 16).at(23, 59, 0, 0)), &m));
        assert!(!tet.matches(&order(date(2026, 2, 18).at(0, 0, 0, 0)), &m));
        let first_days = cond(
            json!({"field": "order.lunar_date", "op": "between", "value": ["01-01", "01-03"]}),
        );
        assert!(first_days.matches(&order(date(2025, 1, 31).at(8, 0, 0, 0)), &m));
    }

    #[test]
    fn line_conditions_hold_for_some_line_and_count_matching_items() {
        let cakes = cond(
            json!({"all": [{"field": "line.category", "op": "=", "value": "Cakes"}, {"field": "order.channel", "op": "in", "value": ["pos", "web"]}]}),
        );
        let o = order(date(2026, 3, 3).at(10, 0, 0, 0));
        let m = MemberFacts::default();
        assert!(cakes.matches(&o, &m));
        assert_eq!(cakes.matching_quantity(&o, &m), 3);
        assert_eq!(Effect::PointsPerItem(5).bonus(&cakes, &o, &m, 15), 15);
        let no_tea = cond(json!({"not": {"field": "line.sku", "op": "contains", "value": "tea"}}));
        assert!(no_tea.matches(&o, &m));
    }

    #[test]
    fn times_weekdays_tags_tiers_and_wrapping_ranges() {
        let m = member("--06-01");
        let happy = cond(json!({"all": [
            {"field": "order.local_time", "op": "between", "value": ["14:00", "17:00"]},
            {"field": "order.weekday", "op": "in", "value": [6, 7]},
            {"field": "member.tags", "op": "contains", "value": "vip"},
            {"field": "member.tier", "op": "=", "value": "vàng"}
        ]}));
        // 2026-03-07 is a Saturday.
        assert!(happy.matches(&order(date(2026, 3, 7).at(15, 30, 0, 0)), &m));
        assert!(!happy.matches(&order(date(2026, 3, 7).at(17, 1, 0, 0)), &m));
        assert!(!happy.matches(&order(date(2026, 3, 6).at(15, 30, 0, 0)), &m));
        let night = cond(
            json!({"field": "order.local_time", "op": "between", "value": ["22:00", "02:00"]}),
        );
        assert!(night.matches(&order(date(2026, 3, 7).at(1, 0, 0, 0)), &m));
        assert!(!night.matches(&order(date(2026, 3, 7).at(12, 0, 0, 0)), &m));
    }

    #[test]
    fn mistakes_are_named_by_path() {
        let bad = json!({"all": [
            {"field": "order.total", "op": ">=", "value": 1},
            {"field": "order.nope", "op": "=", "value": 1},
            {"field": "order.total", "op": "is_today"},
            {"field": "order.total", "op": ">=", "value": "lots"},
            {"any": [{"field": "order.date", "op": "between", "value": ["2026-02-01"]}]},
            {"field": "member.tags", "op": ">", "value": "x"}
        ]});
        let fields: Vec<String> = parse_condition(&bad, "conditions")
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "conditions.all[1].field",
                "conditions.all[2].op",
                "conditions.all[3].value",
                "conditions.all[4].any[0].value",
                "conditions.all[5].op",
            ]
        );
    }

    #[test]
    fn effects_and_caps() {
        let c = cond(json!({"all": []}));
        let o = order(date(2026, 1, 1).at(0, 0, 0, 0));
        let m = MemberFacts::default();
        assert_eq!(
            parse_effect(&json!({"multiplier": 2}), "effect")
                .unwrap()
                .bonus(&c, &o, &m, 7),
            7
        );
        assert_eq!(
            parse_effect(&json!({"multiplier": 1.5}), "effect")
                .unwrap()
                .bonus(&c, &o, &m, 7),
            3
        );
        assert!(parse_effect(&json!({"multiplier": 1}), "effect").is_err());
        assert!(parse_effect(&json!({"double": 2}), "effect").is_err());
        let caps = Caps {
            per_order: Some(500),
            per_member_per_day: Some(600),
            budget_points: Some(1000),
        };
        assert_eq!(caps.apply(700, 0, 0), 500);
        assert_eq!(caps.apply(700, 400, 0), 200);
        assert_eq!(caps.apply(700, 0, 900), 100);
        assert_eq!(caps.apply(700, 0, 1000), 0);
    }
}
