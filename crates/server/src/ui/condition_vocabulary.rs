//! What the visual condition builder (`static/app.js`) may offer: the fields of a grammar with
//! their value types and operators, the behaviour blocks, and every word in the page's
//! language. Bonus rules speak of the order and the member; segments and automation conditions
//! of the member alone. The operators listed per field are those `core::rules` and
//! `core::segment` accept, so the builder cannot write a tree the server refuses for its shape.
//!
//! The page embeds the vocabulary as `<script type="application/json">` (data, which the CSP
//! allows); the JSON view stays beside it as the advanced option and works without script.

use loyalty_app::App;
use loyalty_core::records::Page;
use serde_json::{Value, json};

use super::UiError;
use super::i18n::{Lang, text};
use super::session::Staff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    /// A bonus rule: the order, its lines, the member, and what they did before.
    Rule,
    /// A segment, a campaign audience or an automation's condition: the member.
    Segment,
}

const NUMBER_OPS: &[&str] = &[">=", ">", "<=", "<", "=", "!=", "between", "in", "not_in"];
const CHOICE_OPS: &[&str] = &["=", "!=", "in", "not_in"];
const INSTANT_OPS: &[&str] = &[
    "within_days",
    "not_within_days",
    "before",
    "after",
    "between",
];
const NO_VALUE_OPS: &[&str] = &["is_today", "in_week", "in_month"];
const ALL_OPS: &[&str] = &[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not_in",
    "contains",
    "between",
    "has",
    "has_not",
    "before",
    "after",
    "within_days",
    "not_within_days",
    "is_today",
    "in_week",
    "in_month",
];
const PURCHASE_KEYS: &[&str] = &["from", "to", "sku", "category", "store", "brand"];

/// The vocabulary as JSON text, safe to place inside a `<script>` element.
pub async fn vocabulary(app: &App, staff: &Staff, grammar: Grammar) -> Result<String, UiError> {
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let fail = |e| UiError::App(lang, e);
    let all = Page {
        after: None,
        limit: 500,
    };
    let tiers: Vec<Value> = app
        .tiers(ctx)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|t| json!({"value": t.name, "label": t.name}))
        .collect();
    let stores: Vec<Value> = app
        .stores(ctx, all.clone())
        .await
        .map_err(fail)?
        .items
        .into_iter()
        .map(|s| json!({"value": s.code, "label": format!("{} · {}", s.code, s.name)}))
        .collect();
    let brands: Vec<Value> = app
        .brands(ctx, all)
        .await
        .map_err(fail)?
        .items
        .into_iter()
        .map(|b| json!({"value": b.code, "label": format!("{} · {}", b.code, b.name)}))
        .collect();
    let lists = Lists {
        tiers,
        stores,
        brands,
    };
    let fields = match grammar {
        Grammar::Rule => rule_fields(lang, &lists),
        Grammar::Segment => segment_fields(lang, &lists),
    };
    let ops: serde_json::Map<String, Value> = ALL_OPS
        .iter()
        .map(|op| (op.to_string(), json!(text(lang, op_key(op)))))
        .collect();
    let blocks = json!([
        {"value": "purchased", "label": text(lang, "cond.purchased"), "keys": PURCHASE_KEYS},
        {"value": "not_purchased", "label": text(lang, "cond.not_purchased"), "keys": PURCHASE_KEYS},
        {"value": "used_voucher", "label": text(lang, "cond.used_voucher"), "keys": ["from", "to"]},
    ]);
    let block_keys: serde_json::Map<String, Value> = PURCHASE_KEYS
        .iter()
        .map(|k| (k.to_string(), json!(text(lang, &format!("cond.key_{k}")))))
        .collect();
    let words: serde_json::Map<String, Value> = [
        "all",
        "any",
        "not",
        "add_condition",
        "add_group",
        "add_block",
        "remove",
        "field",
        "op",
        "value",
        "and",
        "json_only",
        "list_hint",
        "block",
    ]
    .iter()
    .map(|w| (w.to_string(), json!(text(lang, &format!("cond.{w}")))))
    .collect();
    let vocabulary = json!({
        "fields": fields,
        "ops": ops,
        "no_value_ops": NO_VALUE_OPS,
        "blocks": blocks,
        "block_keys": block_keys,
        "words": words,
    });
    // `<` escaped: a name holding `</script>` or `<!--` must not end or confuse the element.
    Ok(vocabulary.to_string().replace('<', "\\u003c"))
}

struct Lists {
    tiers: Vec<Value>,
    stores: Vec<Value>,
    brands: Vec<Value>,
}

fn field(lang: Lang, name: &str, kind: &str, ops: &[&str]) -> Value {
    json!({"value": name, "label": text(lang, &format!("cond.{name}")), "type": kind, "ops": ops})
}

fn choice(lang: Lang, name: &str, ops: &[&str], choices: Vec<Value>) -> Value {
    let mut f = field(lang, name, "choice", ops);
    f["choices"] = Value::Array(choices);
    f
}

fn numbered(lang: Lang, prefix: &str, range: std::ops::RangeInclusive<i64>) -> Vec<Value> {
    range
        .map(|n| json!({"value": n, "label": text(lang, &format!("{prefix}{n}"))}))
        .collect()
}

fn named(lang: Lang, prefix: &str, values: &[&str]) -> Vec<Value> {
    values
        .iter()
        .map(|v| json!({"value": v, "label": text(lang, &format!("{prefix}{v}"))}))
        .collect()
}

fn rule_fields(lang: Lang, lists: &Lists) -> Vec<Value> {
    let ordered = &["=", "!=", "<", "<=", ">", ">=", "between", "in", "not_in"];
    vec![
        field(lang, "order.total", "number", NUMBER_OPS),
        choice(
            lang,
            "order.channel",
            CHOICE_OPS,
            named(lang, "cond.channel_", &["pos", "web", "app"]),
        ),
        choice(lang, "order.store", CHOICE_OPS, lists.stores.clone()),
        choice(lang, "order.brand", CHOICE_OPS, lists.brands.clone()),
        choice(
            lang,
            "order.weekday",
            CHOICE_OPS,
            numbered(lang, "cond.weekday_", 1..=7),
        ),
        field(lang, "order.local_time", "time", ordered),
        field(lang, "order.date", "date", ordered),
        field(lang, "order.lunar_date", "month_day", ordered),
        field(lang, "order.index", "number", NUMBER_OPS),
        field(
            lang,
            "line.sku",
            "text",
            &["=", "!=", "in", "not_in", "contains"],
        ),
        field(
            lang,
            "line.category",
            "text",
            &["=", "!=", "in", "not_in", "contains"],
        ),
        choice(lang, "member.tier", CHOICE_OPS, lists.tiers.clone()),
        field(lang, "member.tags", "text", &["contains", "in", "not_in"]),
        field(lang, "member.birthday", "text", NO_VALUE_OPS),
    ]
}

fn segment_fields(lang: Lang, lists: &Lists) -> Vec<Value> {
    let number = &[">=", ">", "<=", "<", "=", "!=", "between", "in", "not_in"];
    let text_ops = &["=", "!=", "in", "not_in"];
    vec![
        field(lang, "member.lifetime_spend", "number", number),
        field(lang, "member.order_count", "number", number),
        field(lang, "member.points", "number", number),
        field(lang, "member.avg_order_value", "number", number),
        field(lang, "member.last_order_at", "date", INSTANT_OPS),
        choice(lang, "member.tier", CHOICE_OPS, lists.tiers.clone()),
        field(lang, "member.tags", "text", &["has", "has_not"]),
        choice(
            lang,
            "member.status",
            CHOICE_OPS,
            named(lang, "status.", &["member", "customer", "blocked"]),
        ),
        choice(
            lang,
            "member.gender",
            CHOICE_OPS,
            named(lang, "gender.", &["female", "male", "other"]),
        ),
        field(lang, "member.age", "number", number),
        choice(
            lang,
            "member.birthday_month",
            CHOICE_OPS,
            numbered(lang, "cond.month_", 1..=12),
        ),
        field(lang, "member.birthday", "month_day", &["between"]),
        field(lang, "member.province", "text", text_ops),
        field(
            lang,
            "member.district",
            "text",
            &["contains", "=", "!=", "in", "not_in"],
        ),
        field(
            lang,
            "member.name",
            "text",
            &["contains", "=", "!=", "in", "not_in"],
        ),
        field(lang, "member.member_since", "date", INSTANT_OPS),
        choice(
            lang,
            "member.rfm",
            CHOICE_OPS,
            loyalty_core::rfm::CLASSES
                .iter()
                .map(|c| json!({"value": c, "label": c}))
                .collect(),
        ),
    ]
}

/// The catalogue key of an operator's words.
fn op_key(op: &str) -> &'static str {
    match op {
        "=" => "cond.op_eq",
        "!=" => "cond.op_ne",
        "<" => "cond.op_lt",
        "<=" => "cond.op_le",
        ">" => "cond.op_gt",
        ">=" => "cond.op_ge",
        "in" => "cond.op_in",
        "not_in" => "cond.op_not_in",
        "contains" => "cond.op_contains",
        "between" => "cond.op_between",
        "has" => "cond.op_has",
        "has_not" => "cond.op_has_not",
        "before" => "cond.op_before",
        "after" => "cond.op_after",
        "within_days" => "cond.op_within_days",
        "not_within_days" => "cond.op_not_within_days",
        "is_today" => "cond.op_is_today",
        "in_week" => "cond.op_in_week",
        _ => "cond.op_in_month",
    }
}
