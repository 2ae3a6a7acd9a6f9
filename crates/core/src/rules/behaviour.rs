//! Behaviour blocks in a rule's conditions: what the member did *before* the order being
//! judged, in the words of segments (API.md "Segments"):
//!
//! ```json
//! {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "sku": "CF-001"}}
//! {"not_purchased": {"category": "bánh"}}
//! {"used_voucher": {"from": "2026-01-01"}}
//! ```
//! Dates are the shop's local days; `to` is the first day no longer counted (as in segments).
//! The app looks each distinct block up once per order (one indexed query) and hands the
//! answers over in [`super::MemberFacts::behaviour`]; deciding stays here.

use jiff::civil::Date;
use serde_json::Value;

use crate::error::Invalid;

/// Which behaviour a block asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BehaviourKind {
    Purchased,
    NotPurchased,
    UsedVoucher,
}

impl BehaviourKind {
    pub const ALL: [(&'static str, BehaviourKind); 3] = [
        ("purchased", BehaviourKind::Purchased),
        ("not_purchased", BehaviourKind::NotPurchased),
        ("used_voucher", BehaviourKind::UsedVoucher),
    ];

    fn keys(self) -> &'static [&'static str] {
        match self {
            BehaviourKind::Purchased | BehaviourKind::NotPurchased => {
                &["from", "to", "sku", "category", "store", "brand"]
            }
            BehaviourKind::UsedVoucher => &["from", "to"],
        }
    }
}

/// A block as the rule holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Behaviour {
    pub kind: BehaviourKind,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub store: Option<String>,
    pub brand: Option<String>,
}

impl Behaviour {
    /// What the app looks up for this block: `not_purchased` is the negation of the same
    /// `purchased` question, so both share one answer.
    pub fn question(&self) -> Behaviour {
        let kind = match self.kind {
            BehaviourKind::NotPurchased => BehaviourKind::Purchased,
            other => other,
        };
        Behaviour {
            kind,
            ..self.clone()
        }
    }

    /// Whether the block holds, given whether the member did what its question asks.
    pub fn holds(&self, did: bool) -> bool {
        match self.kind {
            BehaviourKind::NotPurchased => !did,
            _ => did,
        }
    }
}

/// Parses `{"purchased": {...}}` and its siblings; `None` when `object` is no behaviour block.
pub(super) fn parse(
    object: &serde_json::Map<String, Value>,
    path: &str,
    e: &mut Invalid,
) -> Option<Option<Behaviour>> {
    if object.len() != 1 {
        return None;
    }
    let (name, inner) = object.iter().next()?;
    let kind = BehaviourKind::ALL
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, k)| *k)?;
    let path = format!("{path}.{name}");
    let Some(block) = inner.as_object() else {
        e.push_coded(
            &path,
            "condition.not_an_object",
            "must be an object: {\"from\", \"to\", …}",
        );
        return Some(None);
    };
    for key in block.keys() {
        if !kind.keys().contains(&key.as_str()) {
            e.push_coded(
                format!("{path}.{key}"),
                "condition.unknown_key",
                format!("unknown key: use {}", kind.keys().join(", ")),
            );
            return Some(None);
        }
    }
    let mut ok = true;
    let mut date = |key: &str| match block.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let parsed = v.as_str().and_then(|s| s.trim().parse::<Date>().ok());
            if parsed.is_none() {
                e.push_coded(
                    format!("{path}.{key}"),
                    "condition.date_format",
                    "must be a date YYYY-MM-DD",
                );
                ok = false;
            }
            parsed
        }
    };
    let (from, to) = (date("from"), date("to"));
    let mut text = |key: &str| match block.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(_) => {
            e.push_coded(
                format!("{path}.{key}"),
                "condition.not_text",
                "must be text",
            );
            ok = false;
            None
        }
    };
    let (sku, category, store, brand) =
        (text("sku"), text("category"), text("store"), text("brand"));
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        e.push_coded(
            format!("{path}.to"),
            "range.to_before_from",
            "must be after from",
        );
        ok = false;
    }
    Some(ok.then_some(Behaviour {
        kind,
        from,
        to,
        sku,
        category,
        store,
        brand,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::{MemberFacts, parse_condition};
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_parse_and_share_one_question() {
        let tree = json!({"any": [
            {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "sku": "CF-001"}},
            {"not": {"not_purchased": {"from": "2026-10-01", "to": "2026-11-01", "sku": "CF-001"}}},
            {"used_voucher": {"from": "2026-01-01"}}
        ]});
        let condition = parse_condition(&tree, "conditions").unwrap();
        let questions = condition.behaviours();
        assert_eq!(
            questions.len(),
            2,
            "purchased and not_purchased of one block ask once"
        );
        assert_eq!(questions[0].kind, BehaviourKind::Purchased);
        assert_eq!(questions[0].sku.as_deref(), Some("CF-001"));
    }

    #[test]
    fn answers_decide() {
        let tree = json!({"not_purchased": {"category": "bánh"}});
        let condition = parse_condition(&tree, "conditions").unwrap();
        let question = condition.behaviours().remove(0);
        let order = super::super::OrderFacts {
            total: 100_000,
            channel: None,
            store: None,
            brand: None,
            local: "2026-11-05T10:00".parse().unwrap(),
            lunar: crate::lunar::to_lunar("2026-11-05".parse().unwrap()),
            index: 2,
            lines: vec![],
        };
        let mut member = MemberFacts::default();
        assert!(condition.matches(&order, &member), "never bought a cake");
        member.behaviour.insert(question, true);
        assert!(!condition.matches(&order, &member));
    }

    #[test]
    fn mistakes_are_named_by_path() {
        for (tree, path) in [
            (
                json!({"purchased": {"colour": "red"}}),
                "conditions.purchased.colour",
            ),
            (
                json!({"used_voucher": {"sku": "A"}}),
                "conditions.used_voucher.sku",
            ),
            (
                json!({"purchased": {"from": "yesterday"}}),
                "conditions.purchased.from",
            ),
            (
                json!({"purchased": {"from": "2026-02-01", "to": "2026-01-01"}}),
                "conditions.purchased.to",
            ),
            (
                json!({"all": [{"purchased": {"sku": 5}}]}),
                "conditions.all[0].purchased.sku",
            ),
        ] {
            let errors = parse_condition(&tree, "conditions").unwrap_err();
            assert!(
                errors.0.iter().any(|f| f.field == path),
                "{tree}: {errors:?}"
            );
        }
    }
}
