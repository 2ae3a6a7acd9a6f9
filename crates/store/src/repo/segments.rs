//! Segments: the condition tree of `core::segment` compiled to one parameterised query, and
//! saved segments. Values are always bound as parameters, never written into the SQL text.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use loyalty_core::member::Member;
use loyalty_core::segment::{Field, Leaf, Op, Operand, Period, Purchase, Segment, born_by};
use loyalty_core::text::fold;

use super::{like_contains, ms, ts};
use crate::params;
use crate::sql::{Backend, DbError, Row, Sql, Value};
use crate::{Page, Paged};
pub use loyalty_core::records::SavedSegment;

/// What compiling needs besides the tree.
#[derive(Debug, Clone)]
pub struct Context {
    pub tenant_id: String,
    pub now: Timestamp,
    /// Today in the tenant's zone (ages).
    pub today: Date,
    /// Tier ids by lower-case name and by id, so a tree may name tiers either way.
    pub tiers: HashMap<String, String>,
}

/// A `where` clause over `members m` with its parameters; `$1` is the tenant.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub clause: String,
    pub values: Vec<Value<'static>>,
}

pub fn compile(segment: &Segment, backend: Backend, ctx: &Context) -> Compiled {
    let mut c = Compiler {
        backend,
        ctx,
        values: vec![Value::from(ctx.tenant_id.clone())],
    };
    let clause = c.node(segment);
    Compiled {
        // Merged records are tombstones: no segment, audience or automation reaches them.
        clause: format!("m.tenant_id = $1 and m.status <> 'merged' and ({clause})"),
        values: c.values,
    }
}

struct Compiler<'a> {
    backend: Backend,
    ctx: &'a Context,
    values: Vec<Value<'static>>,
}

impl Compiler<'_> {
    fn bind(&mut self, value: impl Into<Value<'static>>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    fn list(&mut self, items: impl IntoIterator<Item = Value<'static>>) -> String {
        let placeholders: Vec<String> = items.into_iter().map(|v| self.bind(v)).collect();
        if placeholders.is_empty() {
            "null".to_string()
        } else {
            placeholders.join(", ")
        }
    }

    fn node(&mut self, s: &Segment) -> String {
        match s {
            Segment::All(items) if items.is_empty() => "1 = 1".to_string(),
            Segment::Any(items) if items.is_empty() => "1 = 0".to_string(),
            Segment::All(items) => items
                .iter()
                .map(|i| format!("({})", self.node(i)))
                .collect::<Vec<_>>()
                .join(" and "),
            Segment::Any(items) => items
                .iter()
                .map(|i| format!("({})", self.node(i)))
                .collect::<Vec<_>>()
                .join(" or "),
            // A comparison with a missing value is unknown in SQL, and `not unknown` is still
            // unknown: "not in Hà Nội" must include members without a province, so the inner
            // test is made two-valued first.
            Segment::Not(inner) => {
                format!("(case when ({}) then 0 else 1 end) = 1", self.node(inner))
            }
            Segment::Leaf(leaf) => self.leaf(leaf),
            Segment::Purchased(p) => format!("exists ({})", self.purchases(p)),
            Segment::NotPurchased(p) => format!("not exists ({})", self.purchases(p)),
            Segment::UsedVoucher(period) => {
                let mut q = String::from(
                    "select r.member_id from voucher_redemptions r
                     where r.tenant_id = $1 and r.member_id is not null and r.status = 'redeemed'",
                );
                self.period(&mut q, "r.created_at", period);
                format!("m.id in ({q})")
            }
        }
    }

    fn period(&mut self, q: &mut String, column: &str, p: &Period) {
        if let Some(from) = p.from {
            q.push_str(&format!(" and {column} >= {}", self.bind(ms(from))));
        }
        if let Some(to) = p.to {
            q.push_str(&format!(" and {column} < {}", self.bind(ms(to))));
        }
    }

    /// The member's orders that match the block, as a correlated sub-query: each member is
    /// checked with one seek on `orders (tenant_id, member_id, placed_at)`, after the cheaper
    /// conditions of the tree have narrowed the members down. (An uncorrelated `m.id in (…)`
    /// reads every order of the period first: ten times slower for a typical three-condition
    /// segment; see BENCHMARKS.md.)
    fn purchases(&mut self, p: &Purchase) -> String {
        let mut q = String::from(
            "select 1 from orders o
             where o.tenant_id = m.tenant_id and o.member_id = m.id and o.status <> 'cancelled'",
        );
        self.period(&mut q, "o.placed_at", &p.period);
        if let Some(store) = &p.store {
            q.push_str(&format!(" and o.store = {}", self.bind(store.clone())));
        }
        if let Some(brand) = &p.brand {
            q.push_str(&format!(" and o.brand = {}", self.bind(brand.clone())));
        }
        if p.sku.is_some() || p.category.is_some() {
            q.push_str(" and exists (select 1 from order_lines l where l.tenant_id = o.tenant_id and l.order_id = o.id");
            if let Some(sku) = &p.sku {
                q.push_str(&format!(" and l.sku = {}", self.bind(sku.clone())));
            }
            if let Some(category) = &p.category {
                q.push_str(&format!(
                    " and l.category = {}",
                    self.bind(category.clone())
                ));
            }
            q.push(')');
        }
        q
    }

    fn leaf(&mut self, leaf: &Leaf) -> String {
        match leaf.field {
            Field::Name => match &leaf.value {
                Operand::Text(t) if leaf.op == Op::Contains => {
                    format!(
                        "m.search_text like {} escape '\\'",
                        self.bind(like_contains(&fold(t)))
                    )
                }
                _ => self.text("m.name", leaf),
            },
            Field::Gender => self.text("m.gender", leaf),
            Field::Status => self.text("m.status", leaf),
            Field::Rfm => self.text("m.rfm_class", leaf),
            Field::District => match &leaf.value {
                Operand::Text(t) if leaf.op == Op::Contains => {
                    let needle = self.bind(t.clone());
                    self.backend.contains("m.district", &needle)
                }
                _ => self.text("m.district", leaf),
            },
            Field::Province => {
                // Old and new names of one province meet on its 2025 code.
                let code = |t: &str| {
                    loyalty_core::geo::province_code(t)
                        .map_or_else(|| t.to_string(), str::to_string)
                };
                let leaf = Leaf {
                    field: leaf.field,
                    op: leaf.op,
                    value: match &leaf.value {
                        Operand::Text(t) => Operand::Text(code(t)),
                        Operand::Texts(list) => {
                            Operand::Texts(list.iter().map(|t| code(t)).collect())
                        }
                        other => other.clone(),
                    },
                };
                self.text("m.province_code", &leaf)
            }
            Field::Tier => {
                let id = |t: &String| {
                    self.ctx
                        .tiers
                        .get(&t.to_lowercase())
                        .cloned()
                        .unwrap_or_else(|| t.clone())
                };
                let ids: Vec<String> = match &leaf.value {
                    Operand::Text(t) => vec![id(t)],
                    Operand::Texts(list) => list.iter().map(id).collect(),
                    _ => Vec::new(),
                };
                let list = self.list(ids.into_iter().map(Value::from));
                match leaf.op {
                    Op::Ne | Op::NotIn => {
                        format!("(m.tier_id is null or m.tier_id not in ({list}))")
                    }
                    _ => format!("m.tier_id in ({list})"),
                }
            }
            Field::Tags => {
                // Tags are a JSON list of strings: look for the tag with its quotes.
                let Operand::Text(tag) = &leaf.value else {
                    return "1 = 0".into();
                };
                let quoted = serde_json::to_string(tag).unwrap_or_default();
                let needle = self.bind(quoted);
                let has = self.backend.contains("m.tags", &needle);
                if leaf.op == Op::HasNot {
                    format!("not ({has})")
                } else {
                    has
                }
            }
            Field::BirthdayMonth => self.number("m.birth_month", leaf),
            Field::Points => self.number("m.points_available", leaf),
            Field::LifetimeSpend => self.number("m.lifetime_spend", leaf),
            Field::OrderCount => self.number("m.order_count", leaf),
            Field::AvgOrderValue => self.number(
                "(case when m.order_count > 0 then m.lifetime_spend / m.order_count else 0 end)",
                leaf,
            ),
            Field::Birthday => {
                let Operand::MonthDays(from, to) = leaf.value else {
                    return "1 = 0".into();
                };
                let (a, b) = (self.bind(from), self.bind(to));
                let x = "(m.birth_month * 100 + m.birth_day)";
                if from <= to {
                    format!("(m.birth_month is not null and {x} >= {a} and {x} <= {b})")
                } else {
                    // 12-20 … 01-10 wraps the year end.
                    format!("(m.birth_month is not null and ({x} >= {a} or {x} <= {b}))")
                }
            }
            Field::Age => self.age(leaf),
            Field::MemberSince => self.instant("m.member_since", leaf),
            Field::LastOrderAt => self.instant("m.last_order_at", leaf),
        }
    }

    fn text(&mut self, column: &str, leaf: &Leaf) -> String {
        match (&leaf.op, &leaf.value) {
            (Op::Eq, Operand::Text(t)) => format!("{column} = {}", self.bind(t.clone())),
            (Op::Ne, Operand::Text(t)) => {
                format!("({column} is null or {column} <> {})", self.bind(t.clone()))
            }
            (Op::In, Operand::Texts(list)) => format!(
                "{column} in ({})",
                self.list(list.iter().cloned().map(Value::from))
            ),
            (Op::NotIn, Operand::Texts(list)) => {
                format!(
                    "({column} is null or {column} not in ({}))",
                    self.list(list.iter().cloned().map(Value::from))
                )
            }
            _ => "1 = 0".to_string(),
        }
    }

    fn number(&mut self, column: &str, leaf: &Leaf) -> String {
        match (&leaf.op, &leaf.value) {
            (Op::Eq, Operand::Number(n)) => format!("{column} = {}", self.bind(*n)),
            (Op::Ne, Operand::Number(n)) => format!("{column} <> {}", self.bind(*n)),
            (Op::Lt, Operand::Number(n)) => format!("{column} < {}", self.bind(*n)),
            (Op::Le, Operand::Number(n)) => format!("{column} <= {}", self.bind(*n)),
            (Op::Gt, Operand::Number(n)) => format!("{column} > {}", self.bind(*n)),
            (Op::Ge, Operand::Number(n)) => format!("{column} >= {}", self.bind(*n)),
            (Op::In, Operand::Numbers(list)) => format!(
                "{column} in ({})",
                self.list(list.iter().map(|n| Value::from(*n)))
            ),
            (Op::NotIn, Operand::Numbers(list)) => format!(
                "{column} not in ({})",
                self.list(list.iter().map(|n| Value::from(*n)))
            ),
            (Op::Between, Operand::NumberRange(a, b)) => {
                format!(
                    "{column} >= {} and {column} <= {}",
                    self.bind(*a),
                    self.bind(*b)
                )
            }
            _ => "1 = 0".to_string(),
        }
    }

    /// Ages compare birthdays (sortable `YYYY-MM-DD` text) with the day a person of that age
    /// was born by; birthdays without a year have no age.
    fn age(&mut self, leaf: &Leaf) -> String {
        let known = "(m.birthday is not null and substr(m.birthday, 1, 1) <> '-')";
        let today = self.ctx.today;
        let at_least =
            |c: &mut Self, years: i64| format!("m.birthday <= {}", c.bind(born_by(today, years)));
        let exactly = |c: &mut Self, years: i64| {
            let older = c.bind(born_by(today, years + 1));
            let younger = c.bind(born_by(today, years));
            format!("(m.birthday > {older} and m.birthday <= {younger})")
        };
        let test = match (&leaf.op, &leaf.value) {
            (Op::Ge, Operand::Number(n)) => at_least(self, *n),
            (Op::Gt, Operand::Number(n)) => at_least(self, n + 1),
            (Op::Le, Operand::Number(n)) => format!("not ({})", at_least(self, n + 1)),
            (Op::Lt, Operand::Number(n)) => format!("not ({})", at_least(self, *n)),
            (Op::Eq, Operand::Number(n)) => exactly(self, *n),
            (Op::Ne, Operand::Number(n)) => format!("not {}", exactly(self, *n)),
            (Op::Between, Operand::NumberRange(a, b)) => {
                let low = at_least(self, *a);
                format!("{low} and not ({})", at_least(self, b + 1))
            }
            (Op::In, Operand::Numbers(list)) => {
                let parts: Vec<String> = list.iter().map(|n| exactly(self, *n)).collect();
                format!("({})", parts.join(" or "))
            }
            (Op::NotIn, Operand::Numbers(list)) => {
                let parts: Vec<String> = list.iter().map(|n| exactly(self, *n)).collect();
                format!("not ({})", parts.join(" or "))
            }
            _ => "1 = 0".to_string(),
        };
        format!("({known} and {test})")
    }

    fn instant(&mut self, column: &str, leaf: &Leaf) -> String {
        let now = self.ctx.now;
        match (&leaf.op, &leaf.value) {
            (Op::Before, Operand::Instant(t)) => format!("{column} < {}", self.bind(ms(*t))),
            (Op::After, Operand::Instant(t)) => format!("{column} >= {}", self.bind(ms(*t))),
            (Op::Between, Operand::InstantRange(a, b)) => {
                format!(
                    "{column} >= {} and {column} < {}",
                    self.bind(ms(*a)),
                    self.bind(ms(*b))
                )
            }
            (Op::WithinDays, Operand::Days(d)) => {
                format!(
                    "{column} >= {}",
                    self.bind(ms(now - SignedDuration::from_hours(24 * d)))
                )
            }
            (Op::NotWithinDays, Operand::Days(d)) => {
                format!(
                    "({column} is null or {column} < {})",
                    self.bind(ms(now - SignedDuration::from_hours(24 * d)))
                )
            }
            _ => "1 = 0".to_string(),
        }
    }
}

pub fn count(sql: &mut dyn Sql, compiled: &Compiled) -> Result<i64, DbError> {
    sql.query_scalar(
        &format!("select count(*) from members m where {}", compiled.clause),
        &compiled.values,
    )
}

/// Whether one member is in the segment (an automation's `condition` step).
pub fn has_member(
    sql: &mut dyn Sql,
    compiled: &Compiled,
    member_id: &str,
) -> Result<bool, DbError> {
    let mut values = compiled.values.clone();
    values.push(Value::from(member_id.to_string()));
    let n: i64 = sql.query_scalar(
        &format!(
            "select count(*) from members m where {} and m.id = ${}",
            compiled.clause,
            values.len()
        ),
        &values,
    )?;
    Ok(n > 0)
}

/// The segment's members after `page.after`, in id order.
pub fn members(
    sql: &mut dyn Sql,
    compiled: &Compiled,
    page: &Page,
) -> Result<Paged<Member>, DbError> {
    let mut values = compiled.values.clone();
    values.push(Value::from(page.after.clone().unwrap_or_default()));
    let after = values.len();
    values.push(Value::from(page.limit + 1));
    let limit = values.len();
    // The members themselves in the same statement: a page read as ids and then fetched by a
    // list of a thousand ids spent most of its time planning that list on PostgreSQL.
    let query = format!(
        "select {} from members m where {} and m.id > ${after} order by m.id limit ${limit}",
        super::members::COLUMNS,
        compiled.clause
    );
    let found = sql
        .query(&query, &values)?
        .iter()
        .map(super::members::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(found, page.limit, |m| &m.id))
}

/// Revenue, orders and buyers of the segment's members in [from, to).
pub fn activity(
    sql: &mut dyn Sql,
    compiled: &Compiled,
    from: Timestamp,
    to: Timestamp,
) -> Result<(i64, i64, i64, i64), DbError> {
    let mut values = compiled.values.clone();
    values.push(Value::from(ms(from)));
    let f = values.len();
    values.push(Value::from(ms(to)));
    let t = values.len();
    let query = format!(
        "select cast(coalesce(sum(x.revenue_hi), 0) as bigint) as revenue_hi,
                cast(coalesce(sum(x.revenue_lo), 0) as bigint) as revenue_lo,
                cast(coalesce(sum(x.orders), 0) as bigint) as orders,
                count(*) as buyers,
                cast(coalesce(sum(case when x.orders >= 2 then 1 else 0 end), 0) as bigint) as repeaters
         from (select o.member_id, {}, count(*) as orders
               from orders o
               where o.tenant_id = $1 and o.status <> 'cancelled' and o.placed_at >= ${f} and o.placed_at < ${t}
                 and o.member_id in (select m.id from members m where {})
               group by o.member_id) x",
        crate::sql::wide_sum("o.total - o.refunded_amount", "revenue"),
        compiled.clause
    );
    let row = sql.query_one(&query, &values)?;
    Ok((
        row.wide_saturated("revenue")?,
        row.get("orders")?,
        row.get("buyers")?,
        row.get("repeaters")?,
    ))
}

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, s: &SavedSegment) -> Result<(), DbError> {
    sql.execute(
        "insert into segments (tenant_id, id, name, description, conditions, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
        params![tenant_id, &s.id, &s.name, &s.description, s.conditions.to_string(), ms(s.created_at), ms(s.updated_at)],
    )?;
    Ok(())
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, s: &SavedSegment) -> Result<(), DbError> {
    sql.execute(
        "update segments set name = $3, description = $4, conditions = $5, updated_at = $6 where tenant_id = $1 and id = $2",
        params![tenant_id, &s.id, &s.name, &s.description, s.conditions.to_string(), ms(s.updated_at)],
    )?;
    Ok(())
}

pub fn delete(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<bool, DbError> {
    Ok(sql.execute(
        "delete from segments where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )? == 1)
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<SavedSegment>, DbError> {
    sql.query_opt(
        "select id, name, description, conditions, created_at, updated_at from segments where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?
    .map(|r| from_row(&r))
    .transpose()
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str) -> Result<Vec<SavedSegment>, DbError> {
    sql.query(
        "select id, name, description, conditions, created_at, updated_at from segments where tenant_id = $1 order by created_at, id",
        params![tenant_id],
    )?
    .iter()
    .map(from_row)
    .collect()
}

fn from_row(row: &Row) -> Result<SavedSegment, DbError> {
    Ok(SavedSegment {
        id: row.get("id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        conditions: super::json(row, "conditions")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}
