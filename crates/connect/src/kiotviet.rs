//! KiotViet's payloads (INTERFACES.md §3.5): one delivery carries notifications, each with an
//! `Action` (`invoice.update.<retailer id>`) and a list of PascalCase records. Completed sales
//! are invoices; KiotViet's "orders" are reservations and are not acted on.

use loyalty_core::order::LineInput;
use serde_json::Value;

use crate::amount::dong_or_zero;
use crate::{Customer, Message, OrderSnapshot, Payment, ReadError, balance, contact};

/// Invoice `Status`: 1 completed, 2 cancelled (3 in progress, 5 undeliverable: not yet a sale).
const COMPLETED: i64 = 1;
const CANCELLED: i64 = 2;

pub fn read(json: &Value) -> Result<Vec<Message>, ReadError> {
    let notifications = json
        .get("Notifications")
        .and_then(Value::as_array)
        .ok_or_else(|| ReadError("no Notifications in the body".into()))?;
    let mut messages = Vec::new();
    for n in notifications {
        let action = n.get("Action").and_then(Value::as_str).unwrap_or("");
        // The action ends with the retailer's id: "invoice.update.500123".
        let topic = action.split('.').take(2).collect::<Vec<_>>().join(".");
        let records = n
            .get("Data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        match topic.as_str() {
            "invoice.update" => {
                for record in records {
                    messages.push(Message::Order(Box::new(invoice(record)?)));
                }
            }
            "customer.update" => {
                for record in records {
                    messages.push(Message::Customer(customer(record, &mut Vec::new())));
                }
            }
            _ => messages.push(Message::Ignored {
                topic: action.to_string(),
            }),
        }
    }
    Ok(messages)
}

fn text<'a>(json: &'a Value, field: &str) -> Option<&'a str> {
    json.get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn amount(json: &Value, field: &str) -> Result<i64, ReadError> {
    dong_or_zero(json.get(field))
        .filter(|a| *a >= 0)
        .ok_or_else(|| ReadError(format!("{field} is not an amount")))
}

/// KiotViet writes local Vietnam time without an offset ("2026-11-20T10:00:00.0000000").
fn local_time(text: &str) -> Option<String> {
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    Some(
        civil
            .in_tz("Asia/Ho_Chi_Minh")
            .ok()?
            .timestamp()
            .to_string(),
    )
}

fn invoice(json: &Value) -> Result<OrderSnapshot, ReadError> {
    let id = id_of(json.get("Id")).ok_or_else(|| ReadError("invoice without Id".into()))?;
    let mut notes = Vec::new();
    let payment = match json.get("Status").and_then(Value::as_i64) {
        Some(COMPLETED) => Payment::Paid,
        Some(CANCELLED) => Payment::Cancelled,
        _ => Payment::Unpaid,
    };
    let total = amount(json, "Total")?;
    let mut lines = Vec::new();
    for (i, d) in json
        .get("InvoiceDetails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let quantity = d.get("Quantity").and_then(Value::as_f64).unwrap_or(0.0);
        let price =
            amount(d, "Price").map_err(|e| ReadError(format!("InvoiceDetails[{i}]: {e}")))?;
        let line_discount = amount(d, "Discount").unwrap_or(0).min(price);
        if quantity <= 0.0 {
            notes.push(format!(
                "InvoiceDetails[{i}] with quantity {quantity} left out"
            ));
            continue;
        }
        // Goods sold by weight (1.5 kg) become one line of their amount.
        let (quantity, unit_price) = if quantity.fract() == 0.0 {
            (quantity as i64, price - line_discount)
        } else {
            (
                1,
                ((price - line_discount) as f64 * quantity).round() as i64,
            )
        };
        lines.push(LineInput {
            sku: text(d, "ProductCode").map(str::to_string),
            name: text(d, "ProductName").map(str::to_string),
            category: text(d, "CategoryName").map(str::to_string),
            quantity,
            unit_price,
        });
    }
    let (lines, discount, shipping) = balance(lines, 0, total);
    let customer = {
        let found = customer_of_invoice(json, &mut notes);
        (found.has_contact() || found.id.is_some()).then_some(found)
    };
    Ok(OrderSnapshot {
        id,
        number: text(json, "Code").map(str::to_string),
        payment,
        customer,
        placed_at: text(json, "PurchaseDate").and_then(local_time),
        currency: None,
        lines,
        discount,
        shipping,
        total,
        refunds: Vec::new(),
        refunded_total: None,
        notes,
    })
}

/// An invoice names its customer by KiotViet's id and code; the phone is on the customer
/// record (`customer.update`), and on the invoice only when the shop's setup adds it.
fn customer_of_invoice(json: &Value, notes: &mut Vec<String>) -> Customer {
    let (phone, email) = contact(
        text(json, "ContactNumber").or_else(|| text(json, "CustomerPhone")),
        text(json, "CustomerEmail"),
        notes,
    );
    Customer {
        id: id_of(json.get("CustomerId")).filter(|id| id != "0"),
        phone,
        email,
        name: text(json, "CustomerName").map(str::to_string),
    }
}

fn customer(json: &Value, notes: &mut Vec<String>) -> Customer {
    let (phone, email) = contact(text(json, "ContactNumber"), text(json, "Email"), notes);
    Customer {
        id: id_of(json.get("Id")),
        phone,
        email,
        name: text(json, "Name").map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;
    use serde_json::json;

    fn delivery() -> Value {
        json!({"Id": "a1b2c3", "Attempt": 1, "Notifications": [
            {"Action": "customer.update.500123", "Data": [
                {"Id": 7001, "Code": "KH000001", "Name": "Trần Thị Bình", "ContactNumber": "0912345678",
                 "Email": null, "RetailerId": 500123}]},
            {"Action": "invoice.update.500123", "Data": [
                {"Id": 90001, "Code": "HD000123", "PurchaseDate": "2026-11-20T10:00:00.0000000",
                 "BranchId": 1, "BranchName": "Chi nhánh trung tâm", "CustomerId": 7001,
                 "CustomerCode": "KH000001", "CustomerName": "Trần Thị Bình",
                 "Total": 65000, "TotalPayment": 65000, "Discount": 5000, "Status": 1,
                 "StatusValue": "Hoàn thành", "ModifiedDate": "2026-11-20T10:00:01.0000000",
                 "InvoiceDetails": [
                    {"ProductId": 1, "ProductCode": "CF-001", "ProductName": "Cà phê sữa",
                     "Quantity": 2, "Price": 35000, "Discount": 0}]}]},
            {"Action": "product.update.500123", "Data": [{"Id": 1}]}
        ]})
    }

    #[test]
    fn a_delivery_yields_its_customer_its_invoice_and_what_is_ignored() {
        let messages = read(&delivery()).unwrap();
        assert_eq!(messages.len(), 3);
        let Message::Customer(c) = &messages[0] else {
            panic!()
        };
        assert_eq!(c.id.as_deref(), Some("7001"));
        assert_eq!(c.phone.as_deref(), Some("+84912345678"));
        let Message::Order(o) = &messages[1] else {
            panic!()
        };
        assert_eq!(o.id, "90001");
        assert_eq!(o.number.as_deref(), Some("HD000123"));
        assert_eq!(o.payment, Payment::Paid);
        assert_eq!((o.total, o.discount), (65_000, 5_000));
        assert_eq!(o.placed_at.as_deref(), Some("2026-11-20T03:00:00Z"));
        assert_eq!(o.customer.as_ref().unwrap().id.as_deref(), Some("7001"));
        assert!(
            matches!(&messages[2], Message::Ignored { topic } if topic == "product.update.500123")
        );
        // Without a phone the order names no customer: the app finds them by their id.
        let input = o.order_input(Platform::Kiotviet, None, None);
        assert!(input.customer.is_none());
        assert_eq!(input.channel.as_deref(), Some("pos"));
        assert!(input.validate(jiff::Timestamp::now()).is_ok());
    }

    #[test]
    fn cancelled_and_weighed_goods() {
        let mut d = delivery();
        let invoice = &mut d["Notifications"][1]["Data"][0];
        invoice["Status"] = json!(2);
        invoice["InvoiceDetails"][0]["Quantity"] = json!(1.5);
        invoice["Total"] = json!(52500);
        let messages = read(&d).unwrap();
        let Message::Order(o) = &messages[1] else {
            panic!()
        };
        assert_eq!(o.payment, Payment::Cancelled);
        assert_eq!((o.lines[0].quantity, o.lines[0].unit_price), (1, 52_500));
        assert_eq!(o.discount, 0);
    }

    #[test]
    fn a_body_without_notifications_is_an_error() {
        assert!(read(&json!({"Id": "x"})).is_err());
    }
}
