//! Past orders and the product catalogue from CSV files: what a merchant brings from the system
//! they leave, so reports, segments and rule previews see their history from day one.
//!
//! Orders: one row per order line; the rows of one order (same `order_id`) are consecutive,
//! and the order's own cells (`placed_at`, the customer, `store`, `discount`, `shipping`,
//! `total`) are read from its first row. `total` may be left blank: it is then the lines'
//! sum less the discount plus shipping. Products: one row per SKU.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::email::Email;
use crate::error::Invalid;
use crate::import::{Format, Header, amount, instant};
use crate::order::Line;
use crate::phone::Phone;

pub const ORDER_COLUMNS: [&str; 15] = [
    "order_id",
    "placed_at",
    "phone",
    "email",
    "store",
    "brand",
    "channel",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "discount",
    "shipping",
    "total",
];

pub const ORDERS: Format = Format {
    columns: &ORDER_COLUMNS,
    ignored: &[],
    needs_one_of: &["order_id"],
};

pub const PRODUCT_COLUMNS: [&str; 5] = ["sku", "name", "category", "brand", "price"];

pub const PRODUCTS: Format = Format {
    columns: &PRODUCT_COLUMNS,
    ignored: &[],
    needs_one_of: &["sku"],
};

/// The `source` imported orders are kept under; with `order_id` it makes re-imports no-ops.
pub const IMPORT_SOURCE: &str = "import";

const MAX_TEXT: usize = 200;
const MAX_QUANTITY: i64 = 1_000_000;

/// One checked row of an orders file: the line, and the order's cells as that row gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLineRow {
    pub order_id: String,
    pub placed_at: Option<Timestamp>,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub store: Option<String>,
    pub brand: Option<String>,
    pub channel: Option<String>,
    pub line: Line,
    pub discount: Option<i64>,
    pub shipping: Option<i64>,
    pub total: Option<i64>,
}

/// A whole past order, put together from its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct PastOrder {
    pub order_id: String,
    /// The row of the order's first line, for errors.
    pub row: u64,
    pub placed_at: Timestamp,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub store: Option<String>,
    pub brand: Option<String>,
    pub channel: Option<String>,
    pub lines: Vec<Line>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub total: i64,
}

fn text(e: &mut Invalid, field: &str, value: Option<&str>) -> Option<String> {
    let value = value?.to_string();
    if value.chars().count() > MAX_TEXT {
        let message = format!("must be at most {MAX_TEXT} characters");
        e.push_bounded(field, "length", (1, MAX_TEXT as i64), message);
    }
    Some(value)
}

/// The row's `order_id` cell, which groups rows into orders.
pub fn order_id_of<'a>(header: &Header, row: &'a [&'a str]) -> Option<&'a str> {
    header.cell(row, "order_id")
}

/// Checks one row of an orders file; the errors name the column.
pub fn parse_order_line(
    header: &Header,
    row: &[&str],
    zone: &TimeZone,
    now: Timestamp,
) -> Result<OrderLineRow, Invalid> {
    let mut e = Invalid::default();
    let cell = |column: &str| header.cell(row, column);
    let order_id = text(&mut e, "order_id", cell("order_id"));
    if order_id.is_none() {
        e.required("order_id");
    }
    let placed_at = cell("placed_at").and_then(|v| match instant(v, zone) {
        Some(t) if t > now => {
            e.push_coded("placed_at", "placed_at.in_future", "is in the future");
            None
        }
        Some(t) => Some(t),
        None => {
            e.push_coded(
                "placed_at",
                "placed_at.format",
                "must be a date and time (YYYY-MM-DD HH:MM, DD/MM/YYYY HH:MM) or an RFC 3339 time",
            );
            None
        }
    });
    let phone = cell("phone").and_then(|v| e.check("phone", Phone::parse(v)));
    let email = cell("email").and_then(|v| e.check("email", Email::parse(v)));
    let store = text(&mut e, "store", cell("store"));
    let brand = text(&mut e, "brand", cell("brand"));
    let channel = text(&mut e, "channel", cell("channel"));
    let sku = text(&mut e, "sku", cell("sku"));
    let name = text(&mut e, "name", cell("name"));
    let category = text(&mut e, "category", cell("category"));
    let quantity = match cell("quantity") {
        None => Some(1),
        Some(v) => match amount(&mut e, "quantity", v) {
            Some(q) if !(1..=MAX_QUANTITY).contains(&q) => {
                crate::limits::within(&mut e, "quantity", q, 1, MAX_QUANTITY);
                None
            }
            q => q,
        },
    };
    let unit_price = match cell("unit_price") {
        Some(v) => amount(&mut e, "unit_price", v),
        None => {
            e.required("unit_price");
            None
        }
    };
    let discount = cell("discount").and_then(|v| amount(&mut e, "discount", v));
    let shipping = cell("shipping").and_then(|v| amount(&mut e, "shipping", v));
    let total = cell("total").and_then(|v| amount(&mut e, "total", v));
    e.into_result(|| OrderLineRow {
        order_id: order_id.unwrap_or_default(),
        placed_at,
        phone,
        email,
        store,
        brand,
        channel,
        line: Line {
            sku,
            name,
            category,
            quantity: quantity.unwrap_or(1),
            unit_price: unit_price.unwrap_or(0),
        },
        discount,
        shipping,
        total,
    })
}

/// Puts an order together from its rows (`first_row` is the spreadsheet row of the first).
/// The order's cells come from the first row; the totals must agree.
pub fn assemble_order(first_row: u64, rows: Vec<OrderLineRow>) -> Result<PastOrder, Invalid> {
    let mut e = Invalid::default();
    let first = rows
        .first()
        .cloned()
        .ok_or_else(|| Invalid::one("order_id", "order.no_lines", "has no lines"))?;
    let Some(placed_at) = first.placed_at else {
        return Err(Invalid::one(
            "placed_at",
            "placed_at.required_on_first_row",
            "is required on the order's first row",
        ));
    };
    let lines: Vec<Line> = rows.into_iter().map(|r| r.line).collect();
    if lines.len() > crate::order::MAX_LINES {
        return Err(Invalid::one_bounded(
            "order_id",
            "lines.too_many",
            (0, crate::order::MAX_LINES as i64),
            format!("an order has at most {} lines", crate::order::MAX_LINES),
        ));
    }
    // The same bound as a posted order: the lines add up to at most 10^13 VND.
    let subtotal = lines
        .iter()
        .try_fold(0i64, |sum, l| {
            sum.checked_add(l.quantity.checked_mul(l.unit_price)?)
        })
        .filter(|s| *s <= crate::limits::MAX_AMOUNT);
    let Some(subtotal) = subtotal else {
        return Err(Invalid::one_bounded(
            "unit_price",
            "order.subtotal_too_large",
            (0, crate::limits::MAX_AMOUNT),
            "the order's lines add up to too much",
        ));
    };
    let (discount, shipping) = (first.discount.unwrap_or(0), first.shipping.unwrap_or(0));
    // Each is at most 10^13 and so is the subtotal: checked all the same, not assumed.
    let Some(expected) = subtotal
        .checked_sub(discount)
        .and_then(|v| v.checked_add(shipping))
    else {
        return Err(Invalid::one(
            "shipping",
            "order.total_too_large",
            "the order's total is too large",
        ));
    };
    if discount > subtotal {
        e.push_coded(
            "discount",
            "order.discount_above_subtotal",
            "is more than the lines' sum",
        );
    }
    let total = first.total.unwrap_or(expected);
    if total != expected {
        e.push_coded(
            "total",
            "order.total_mismatch",
            format!("is {total} but the lines less the discount plus shipping make {expected}"),
        );
    }
    e.into_result(|| PastOrder {
        order_id: first.order_id,
        row: first_row,
        placed_at,
        phone: first.phone,
        email: first.email,
        store: first.store,
        brand: first.brand,
        channel: first.channel,
        lines,
        subtotal,
        discount,
        shipping,
        total,
    })
}

/// One product of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub price: i64,
}

pub fn parse_product_row(header: &Header, row: &[&str]) -> Result<ProductRow, Invalid> {
    let mut e = Invalid::default();
    let cell = |column: &str| header.cell(row, column);
    let sku = text(&mut e, "sku", cell("sku"));
    if sku.is_none() {
        e.required("sku");
    }
    let name = text(&mut e, "name", cell("name"));
    if name.is_none() {
        e.required("name");
    }
    let category = text(&mut e, "category", cell("category"));
    let brand = text(&mut e, "brand", cell("brand"));
    let price = match cell("price") {
        Some(v) => amount(&mut e, "price", v),
        None => {
            e.required("price");
            None
        }
    };
    e.into_result(|| ProductRow {
        sku: sku.unwrap_or_default(),
        name: name.unwrap_or_default(),
        category,
        brand,
        price: price.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> TimeZone {
        TimeZone::get("Asia/Ho_Chi_Minh").unwrap()
    }

    fn now() -> Timestamp {
        "2026-11-25T00:00:00Z".parse().unwrap()
    }

    fn orders_header(line: &str) -> Header {
        Header::parse_as(line.split(','), &ORDERS).unwrap()
    }

    #[test]
    fn a_line_reads_vietnamese_dates_and_grouped_amounts() {
        let h = orders_header("order_id,placed_at,phone,sku,quantity,unit_price,total");
        let row = parse_order_line(
            &h,
            &[
                "HD001",
                "20/10/2026 14:30",
                "0901234567",
                "BANH-1",
                "2",
                "35.000",
                "70.000",
            ],
            &zone(),
            now(),
        )
        .unwrap();
        assert_eq!(row.placed_at, Some("2026-10-20T07:30:00Z".parse().unwrap()));
        assert_eq!(row.line.quantity, 2);
        assert_eq!(row.line.unit_price, 35_000);
        assert_eq!(row.total, Some(70_000));
    }

    #[test]
    fn bad_cells_are_named() {
        let h = orders_header("order_id,placed_at,phone,quantity,unit_price");
        let errors = parse_order_line(&h, &["", "2099-01-01", "12345", "0", "-5"], &zone(), now())
            .unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["order_id", "placed_at", "phone", "quantity", "unit_price"]
        );
    }

    #[test]
    fn an_order_is_its_lines_and_its_totals_must_agree() {
        let h = orders_header("order_id,placed_at,quantity,unit_price,discount,shipping,total");
        let rows = |total: &str| {
            vec![
                parse_order_line(
                    &h,
                    &["A", "2026-10-01", "2", "50000", "10000", "15000", total],
                    &zone(),
                    now(),
                )
                .unwrap(),
                parse_order_line(&h, &["A", "", "1", "20000", "", "", ""], &zone(), now()).unwrap(),
            ]
        };
        let order = assemble_order(2, rows("")).unwrap();
        assert_eq!((order.subtotal, order.total), (120_000, 125_000));
        assert_eq!(order.lines.len(), 2);
        assert!(assemble_order(2, rows("125000")).is_ok());
        let wrong = assemble_order(2, rows("1")).unwrap_err();
        assert_eq!(wrong.0[0].field, "total");
    }

    #[test]
    fn products_need_a_sku_a_name_and_a_price() {
        let h = Header::parse_as("sku,name,category,price".split(','), &PRODUCTS).unwrap();
        let p = parse_product_row(&h, &["CF-01", "Cà phê sữa", "drinks", "35.000"]).unwrap();
        assert_eq!(p.price, 35_000);
        let e = parse_product_row(&h, &["", "", "", ""]).unwrap_err();
        assert_eq!(e.0.len(), 3);
        assert!(Header::parse_as("name,price".split(','), &PRODUCTS).is_err());
        assert!(Header::parse_as("sku,colour".split(','), &PRODUCTS).is_err());
    }
}
