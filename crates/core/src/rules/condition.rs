//! The condition tree of a rule: parsing it (every mistake named by its path) and judging it
//! against an order and its member.

use jiff::civil::{Date, DateTime, Time};
use serde_json::Value;

use crate::birthday::Birthday;
use crate::error::Invalid;
use crate::lunar::LunarDate;

use super::behaviour::{self, Behaviour};

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Leaf(Leaf),
    /// What the member did before the order (see `behaviour`).
    Behaviour(Behaviour),
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
        e.push_bounded(
            path,
            "condition.too_deep",
            (0, MAX_DEPTH as i64),
            format!("conditions nest at most {MAX_DEPTH} levels deep"),
        );
        return None;
    }
    let Some(object) = value.as_object() else {
        e.push_coded(path, "condition.not_an_object", "must be an object: {\"all\": [...]}, {\"any\": [...]}, {\"not\": {...}} or {\"field\", \"op\", \"value\"}");
        return None;
    };
    let group = |key: &str, e: &mut Invalid| -> Option<Vec<Condition>> {
        let items = object.get(key)?;
        let Some(items) = items.as_array() else {
            e.push_coded(
                format!("{path}.{key}"),
                "condition.not_a_list",
                "must be a list of conditions",
            );
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
    if let Some(block) = behaviour::parse(object, path, e) {
        return block.map(Condition::Behaviour);
    }
    for key in object.keys() {
        if !matches!(key.as_str(), "field" | "op" | "value") {
            e.push_coded(
                format!("{path}.{key}"),
                "condition.unknown_key",
                "unknown key: use all, any, not, purchased, not_purchased, used_voucher or field/op/value",
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
        e.push_coded(
            format!("{path}.field"),
            "condition.unknown_field",
            format!("must be one of {}", known.join(", ")),
        );
        return None;
    };
    let op_name = object.get("op").and_then(Value::as_str);
    let Some(op) = op_name.and_then(|o| Op::ALL.iter().find(|(n, _)| *n == o).map(|(_, o)| *o))
    else {
        e.push_coded(
            format!("{path}.op"),
            "condition.bad_operator",
            "is missing or not an operator",
        );
        return None;
    };
    let kind = field.kind();
    if !op.allowed_for(kind) {
        e.push_coded(
            format!("{path}.op"),
            "condition.operator_mismatch",
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
                e.push_coded(
                    value_path,
                    "condition.takes_no_value",
                    "this operator takes no value",
                );
                return None;
            }
            Operand::None
        }
        Op::In | Op::NotIn => {
            let Some(items) = value.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
                e.push_coded(
                    value_path,
                    "condition.empty_list",
                    "must be a non-empty list",
                );
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
                e.push_coded(
                    value_path,
                    "condition.pair",
                    "must be a list of two values [from, to]",
                );
                return None;
            };
            let low = scalar(kind, low, &format!("{value_path}[0]"), e)?;
            let high = scalar(kind, high, &format!("{value_path}[1]"), e)?;
            // Month-days may wrap the year end (12-20 … 01-10); other ranges must be ordered.
            if low > high && kind != Kind::MonthDay && kind != Kind::Time {
                e.push_coded(
                    value_path,
                    "condition.range_order",
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
            .ok_or(("condition.not_a_number", "must be a whole number")),
        Kind::Text | Kind::Tags => value
            .as_str()
            .map(|s| Scalar::Text(s.trim().to_lowercase()))
            .ok_or(("condition.not_text", "must be text")),
        Kind::Time => value
            .as_str()
            .and_then(|s| s.parse::<Time>().ok())
            .map(|t| Scalar::Int(i64::from(t.hour()) * 60 + i64::from(t.minute())))
            .ok_or(("condition.time_format", "must be a time HH:MM")),
        Kind::Date => value
            .as_str()
            .and_then(|s| s.parse::<Date>().ok())
            .map(|d| Scalar::Int(day_number(d)))
            .ok_or(("condition.date_format", "must be a date YYYY-MM-DD")),
        Kind::MonthDay => value
            .as_str()
            .and_then(parse_month_day)
            .map(Scalar::Int)
            .ok_or(("condition.month_day_format", "must be a month-day MM-DD")),
        Kind::Birthday => Err(("condition.takes_no_value", "takes no value")),
    };
    match parsed {
        Ok(scalar) => Some(scalar),
        Err((code, message)) => {
            e.push_coded(path, code, message);
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
    /// The answers to the tree's behaviour questions ([`Condition::behaviours`]), looked up by
    /// the app for this member before this order; a question not answered counts as "did not".
    pub behaviour: std::collections::HashMap<Behaviour, bool>,
}

impl Condition {
    /// The distinct questions the tree's behaviour blocks ask, for the app to answer.
    pub fn behaviours(&self) -> Vec<Behaviour> {
        let mut out = Vec::new();
        self.collect_behaviours(&mut out);
        out
    }

    fn collect_behaviours(&self, out: &mut Vec<Behaviour>) {
        match self {
            Condition::All(items) | Condition::Any(items) => {
                items.iter().for_each(|c| c.collect_behaviours(out));
            }
            Condition::Not(inner) => inner.collect_behaviours(out),
            Condition::Leaf(_) => {}
            Condition::Behaviour(b) => {
                let question = b.question();
                if !out.contains(&question) {
                    out.push(question);
                }
            }
        }
    }

    fn has_line_leaf(&self) -> bool {
        match self {
            Condition::All(items) | Condition::Any(items) => {
                items.iter().any(Condition::has_line_leaf)
            }
            Condition::Not(inner) => inner.has_line_leaf(),
            Condition::Leaf(leaf) => leaf.field.is_line(),
            Condition::Behaviour(_) => false,
        }
    }

    fn eval(&self, order: &OrderFacts, member: &MemberFacts, line: Option<&LineFacts>) -> bool {
        match self {
            Condition::All(items) => items.iter().all(|c| c.eval(order, member, line)),
            Condition::Any(items) => items.iter().any(|c| c.eval(order, member, line)),
            Condition::Not(inner) => !inner.eval(order, member, line),
            Condition::Leaf(leaf) => leaf.eval(order, member, line),
            Condition::Behaviour(b) => b.holds(
                member
                    .behaviour
                    .get(&b.question())
                    .copied()
                    .unwrap_or(false),
            ),
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
