//! Orders and their lines and refunds.

use jiff::Timestamp;
use loyalty_core::member::Member;
use loyalty_core::order::{Line, OrderStatus};

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value};
use crate::{Page, Paged};
pub use loyalty_core::records::OrderFilter;
pub use loyalty_core::records::OrderRow;
pub use loyalty_core::records::RefundRow;

macro_rules! order_columns {
    () => {
        "id, source, external_id, member_id, status, brand, store, channel, placed_at, currency,
         subtotal, discount, shipping, total, points_redeemed, redeemed_value, member_index,
         base_points, points_earned, points_reversed, points_returned, refunded_amount, breakdown,
         receipt, created_at, updated_at"
    };
}

/// Inserts the order unless one with the same source and external id exists (or is being
/// inserted by a concurrent transaction, which PostgreSQL waits for). Returns whether it was
/// inserted: `false` means this is a retry.
pub fn insert_if_new(sql: &mut dyn Sql, tenant_id: &str, o: &OrderRow) -> Result<bool, DbError> {
    let rows = sql.query(
        concat!(
            "insert into orders (tenant_id, ",
            order_columns!(),
            ")
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
             on conflict (tenant_id, source, external_id) do nothing
             returning id"
        ),
        &[
            tenant_id.into(),
            (&o.id).into(),
            (&o.source).into(),
            (&o.external_id).into(),
            (&o.member_id).into(),
            o.status.as_str().into(),
            (&o.brand).into(),
            (&o.store).into(),
            (&o.channel).into(),
            ms(o.placed_at).into(),
            (&o.currency).into(),
            o.subtotal.into(),
            o.discount.into(),
            o.shipping.into(),
            o.total.into(),
            o.points_redeemed.into(),
            o.redeemed_value.into(),
            o.member_index.into(),
            o.base_points.into(),
            o.points_earned.into(),
            o.points_reversed.into(),
            o.points_returned.into(),
            o.refunded_amount.into(),
            (&o.breakdown).into(),
            (&o.receipt).into(),
            ms(o.created_at).into(),
            ms(o.updated_at).into(),
        ],
    )?;
    Ok(!rows.is_empty())
}

/// Writes what posting, cancelling or refunding decided.
pub fn update(sql: &mut dyn Sql, tenant_id: &str, o: &OrderRow) -> Result<(), DbError> {
    sql.execute(
        "update orders
         set member_id = $3, status = $4, member_index = $5, base_points = $6, points_earned = $7,
             points_reversed = $8, points_returned = $9, refunded_amount = $10, breakdown = $11,
             receipt = $12, redeemed_value = $13, updated_at = $14
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &o.id,
            &o.member_id,
            o.status.as_str(),
            o.member_index,
            o.base_points,
            o.points_earned,
            o.points_reversed,
            o.points_returned,
            o.refunded_amount,
            o.breakdown.as_str(),
            &o.receipt,
            o.redeemed_value,
            ms(o.updated_at)
        ],
    )?;
    Ok(())
}

pub fn insert_lines(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order_id: &str,
    lines: &[Line],
) -> Result<(), DbError> {
    // One statement for every 50 lines: few round trips, and a bounded set of statement texts.
    for (chunk_no, chunk) in lines.chunks(50).enumerate() {
        let mut query = String::from(
            "insert into order_lines (tenant_id, order_id, line_no, sku, name, category, quantity, unit_price) values ",
        );
        let mut values: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * 8);
        for (i, line) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&crate::sql::row_placeholders(i, 8, 1));
            values.extend([
                tenant_id.into(),
                order_id.into(),
                ((chunk_no * 50 + i + 1) as i64).into(),
                (&line.sku).into(),
                (&line.name).into(),
                (&line.category).into(),
                line.quantity.into(),
                line.unit_price.into(),
            ]);
        }
        sql.defer(&query, &values)?;
    }
    Ok(())
}

pub fn lines(sql: &mut dyn Sql, tenant_id: &str, order_id: &str) -> Result<Vec<Line>, DbError> {
    sql.query(
        "select sku, name, category, quantity, unit_price from order_lines
         where tenant_id = $1 and order_id = $2
         order by line_no",
        params![tenant_id, order_id],
    )?
    .iter()
    .map(|row| {
        Ok(Line {
            sku: row.get("sku")?,
            name: row.get("name")?,
            category: row.get("category")?,
            quantity: row.get("quantity")?,
            unit_price: row.get("unit_price")?,
        })
    })
    .collect()
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<OrderRow>, DbError> {
    sql.query_opt(
        concat!(
            "select ",
            order_columns!(),
            " from orders where tenant_id = $1 and id = $2"
        ),
        params![tenant_id, id],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

pub fn get_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<OrderRow>, DbError> {
    let query = match sql.backend() {
        crate::Backend::Sqlite => concat!(
            "select ",
            order_columns!(),
            " from orders where tenant_id = $1 and id = $2"
        ),
        crate::Backend::Postgres => {
            concat!(
                "select ",
                order_columns!(),
                " from orders where tenant_id = $1 and id = $2 for update"
            )
        }
    };
    sql.query_opt(query, params![tenant_id, id])?
        .map(|row| from_row(&row))
        .transpose()
}

pub fn by_source(
    sql: &mut dyn Sql,
    tenant_id: &str,
    source: &str,
    external_id: &str,
) -> Result<Option<OrderRow>, DbError> {
    sql.query_opt(BY_SOURCE, params![tenant_id, source, external_id])?
        .map(|row| from_row(&row))
        .transpose()
}

const BY_SOURCE: &str = concat!(
    "select ",
    order_columns!(),
    " from orders where tenant_id = $1 and source = $2 and external_id = $3"
);

/// [`by_source`] and the member locked for the order (`members::get_for_update`), asked
/// together: one round trip on PostgreSQL.
pub fn by_source_with_member(
    sql: &mut dyn Sql,
    tenant_id: &str,
    source: &str,
    external_id: &str,
    member_id: &str,
) -> Result<(Option<OrderRow>, Option<Member>), DbError> {
    let (rows, member) = super::members::get_for_update_with(
        sql,
        tenant_id,
        member_id,
        (BY_SOURCE, params![tenant_id, source, external_id]),
    )?;
    let existing = rows.first().map(from_row).transpose()?;
    Ok((existing, member))
}

/// Orders matching the filter, oldest first by id.
pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    filter: &OrderFilter,
    page: &Page,
) -> Result<Paged<OrderRow>, DbError> {
    let mut query = String::from(concat!(
        "select ",
        order_columns!(),
        " from orders where tenant_id = $1"
    ));
    let (after, direction) = match (filter.newest_first, page.after.as_deref()) {
        (false, after) => (after.unwrap_or(""), "asc"),
        (true, Some(after)) => (after, "desc"),
        (true, None) => ("\u{10FFFF}", "desc"),
    };
    query.push_str(if filter.newest_first {
        " and id < $2"
    } else {
        " and id > $2"
    });
    let mut values: Vec<Value<'_>> = vec![tenant_id.into(), after.into()];
    let mut add = |query: &mut String, condition: &str, value: Value<'static>| {
        values.push(value);
        query.push_str(&format!(" and {condition} ${}", values.len()));
    };
    if let Some(v) = &filter.source {
        add(&mut query, "source =", v.clone().into());
    }
    if let Some(v) = &filter.external_id {
        add(&mut query, "external_id =", v.clone().into());
    }
    if let Some(v) = &filter.member_id {
        add(&mut query, "member_id =", v.clone().into());
    }
    if let Some(v) = &filter.store {
        add(&mut query, "store =", v.clone().into());
    }
    if let Some(v) = filter.status {
        add(&mut query, "status =", v.as_str().into());
    }
    if let Some(v) = filter.from {
        add(&mut query, "placed_at >=", ms(v).into());
    }
    if let Some(v) = filter.to {
        add(&mut query, "placed_at <", ms(v).into());
    }
    values.push((page.limit + 1).into());
    query.push_str(&format!(" order by id {direction} limit ${}", values.len()));
    let rows = sql.query(&query, &values)?;
    let orders = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(orders, page.limit, |o| &o.id))
}

/// A refund already recorded under `external_id`: (amount, points reversed).
pub fn refund(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order_id: &str,
    external_id: &str,
) -> Result<Option<(i64, i64)>, DbError> {
    sql.query_opt(
        "select amount, points_reversed from order_refunds
         where tenant_id = $1 and order_id = $2 and external_id = $3",
        params![tenant_id, order_id, external_id],
    )?
    .map(|row| Ok((row.get("amount")?, row.get("points_reversed")?)))
    .transpose()
}

pub fn insert_refund(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order_id: &str,
    external_id: &str,
    amount: i64,
    points_reversed: i64,
    at: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "insert into order_refunds (tenant_id, order_id, external_id, amount, points_reversed, created_at)
         values ($1, $2, $3, $4, $5, $6)",
        params![tenant_id, order_id, external_id, amount, points_reversed, ms(at)],
    )?;
    Ok(())
}

pub fn refunds(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order_id: &str,
) -> Result<Vec<RefundRow>, DbError> {
    sql.query(
        "select external_id, amount, points_reversed, created_at from order_refunds
         where tenant_id = $1 and order_id = $2
         order by created_at, external_id",
        params![tenant_id, order_id],
    )?
    .iter()
    .map(|row| {
        Ok(RefundRow {
            external_id: row.get("external_id")?,
            amount: row.get("amount")?,
            points_reversed: row.get("points_reversed")?,
            created_at: ts(row, "created_at")?,
        })
    })
    .collect()
}

/// Paid orders of members placed in [from, to), for replaying a rule: with their lines.
pub fn for_preview(
    sql: &mut dyn Sql,
    tenant_id: &str,
    from: Timestamp,
    to: Timestamp,
    after: &str,
    limit: i64,
) -> Result<Vec<(OrderRow, Vec<Line>)>, DbError> {
    let orders: Vec<OrderRow> = sql
        .query(
            concat!(
                "select ",
                order_columns!(),
                " from orders
                 where tenant_id = $1 and placed_at >= $2 and placed_at < $3 and id > $4
                   and member_id is not null and status <> 'cancelled'
                 order by id
                 limit $5"
            ),
            params![tenant_id, ms(from), ms(to), after, limit],
        )?
        .iter()
        .map(from_row)
        .collect::<Result<_, _>>()?;
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    // All lines of the page in one query, not one per order.
    let (first, last) = (orders[0].id.clone(), orders[orders.len() - 1].id.clone());
    let rows = sql.query(
        "select order_id, sku, name, category, quantity, unit_price from order_lines
         where tenant_id = $1 and order_id >= $2 and order_id <= $3
         order by order_id, line_no",
        params![tenant_id, first.as_str(), last.as_str()],
    )?;
    let index: std::collections::HashMap<String, usize> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.to_string(), i))
        .collect();
    let mut out: Vec<(OrderRow, Vec<Line>)> = orders.into_iter().map(|o| (o, Vec::new())).collect();
    for row in rows {
        let order_id: String = row.get("order_id")?;
        if let Some(&i) = index.get(&order_id) {
            out[i].1.push(Line {
                sku: row.get("sku")?,
                name: row.get("name")?,
                category: row.get("category")?,
                quantity: row.get("quantity")?,
                unit_price: row.get("unit_price")?,
            });
        }
    }
    Ok(out)
}

fn from_row(row: &Row) -> Result<OrderRow, DbError> {
    Ok(OrderRow {
        id: row.get("id")?,
        source: row.get("source")?,
        external_id: row.get("external_id")?,
        member_id: row.get("member_id")?,
        status: {
            let status: String = row.get("status")?;
            OrderStatus::parse(&status)
                .ok_or_else(|| DbError::Decode(format!("order status {status}")))?
        },
        brand: row.get("brand")?,
        store: row.get("store")?,
        channel: row.get("channel")?,
        placed_at: ts(row, "placed_at")?,
        currency: row.get("currency")?,
        subtotal: row.get("subtotal")?,
        discount: row.get("discount")?,
        shipping: row.get("shipping")?,
        total: row.get("total")?,
        points_redeemed: row.get("points_redeemed")?,
        redeemed_value: row.get("redeemed_value")?,
        member_index: row.get("member_index")?,
        base_points: row.get("base_points")?,
        points_earned: row.get("points_earned")?,
        points_reversed: row.get("points_reversed")?,
        points_returned: row.get("points_returned")?,
        refunded_amount: row.get("refunded_amount")?,
        breakdown: row.get("breakdown")?,
        receipt: row.get("receipt")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// One line of an order as the orders export writes it (an order without lines has one row
/// with no line).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportLine {
    pub order_id: String,
    pub source: String,
    pub external_id: String,
    pub placed_at: Timestamp,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub store: Option<String>,
    pub brand: Option<String>,
    pub channel: Option<String>,
    pub line: Option<Line>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub total: i64,
}

/// The lines of the next `limit` orders after the order `after` (by id), cancelled orders
/// left out, in one query; and the id to continue after when there may be more.
pub fn export_page(
    sql: &mut dyn Sql,
    tenant_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<ExportLine>, Option<String>), DbError> {
    let rows = sql.query(
        "select o.id, o.source, o.external_id, o.placed_at, m.phone, m.email, o.store, o.brand,
                o.channel, l.line_no, l.sku, l.name, l.category, l.quantity, l.unit_price,
                o.subtotal, o.discount, o.shipping, o.total
         from orders o
         left join order_lines l on l.tenant_id = o.tenant_id and l.order_id = o.id
         left join members m on m.tenant_id = o.tenant_id and m.id = o.member_id
         where o.tenant_id = $1
           and o.id in (select id from orders
                        where tenant_id = $1 and id > $2 and status <> 'cancelled'
                        order by id limit $3)
         order by o.id, l.line_no",
        params![tenant_id, after.unwrap_or(""), limit],
    )?;
    let mut lines = Vec::with_capacity(rows.len());
    let mut orders = 0i64;
    for row in &rows {
        let order_id: String = row.get("id")?;
        if lines
            .last()
            .is_none_or(|l: &ExportLine| l.order_id != order_id)
        {
            orders += 1;
        }
        let line_no: Option<i64> = row.get("line_no")?;
        let line = match line_no {
            Some(_) => Some(Line {
                sku: row.get("sku")?,
                name: row.get("name")?,
                category: row.get("category")?,
                quantity: row.get("quantity")?,
                unit_price: row.get("unit_price")?,
            }),
            None => None,
        };
        lines.push(ExportLine {
            order_id,
            source: row.get("source")?,
            external_id: row.get("external_id")?,
            placed_at: ts(row, "placed_at")?,
            phone: row.get("phone")?,
            email: row.get("email")?,
            store: row.get("store")?,
            brand: row.get("brand")?,
            channel: row.get("channel")?,
            line,
            subtotal: row.get("subtotal")?,
            discount: row.get("discount")?,
            shipping: row.get("shipping")?,
            total: row.get("total")?,
        });
    }
    let next = (orders == limit)
        .then(|| lines.last().map(|l| l.order_id.clone()))
        .flatten();
    Ok((lines, next))
}
