//! Customer segments (nhóm khách hàng): a condition tree over members' profile, membership and
//! behaviour, checked here and compiled by the store into one parameterised query.
//!
//! ```json
//! {"all": [
//!   {"field": "member.province", "op": "=", "value": "Hà Nội"},
//!   {"field": "member.tier", "op": "in", "value": ["Vàng", "Bạch Kim"]},
//!   {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "bánh"}},
//!   {"not_purchased": {"from": "2026-11-01"}},
//!   {"field": "member.birthday_month", "op": "=", "value": 12}
//! ]}
//! ```

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::error::Invalid;

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    All(Vec<Segment>),
    Any(Vec<Segment>),
    Not(Box<Segment>),
    Leaf(Leaf),
    /// Bought something (matching the block) in the period.
    Purchased(Purchase),
    /// Bought nothing matching the block in the period.
    NotPurchased(Purchase),
    /// Used a voucher in the period.
    UsedVoucher(Period),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Gender,
    Age,
    BirthdayMonth,
    Birthday,
    Province,
    District,
    Tags,
    Tier,
    Status,
    MemberSince,
    Points,
    LifetimeSpend,
    OrderCount,
    AvgOrderValue,
    LastOrderAt,
    Rfm,
}

const FIELDS: [(&str, Field); 17] = [
    ("member.name", Field::Name),
    ("member.gender", Field::Gender),
    ("member.age", Field::Age),
    ("member.birthday_month", Field::BirthdayMonth),
    ("member.birthday", Field::Birthday),
    ("member.province", Field::Province),
    ("member.district", Field::District),
    ("member.tags", Field::Tags),
    ("member.tier", Field::Tier),
    ("member.status", Field::Status),
    ("member.member_since", Field::MemberSince),
    ("member.points", Field::Points),
    ("member.lifetime_spend", Field::LifetimeSpend),
    ("member.order_count", Field::OrderCount),
    ("member.avg_order_value", Field::AvgOrderValue),
    ("member.last_order_at", Field::LastOrderAt),
    ("member.rfm", Field::Rfm),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    Between,
    Has,
    HasNot,
    Before,
    After,
    WithinDays,
    NotWithinDays,
}

const OPS: [(&str, Op); 16] = [
    ("=", Op::Eq),
    ("!=", Op::Ne),
    ("<", Op::Lt),
    ("<=", Op::Le),
    (">", Op::Gt),
    (">=", Op::Ge),
    ("in", Op::In),
    ("not_in", Op::NotIn),
    ("contains", Op::Contains),
    ("between", Op::Between),
    ("has", Op::Has),
    ("has_not", Op::HasNot),
    ("before", Op::Before),
    ("after", Op::After),
    ("within_days", Op::WithinDays),
    ("not_within_days", Op::NotWithinDays),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    MonthDay,
    Instant,
    Tags,
}

impl Field {
    fn kind(self) -> Kind {
        match self {
            Field::Name
            | Field::Gender
            | Field::Province
            | Field::District
            | Field::Tier
            | Field::Status
            | Field::Rfm => Kind::Text,
            Field::Age
            | Field::BirthdayMonth
            | Field::Points
            | Field::LifetimeSpend
            | Field::OrderCount
            | Field::AvgOrderValue => Kind::Number,
            Field::Birthday => Kind::MonthDay,
            Field::MemberSince | Field::LastOrderAt => Kind::Instant,
            Field::Tags => Kind::Tags,
        }
    }

    pub fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(n, _)| n)
    }
}

fn allowed(op: Op, kind: Kind, field: Field) -> bool {
    use Op::*;
    match kind {
        Kind::Text => {
            matches!(op, Eq | Ne | In | NotIn)
                || (op == Contains && matches!(field, Field::Name | Field::District))
        }
        Kind::Number => matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | NotIn | Between),
        Kind::MonthDay => op == Between,
        Kind::Instant => matches!(op, Before | After | Between | WithinDays | NotWithinDays),
        Kind::Tags => matches!(op, Has | HasNot),
    }
}

/// A checked operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Text(String),
    Number(i64),
    Texts(Vec<String>),
    Numbers(Vec<i64>),
    NumberRange(i64, i64),
    /// MM-DD as month × 100 + day; may wrap the year end.
    MonthDays(i64, i64),
    Instant(Timestamp),
    InstantRange(Timestamp, Timestamp),
    Days(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub field: Field,
    pub op: Op,
    pub value: Operand,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Period {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Purchase {
    pub period: Period,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub store: Option<String>,
    pub brand: Option<String>,
}

/// The most conditions (leaves and behaviour blocks) one tree may hold.
pub const MAX_CONDITIONS: usize = 100;
/// The most values one `in` / `not_in` list may hold, and all lists of a tree together: a
/// tree becomes one SQL statement, and its parameters must stay well within what SQLite binds.
pub const MAX_LIST_VALUES: usize = 1_000;
pub const MAX_TREE_VALUES: usize = 5_000;
/// `within_days` / `not_within_days` reach back at most a century.
pub const MAX_DAYS: i64 = 36_500;
/// Conditions nest at most this deep.
pub const MAX_DEPTH: usize = 8;
/// Ages are people's ages.
pub const MAX_AGE: i64 = 150;

/// Parses and checks a tree; dates without a time are local midnights in `zone`. Every mistake
/// names its path (`conditions.all[2].op`).
pub fn parse(value: &Value, path: &str, zone: &TimeZone) -> Result<Segment, Invalid> {
    let mut e = Invalid::default();
    let parsed = node(value, path, zone, &mut e, 0);
    if let Some(segment) = &parsed {
        let (conditions, values) = size(segment);
        if conditions > MAX_CONDITIONS {
            e.push_bounded(
                path,
                "segment.too_many_conditions",
                (0, MAX_CONDITIONS as i64),
                format!("at most {MAX_CONDITIONS} conditions, not {conditions}"),
            );
        }
        if values > MAX_TREE_VALUES {
            e.push_bounded(
                path,
                "segment.too_many_values",
                (0, MAX_TREE_VALUES as i64),
                format!("at most {MAX_TREE_VALUES} listed values in all, not {values}"),
            );
        }
    }
    match parsed {
        Some(segment) if e.is_empty() => Ok(segment),
        _ => Err(e),
    }
}

/// (conditions, listed values) of a tree.
fn size(segment: &Segment) -> (usize, usize) {
    match segment {
        Segment::All(items) | Segment::Any(items) => items
            .iter()
            .map(size)
            .fold((0, 0), |(c, v), (c2, v2)| (c + c2, v + v2)),
        Segment::Not(inner) => size(inner),
        Segment::Leaf(leaf) => match &leaf.value {
            Operand::Texts(list) => (1, list.len()),
            Operand::Numbers(list) => (1, list.len()),
            _ => (1, 1),
        },
        Segment::Purchased(_) | Segment::NotPurchased(_) | Segment::UsedVoucher(_) => (1, 4),
    }
}

fn node(
    value: &Value,
    path: &str,
    zone: &TimeZone,
    e: &mut Invalid,
    depth: usize,
) -> Option<Segment> {
    if depth > MAX_DEPTH {
        e.push_bounded(
            path,
            "segment.too_deep",
            (0, MAX_DEPTH as i64),
            format!("conditions nest at most {MAX_DEPTH} levels deep"),
        );
        return None;
    }
    let Some(object) = value.as_object() else {
        e.push_coded(path, "segment.not_an_object", "must be an object");
        return None;
    };
    if object.len() == 1 {
        let (key, inner) = object.iter().next()?;
        let inner_path = format!("{path}.{key}");
        match key.as_str() {
            "all" | "any" => {
                let Some(items) = inner.as_array() else {
                    e.push_coded(
                        inner_path,
                        "segment.not_a_list",
                        "must be a list of conditions",
                    );
                    return None;
                };
                let parsed: Vec<Segment> = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        node(item, &format!("{inner_path}[{i}]"), zone, e, depth + 1)
                    })
                    .collect();
                return Some(if key == "all" {
                    Segment::All(parsed)
                } else {
                    Segment::Any(parsed)
                });
            }
            "not" => {
                return node(inner, &inner_path, zone, e, depth + 1)
                    .map(|s| Segment::Not(Box::new(s)));
            }
            "purchased" => return purchase(inner, &inner_path, zone, e).map(Segment::Purchased),
            "not_purchased" => {
                return purchase(inner, &inner_path, zone, e).map(Segment::NotPurchased);
            }
            "used_voucher" => {
                return period(inner, &inner_path, zone, e, &[]).map(Segment::UsedVoucher);
            }
            _ => {}
        }
    }
    for key in object.keys() {
        if !matches!(key.as_str(), "field" | "op" | "value") {
            e.push_coded(format!("{path}.{key}"), "segment.unknown_key", "unknown key: use all, any, not, purchased, not_purchased, used_voucher or field/op/value");
            return None;
        }
    }
    leaf(object, path, zone, e).map(Segment::Leaf)
}

fn instant(value: &Value, zone: &TimeZone) -> Option<Timestamp> {
    let text = value.as_str()?;
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    text.parse::<Date>()
        .ok()?
        .to_zoned_datetime(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

fn period(
    value: &Value,
    path: &str,
    zone: &TimeZone,
    e: &mut Invalid,
    extra: &[&str],
) -> Option<Period> {
    let Some(object) = value.as_object() else {
        e.push_coded(
            path,
            "segment.period_shape",
            "must be an object with from and to",
        );
        return None;
    };
    for key in object.keys() {
        if !matches!(key.as_str(), "from" | "to") && !extra.contains(&key.as_str()) {
            e.push_coded(
                format!("{path}.{key}"),
                "segment.period_unknown_key",
                "unknown key",
            );
            return None;
        }
    }
    let mut read = |key: &str| match object.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(v) => match instant(v, zone) {
            Some(t) => Some(Some(t)),
            None => {
                e.push_coded(
                    format!("{path}.{key}"),
                    "segment.date_format",
                    "must be a date (YYYY-MM-DD) or an RFC 3339 time",
                );
                None
            }
        },
    };
    let (from, to) = (read("from")?, read("to")?);
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        e.push_coded(
            format!("{path}.to"),
            "range.to_before_from",
            "must be after from",
        );
        return None;
    }
    Some(Period { from, to })
}

fn purchase(value: &Value, path: &str, zone: &TimeZone, e: &mut Invalid) -> Option<Purchase> {
    let period = period(value, path, zone, e, &["sku", "category", "store", "brand"])?;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    Some(Purchase {
        period,
        sku: text("sku"),
        category: text("category"),
        store: text("store"),
        brand: text("brand"),
    })
}

fn leaf(
    object: &serde_json::Map<String, Value>,
    path: &str,
    zone: &TimeZone,
    e: &mut Invalid,
) -> Option<Leaf> {
    let name = object.get("field").and_then(Value::as_str).unwrap_or("");
    let Some(field) = FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f) else {
        e.push_coded(
            format!("{path}.field"),
            "segment.unknown_field",
            format!("must be one of {}", FIELDS.map(|(n, _)| n).join(", ")),
        );
        return None;
    };
    let op_name = object.get("op").and_then(Value::as_str).unwrap_or("");
    let Some(op) = OPS.iter().find(|(n, _)| *n == op_name).map(|(_, o)| *o) else {
        e.push_coded(
            format!("{path}.op"),
            "segment.bad_operator",
            "is missing or not an operator",
        );
        return None;
    };
    let kind = field.kind();
    if !allowed(op, kind, field) {
        e.push_coded(
            format!("{path}.op"),
            "segment.operator_mismatch",
            format!("{op_name} does not apply to {name}"),
        );
        return None;
    }
    let vpath = format!("{path}.value");
    let value = object.get("value").unwrap_or(&Value::Null);
    let bad = |e: &mut Invalid, code: &'static str, msg: &str| {
        e.push_coded(vpath.clone(), code, msg.to_string());
        None
    };
    let text = |v: &Value| {
        v.as_str()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let operand = match (kind, op) {
        (Kind::Text, Op::In | Op::NotIn) | (Kind::Number, Op::In | Op::NotIn)
            if value.as_array().is_none_or(|a| a.is_empty()) =>
        {
            return bad(e, "segment.empty_list", "must be a non-empty list");
        }
        (Kind::Text, Op::In | Op::NotIn) | (Kind::Number, Op::In | Op::NotIn)
            if value.as_array().is_some_and(|a| a.len() > MAX_LIST_VALUES) =>
        {
            let message = format!("must list at most {MAX_LIST_VALUES} values");
            e.push_bounded(
                vpath,
                "segment.list_too_long",
                (1, MAX_LIST_VALUES as i64),
                message,
            );
            return None;
        }
        (Kind::Text, Op::In | Op::NotIn) => match value
            .as_array()?
            .iter()
            .map(text)
            .collect::<Option<Vec<_>>>()
        {
            Some(list) => Operand::Texts(list),
            None => return bad(e, "segment.not_text_list", "must be a list of text"),
        },
        (Kind::Text, _) => match text(value) {
            Some(t) => Operand::Text(t),
            None => return bad(e, "segment.not_text", "must be text"),
        },
        (Kind::Tags, _) => match text(value) {
            Some(t) => Operand::Text(t),
            None => return bad(e, "segment.not_a_tag", "must be a tag"),
        },
        (Kind::Number, Op::In | Op::NotIn) => match value
            .as_array()?
            .iter()
            .map(Value::as_i64)
            .collect::<Option<Vec<_>>>()
        {
            Some(list) => Operand::Numbers(list),
            None => {
                return bad(
                    e,
                    "segment.not_number_list",
                    "must be a list of whole numbers",
                );
            }
        },
        (Kind::Number, Op::Between) => match value
            .as_array()
            .map(|a| a.iter().map(Value::as_i64).collect::<Vec<_>>())
            .as_deref()
        {
            Some([Some(low), Some(high)]) if low <= high => Operand::NumberRange(*low, *high),
            _ => {
                return bad(
                    e,
                    "segment.number_range",
                    "must be [low, high], low not above high",
                );
            }
        },
        (Kind::Number, _) => match value.as_i64() {
            Some(n) => Operand::Number(n),
            None => return bad(e, "segment.not_a_number", "must be a whole number"),
        },
        (Kind::MonthDay, _) => {
            let md = |v: &Value| {
                let (m, d) = v.as_str()?.split_once('-')?;
                let (m, d): (i64, i64) = (m.parse().ok()?, d.parse().ok()?);
                ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some(m * 100 + d)
            };
            match value.as_array().map(Vec::as_slice) {
                Some([a, b]) => match (md(a), md(b)) {
                    (Some(a), Some(b)) => Operand::MonthDays(a, b),
                    _ => {
                        return bad(
                            e,
                            "segment.month_days",
                            "must be two MM-DD dates, e.g. [\"12-20\", \"01-10\"]",
                        );
                    }
                },
                _ => {
                    return bad(
                        e,
                        "segment.month_days",
                        "must be two MM-DD dates, e.g. [\"12-20\", \"01-10\"]",
                    );
                }
            }
        }
        (Kind::Instant, Op::WithinDays | Op::NotWithinDays) => match value.as_i64() {
            Some(n) if (0..=MAX_DAYS).contains(&n) => Operand::Days(n),
            _ => {
                let message = format!("must be a number of days from 0 to {MAX_DAYS}");
                e.push_bounded(vpath, "segment.days", (0, MAX_DAYS), message);
                return None;
            }
        },
        (Kind::Instant, Op::Between) => match value.as_array().map(Vec::as_slice) {
            Some([a, b]) => match (instant(a, zone), instant(b, zone)) {
                (Some(a), Some(b)) if a < b => Operand::InstantRange(a, b),
                _ => {
                    return bad(
                        e,
                        "segment.instant_range",
                        "must be [from, to], dates or RFC 3339 times, from before to",
                    );
                }
            },
            _ => return bad(e, "segment.instant_range", "must be [from, to]"),
        },
        (Kind::Instant, _) => match instant(value, zone) {
            Some(t) => Operand::Instant(t),
            None => {
                return bad(
                    e,
                    "segment.date_format",
                    "must be a date (YYYY-MM-DD) or an RFC 3339 time",
                );
            }
        },
    };
    let numbers = match &operand {
        Operand::Number(n) => vec![*n],
        Operand::Numbers(list) => list.clone(),
        Operand::NumberRange(low, high) => vec![*low, *high],
        _ => vec![],
    };
    if field == Field::Age && numbers.iter().any(|n| !(0..=MAX_AGE).contains(n)) {
        let message = format!("an age is from 0 to {MAX_AGE}");
        e.push_bounded(vpath, "out_of_range", (0, MAX_AGE), message);
        return None;
    }
    Some(Leaf {
        field,
        op,
        value: operand,
    })
}

/// A birthday on `today` minus `years` years, as a sortable `YYYY-MM-DD` text: a member born
/// on or before it is at least `years` old.
pub fn born_by(today: Date, years: i64) -> String {
    let year = i64::from(today.year()) - years;
    // 29 February in a non-leap year becomes 28 February.
    let day = if today.month() == 2 && today.day() == 29 && Date::new(year as i16, 2, 29).is_err() {
        28
    } else {
        today.day()
    };
    format!("{year:04}-{:02}-{day:02}", today.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn zone() -> TimeZone {
        TimeZone::get("Asia/Ho_Chi_Minh").unwrap()
    }

    #[test]
    fn the_marketers_question_is_one_tree() {
        let tree = json!({"all": [
            {"field": "member.province", "op": "=", "value": "Hà Nội"},
            {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "bánh"}},
            {"not_purchased": {"from": "2026-11-01"}},
            {"field": "member.tier", "op": "in", "value": ["Vàng", "Bạch Kim"]},
            {"field": "member.birthday_month", "op": "=", "value": 12}
        ]});
        let segment = parse(&tree, "conditions", &zone()).unwrap();
        let Segment::All(items) = segment else {
            panic!()
        };
        assert_eq!(items.len(), 5);
        let Segment::Purchased(p) = &items[1] else {
            panic!()
        };
        assert_eq!(
            p.period.from,
            Some("2026-09-30T17:00:00Z".parse().unwrap()),
            "local midnight in Hà Nội"
        );
        assert_eq!(p.category.as_deref(), Some("bánh"));
    }

    #[test]
    fn oversized_and_out_of_range_trees_are_refused_by_path() {
        let many: Vec<i64> = (0..40_000).collect();
        let cases = [
            (
                json!({"field": "member.order_count", "op": "in", "value": many}),
                "conditions.value",
            ),
            (
                json!({"field": "member.last_order_at", "op": "within_days", "value": 1_000_000_000_000_000i64}),
                "conditions.value",
            ),
            (
                json!({"field": "member.age", "op": ">=", "value": i64::MAX}),
                "conditions.value",
            ),
            (
                json!({"field": "member.age", "op": "between", "value": [-5, 20]}),
                "conditions.value",
            ),
            (
                json!({"any": (0..101).map(|n| json!({"field": "member.order_count", "op": "=", "value": n})).collect::<Vec<_>>()}),
                "conditions",
            ),
            (
                json!({"any": (0..6).map(|_| json!({"field": "member.order_count", "op": "in", "value": (0..1000).collect::<Vec<_>>()})).collect::<Vec<_>>()}),
                "conditions",
            ),
        ];
        for (tree, field) in cases {
            let refused = parse(&tree, "conditions", &zone()).unwrap_err();
            assert_eq!(refused.0[0].field, field, "{refused}");
        }
        let fine = json!({"all": [{"field": "member.age", "op": "between", "value": [18, 150]},
            {"field": "member.last_order_at", "op": "not_within_days", "value": 36_500}]});
        assert!(parse(&fine, "conditions", &zone()).is_ok());
    }

    #[test]
    fn mistakes_name_their_path() {
        let tree = json!({"all": [
            {"field": "member.age", "op": ">=", "value": 18},
            {"field": "member.age", "op": "has", "value": 1},
            {"field": "member.shoe_size", "op": "=", "value": 42},
            {"field": "member.birthday", "op": "between", "value": ["12-20"]},
            {"purchased": {"from": "yesterday"}},
            {"field": "member.tags", "op": "has"}
        ]});
        let fields: Vec<String> = parse(&tree, "conditions", &zone())
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "conditions.all[1].op",
                "conditions.all[2].field",
                "conditions.all[3].value",
                "conditions.all[4].purchased.from",
                "conditions.all[5].value"
            ]
        );
    }

    #[test]
    fn ages_turn_on_the_birthday() {
        assert_eq!(born_by(jiff::civil::date(2026, 11, 25), 30), "1996-11-25");
        assert_eq!(born_by(jiff::civil::date(2028, 2, 29), 1), "2027-02-28");
    }
}
