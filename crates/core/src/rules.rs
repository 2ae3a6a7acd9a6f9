//! Bonus earning rules: a condition tree over the order and the member, an effect, and caps.
//!
//! ```json
//! {"all": [{"field": "member.birthday", "op": "is_today"},
//!          {"field": "order.total", "op": ">=", "value": 100000}]}
//! ```
//! Trees nest with `all`, `any` and `not`. A leaf on `line.*` holds when *some* line of the order
//! satisfies it; for a `points_per_item` effect, the lines counted are those for which the whole
//! tree holds with that line in place.

use jiff::civil::{Date, DateTime, Time};
use serde_json::Value;

use crate::birthday::Birthday;
use crate::error::Invalid;
use crate::lunar::LunarDate;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Leaf(Leaf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub field: Field,
    pub op: Op,
    pub value: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    OrderTotal,
    OrderChannel,
    OrderStore,
    OrderBrand,
    OrderWeekday,
    OrderLocalTime,
    OrderDate,
    OrderLunarDate,
    OrderIndex,
    LineSku,
    LineCategory,
    MemberTier,
    MemberTags,
    MemberBirthday,
}

/// What kind of value a field holds, which decides the operators and operand types it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Time,
    Date,
    MonthDay,
    Tags,
    Birthday,
}

impl Field {
    pub const ALL: [(&'static str, Field); 14] = [
        ("order.total", Field::OrderTotal),
        ("order.channel", Field::OrderChannel),
        ("order.store", Field::OrderStore),
        ("order.brand", Field::OrderBrand),
        ("order.weekday", Field::OrderWeekday),
        ("order.local_time", Field::OrderLocalTime),
        ("order.date", Field::OrderDate),
        ("order.lunar_date", Field::OrderLunarDate),
        ("order.index", Field::OrderIndex),
        ("line.sku", Field::LineSku),
        ("line.category", Field::LineCategory),
        ("member.tier", Field::MemberTier),
        ("member.tags", Field::MemberTags),
        ("member.birthday", Field::MemberBirthday),
    ];

    fn kind(self) -> Kind {
        match self {
            Field::OrderTotal | Field::OrderWeekday | Field::OrderIndex => Kind::Int,
            Field::OrderChannel
            | Field::OrderStore
            | Field::OrderBrand
            | Field::LineSku
            | Field::LineCategory
            | Field::MemberTier => Kind::Text,
            Field::OrderLocalTime => Kind::Time,
            Field::OrderDate => Kind::Date,
            Field::OrderLunarDate => Kind::MonthDay,
            Field::MemberTags => Kind::Tags,
            Field::MemberBirthday => Kind::Birthday,
        }
    }

    fn is_line(self) -> bool {
        matches!(self, Field::LineSku | Field::LineCategory)
    }
}

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
    IsToday,
    InWeek,
    InMonth,
}

impl Op {
    const ALL: [(&'static str, Op); 13] = [
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
        ("is_today", Op::IsToday),
        ("in_week", Op::InWeek),
        ("in_month", Op::InMonth),
    ];

    fn allowed_for(self, kind: Kind) -> bool {
        use Op::*;
        match kind {
            Kind::Int | Kind::Time | Kind::Date | Kind::MonthDay => {
                matches!(self, Eq | Ne | Lt | Le | Gt | Ge | In | NotIn | Between)
            }
            Kind::Text => matches!(self, Eq | Ne | In | NotIn | Contains),
            Kind::Tags => matches!(self, Contains | In | NotIn),
            Kind::Birthday => matches!(self, IsToday | InWeek | InMonth),
        }
    }
}

/// A parsed operand: one value, a list (for `in`/`not_in`), a pair (for `between`) or none.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    None,
    One(Scalar),
    List(Vec<Scalar>),
    Range(Scalar, Scalar),
}

/// Values are compared as integers (money, counts, minutes of the day, days, month×100+day)
/// or as case-insensitive text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scalar {
    Int(i64),
    Text(String),
}

/// Parses and checks a condition tree, naming the path of every mistake
/// (`conditions.all[2].op`).
pub fn parse_condition(value: &Value, path: &str) -> Result<Condition, Invalid> {
    let mut errors = Invalid::default();
    let parsed = parse_node(value, path, &mut errors, 0);
    match parsed {
        Some(condition) if errors.is_empty() => Ok(condition),
        _ => Err(errors),
    }
}

const MAX_DEPTH: usize = 8;

fn parse_node(value: &Value, path: &str, e: &mut Invalid, depth: usize) -> Option<Condition> {
    if depth > MAX_DEPTH {
        e.push(
            path,
            format!("conditions nest at most {MAX_DEPTH} levels deep"),
        );
        return None;
    }
    let Some(object) = value.as_object() else {
        e.push(path, "must be an object: {\"all\": [...]}, {\"any\": [...]}, {\"not\": {...}} or {\"field\", \"op\", \"value\"}");
        return None;
    };
    let group = |key: &str, e: &mut Invalid| -> Option<Vec<Condition>> {
        let items = object.get(key)?;
        let Some(items) = items.as_array() else {
            e.push(format!("{path}.{key}"), "must be a list of conditions");
            return Some(Vec::new());
        };
        let parsed: Vec<Option<Condition>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_node(item, &format!("{path}.{key}[{i}]"), e, depth + 1))
            .collect();
        Some(parsed.into_iter().flatten().collect())
    };
    if object.len() == 1 {
        if let Some(items) = group("all", e) {
            return Some(Condition::All(items));
        }
        if let Some(items) = group("any", e) {
            return Some(Condition::Any(items));
        }
        if let Some(inner) = object.get("not") {
            return parse_node(inner, &format!("{path}.not"), e, depth + 1)
                .map(|c| Condition::Not(Box::new(c)));
        }
    }
    for key in object.keys() {
        if !matches!(key.as_str(), "field" | "op" | "value") {
            e.push(
                format!("{path}.{key}"),
                "unknown key: use all, any, not, or field/op/value",
            );
            return None;
        }
    }
    parse_leaf(object, path, e).map(Condition::Leaf)
}

fn parse_leaf(
    object: &serde_json::Map<String, Value>,
    path: &str,
    e: &mut Invalid,
) -> Option<Leaf> {
    let field_name = object.get("field").and_then(Value::as_str);
    let Some(field) =
        field_name.and_then(|f| Field::ALL.iter().find(|(n, _)| *n == f).map(|(_, f)| *f))
    else {
        let known: Vec<&str> = Field::ALL.iter().map(|(n, _)| *n).collect();
        e.push(
            format!("{path}.field"),
            format!("must be one of {}", known.join(", ")),
        );
        return None;
    };
    let op_name = object.get("op").and_then(Value::as_str);
    let Some(op) = op_name.and_then(|o| Op::ALL.iter().find(|(n, _)| *n == o).map(|(_, o)| *o))
    else {
        e.push(format!("{path}.op"), "is missing or not an operator");
        return None;
    };
    let kind = field.kind();
    if !op.allowed_for(kind) {
        e.push(
            format!("{path}.op"),
            format!(
                "{} does not apply to {}",
                op_name.unwrap_or(""),
                field_name.unwrap_or("")
            ),
        );
        return None;
    }
    let value_path = format!("{path}.value");
    let value = object.get("value");
    let operand = match op {
        Op::IsToday | Op::InWeek | Op::InMonth => {
            if value.is_some_and(|v| !v.is_null()) {
                e.push(value_path, "this operator takes no value");
                return None;
            }
            Operand::None
        }
        Op::In | Op::NotIn => {
            let Some(items) = value.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
                e.push(value_path, "must be a non-empty list");
                return None;
            };
            let mut list = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                list.push(scalar(kind, item, &format!("{value_path}[{i}]"), e)?);
            }
            Operand::List(list)
        }
        Op::Between => {
            let Some([low, high]) = value.and_then(Value::as_array).map(Vec::as_slice) else {
                e.push(value_path, "must be a list of two values [from, to]");
                return None;
            };
            let low = scalar(kind, low, &format!("{value_path}[0]"), e)?;
            let high = scalar(kind, high, &format!("{value_path}[1]"), e)?;
            // Month-days may wrap the year end (12-20 … 01-10); other ranges must be ordered.
            if low > high && kind != Kind::MonthDay && kind != Kind::Time {
                e.push(
                    value_path,
                    "the first value must not be greater than the second",
                );
                return None;
            }
            Operand::Range(low, high)
        }
        _ => {
            let Some(value) = value else {
                e.required(value_path);
                return None;
            };
            let one = if kind == Kind::Tags {
                scalar(Kind::Text, value, &value_path, e)?
            } else {
                scalar(kind, value, &value_path, e)?
            };
            Operand::One(one)
        }
    };
    Some(Leaf {
        field,
        op,
        value: operand,
    })
}

fn scalar(kind: Kind, value: &Value, path: &str, e: &mut Invalid) -> Option<Scalar> {
    let parsed = match kind {
        Kind::Int => value
            .as_i64()
            .map(Scalar::Int)
            .ok_or("must be a whole number"),
        Kind::Text | Kind::Tags => value
            .as_str()
            .map(|s| Scalar::Text(s.trim().to_lowercase()))
            .ok_or("must be text"),
        Kind::Time => value
            .as_str()
            .and_then(|s| s.parse::<Time>().ok())
            .map(|t| Scalar::Int(i64::from(t.hour()) * 60 + i64::from(t.minute())))
            .ok_or("must be a time HH:MM"),
        Kind::Date => value
            .as_str()
            .and_then(|s| s.parse::<Date>().ok())
            .map(|d| Scalar::Int(day_number(d)))
            .ok_or("must be a date YYYY-MM-DD"),
        Kind::MonthDay => value
            .as_str()
            .and_then(parse_month_day)
            .map(Scalar::Int)
            .ok_or("must be a month-day MM-DD"),
        Kind::Birthday => Err("takes no value"),
    };
    match parsed {
        Ok(scalar) => Some(scalar),
        Err(message) => {
            e.push(path, message);
            None
        }
    }
}

fn parse_month_day(s: &str) -> Option<i64> {
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (i64, i64) = (m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=30).contains(&d)).then_some(m * 100 + d)
}

fn day_number(d: Date) -> i64 {
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}

/// What a rule can see of an order, with times already in the tenant's zone.
#[derive(Debug, Clone)]
pub struct OrderFacts {
    pub total: i64,
    pub channel: Option<String>,
    pub store: Option<String>,
    pub brand: Option<String>,
    pub local: DateTime,
    pub lunar: LunarDate,
    /// 1 for the member's first paid order.
    pub index: i64,
    pub lines: Vec<LineFacts>,
}

#[derive(Debug, Clone)]
pub struct LineFacts {
    pub sku: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
}

#[derive(Debug, Clone, Default)]
pub struct MemberFacts {
    /// Tier name (and id), lower-cased by the evaluator.
    pub tier: Option<String>,
    pub tier_id: Option<String>,
    pub tags: Vec<String>,
    pub birthday: Option<Birthday>,
}

impl Condition {
    fn has_line_leaf(&self) -> bool {
        match self {
            Condition::All(items) | Condition::Any(items) => {
                items.iter().any(Condition::has_line_leaf)
            }
            Condition::Not(inner) => inner.has_line_leaf(),
            Condition::Leaf(leaf) => leaf.field.is_line(),
        }
    }

    fn eval(&self, order: &OrderFacts, member: &MemberFacts, line: Option<&LineFacts>) -> bool {
        match self {
            Condition::All(items) => items.iter().all(|c| c.eval(order, member, line)),
            Condition::Any(items) => items.iter().any(|c| c.eval(order, member, line)),
            Condition::Not(inner) => !inner.eval(order, member, line),
            Condition::Leaf(leaf) => leaf.eval(order, member, line),
        }
    }

    /// Whether the order satisfies the tree (with some line, if the tree speaks of lines).
    pub fn matches(&self, order: &OrderFacts, member: &MemberFacts) -> bool {
        if self.has_line_leaf() {
            order
                .lines
                .iter()
                .any(|line| self.eval(order, member, Some(line)))
        } else {
            self.eval(order, member, None)
        }
    }

    /// Quantity of the lines for which the tree holds: what `points_per_item` multiplies.
    pub fn matching_quantity(&self, order: &OrderFacts, member: &MemberFacts) -> i64 {
        order
            .lines
            .iter()
            .filter(|line| self.eval(order, member, Some(line)))
            .map(|line| line.quantity)
            .fold(0, i64::saturating_add)
    }
}

fn text(s: &Option<String>) -> Option<Scalar> {
    s.as_ref().map(|s| Scalar::Text(s.trim().to_lowercase()))
}

impl Leaf {
    fn eval(&self, order: &OrderFacts, member: &MemberFacts, line: Option<&LineFacts>) -> bool {
        let date = order.local.date();
        let subject: Option<Scalar> = match self.field {
            Field::OrderTotal => Some(Scalar::Int(order.total)),
            Field::OrderChannel => text(&order.channel),
            Field::OrderStore => text(&order.store),
            Field::OrderBrand => text(&order.brand),
            Field::OrderWeekday => Some(Scalar::Int(i64::from(
                date.weekday().to_monday_one_offset(),
            ))),
            Field::OrderLocalTime => Some(Scalar::Int(
                i64::from(order.local.hour()) * 60 + i64::from(order.local.minute()),
            )),
            Field::OrderDate => Some(Scalar::Int(day_number(date))),
            Field::OrderLunarDate => {
                // A leap month has no date of its own in rules: "15/8" means the regular month.
                (!order.lunar.leap).then(|| {
                    Scalar::Int(i64::from(order.lunar.month) * 100 + i64::from(order.lunar.day))
                })
            }
            Field::OrderIndex => Some(Scalar::Int(order.index)),
            Field::LineSku => line.and_then(|l| text(&l.sku)),
            Field::LineCategory => line.and_then(|l| text(&l.category)),
            Field::MemberTier => {
                // A tier is named by name or by id.
                let names = [text(&member.tier), text(&member.tier_id)];
                return names.iter().flatten().any(|name| self.compare(name))
                    || (names.iter().all(Option::is_none)
                        && matches!(self.op, Op::Ne | Op::NotIn));
            }
            Field::MemberTags => {
                let tags: Vec<Scalar> = member
                    .tags
                    .iter()
                    .map(|t| Scalar::Text(t.trim().to_lowercase()))
                    .collect();
                return match (&self.op, &self.value) {
                    (Op::Contains, Operand::One(tag)) => tags.contains(tag),
                    (Op::In, Operand::List(list)) => list.iter().any(|t| tags.contains(t)),
                    (Op::NotIn, Operand::List(list)) => !list.iter().any(|t| tags.contains(t)),
                    _ => false,
                };
            }
            Field::MemberBirthday => {
                return member
                    .birthday
                    .is_some_and(|b| birthday_matches(self.op, b, date));
            }
        };
        match subject {
            Some(subject) => self.compare(&subject),
            // An absent value (no channel given, no line) satisfies only the negative operators.
            None => matches!(self.op, Op::Ne | Op::NotIn),
        }
    }

    fn compare(&self, subject: &Scalar) -> bool {
        match (&self.op, &self.value) {
            (Op::Eq, Operand::One(v)) => subject == v,
            (Op::Ne, Operand::One(v)) => subject != v,
            (Op::Lt, Operand::One(v)) => subject < v,
            (Op::Le, Operand::One(v)) => subject <= v,
            (Op::Gt, Operand::One(v)) => subject > v,
            (Op::Ge, Operand::One(v)) => subject >= v,
            (Op::In, Operand::List(list)) => list.contains(subject),
            (Op::NotIn, Operand::List(list)) => !list.contains(subject),
            (Op::Contains, Operand::One(Scalar::Text(needle))) => {
                matches!(subject, Scalar::Text(hay) if hay.contains(needle.as_str()))
            }
            (Op::Between, Operand::Range(low, high)) if low <= high => {
                subject >= low && subject <= high
            }
            // A wrapping range (12-20 … 01-10, 22:00 … 02:00).
            (Op::Between, Operand::Range(low, high)) => subject >= low || subject <= high,
            _ => false,
        }
    }
}

/// The birthday's day in `year`: 29 February is celebrated on 28 February in other years.
fn birthday_in(b: Birthday, year: i16) -> Option<Date> {
    Date::new(year, b.month, b.day)
        .ok()
        .or_else(|| Date::new(year, b.month, b.day - 1).ok())
}

fn birthday_matches(op: Op, b: Birthday, today: Date) -> bool {
    match op {
        Op::IsToday => birthday_in(b, today.year()) == Some(today),
        Op::InMonth => b.month == today.month(),
        // The Monday-to-Sunday week of the order, which may span two years.
        Op::InWeek => {
            let offset = i64::from(today.weekday().to_monday_zero_offset());
            let Ok(monday) = today.checked_sub(jiff::Span::new().days(offset)) else {
                return false;
            };
            (0..7)
                .filter_map(|i| monday.checked_add(jiff::Span::new().days(i)).ok())
                .any(|day| birthday_in(b, day.year()) == Some(day))
        }
        _ => false,
    }
}

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

/// Parses `{"multiplier": 2}`, `{"bonus_points": 50}` or `{"points_per_item": 5}`.
pub fn parse_effect(value: &Value, path: &str) -> Result<Effect, Invalid> {
    let object = value.as_object().filter(|o| o.len() == 1);
    let Some((key, amount)) = object.and_then(|o| o.iter().next()) else {
        return Err(Invalid::one(
            path,
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
                        "must be a number above 1 and at most 100, with up to 3 decimals",
                    )
                })?;
            Ok(Effect::Multiplier { per_mille })
        }
        "bonus_points" | "points_per_item" => {
            let n = amount
                .as_i64()
                .filter(|n| (1..=1_000_000_000).contains(n))
                .ok_or_else(|| Invalid::one(&field, "must be a whole number of points above 0"))?;
            Ok(if key == "bonus_points" {
                Effect::BonusPoints(n)
            } else {
                Effect::PointsPerItem(n)
            })
        }
        _ => Err(Invalid::one(
            field,
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

#[cfg(test)]
mod tests {
    use super::*;
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
                    e.push(field, "must be an RFC 3339 time");
                    None
                }
            })
    };
    let starts_at = instant("starts_at", starts_at);
    let ends_at = instant("ends_at", ends_at);
    if let (Some(s), Some(end)) = (starts_at, ends_at)
        && s >= end
    {
        e.push("ends_at", "must be after starts_at");
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
