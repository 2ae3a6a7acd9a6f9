//! Shopify's payloads, and Haravan's and Sapo's, which follow them field for field
//! (INTERFACES.md §3.2–3.4).

use loyalty_core::order::LineInput;
use serde_json::Value;

use crate::amount::{dong, dong_or_zero};
use crate::{
    Customer, Message, OrderSnapshot, Payment, Platform, ReadError, RefundNote, balance, contact,
};

pub fn read(platform: Platform, topic: &str, json: &Value) -> Result<Message, ReadError> {
    match topic {
        "orders/create"
        | "orders/updated"
        | "orders/paid"
        | "orders/fulfilled"
        | "orders/partially_fulfilled"
        | "orders/edited" => order(platform, json, false).map(|o| Message::Order(Box::new(o))),
        "orders/cancelled" => order(platform, json, true).map(|o| Message::Order(Box::new(o))),
        "refunds/create" => {
            let order_id = id_of(json.get("order_id"))
                .ok_or_else(|| ReadError("refund without order_id".into()))?;
            Ok(Message::Refund {
                order_id,
                refund: refund(json)?,
            })
        }
        "customers/create" | "customers/update" => {
            let mut notes = Vec::new();
            Ok(Message::Customer(customer(platform, json, &mut notes)))
        }
        other => Ok(Message::Ignored {
            topic: other.to_string(),
        }),
    }
}

/// Ids are numbers on Shopify and strings on some clones: both become text.
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn text<'a>(json: &'a Value, field: &str) -> Option<&'a str> {
    json.get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn amount(json: &Value, field: &str) -> Result<i64, ReadError> {
    dong_or_zero(json.get(field)).ok_or_else(|| ReadError(format!("{field} is not an amount")))
}

fn order(
    platform: Platform,
    json: &Value,
    cancelled_topic: bool,
) -> Result<OrderSnapshot, ReadError> {
    let id = id_of(json.get("id")).ok_or_else(|| ReadError("order without id".into()))?;
    let mut notes = Vec::new();
    let financial = text(json, "financial_status").unwrap_or("pending");
    let cancelled = cancelled_topic || json.get("cancelled_at").is_some_and(|v| !v.is_null());
    let payment = if cancelled {
        Payment::Cancelled
    } else if matches!(financial, "paid" | "partially_refunded" | "refunded") {
        Payment::Paid
    } else {
        Payment::Unpaid
    };
    let total = amount(json, "total_price")?;
    if total < 0 {
        return Err(ReadError("total_price is negative".into()));
    }
    let mut lines = Vec::new();
    for (i, item) in json
        .get("line_items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(0);
        let price = dong_or_zero(item.get("price"))
            .ok_or_else(|| ReadError(format!("line_items[{i}].price is not an amount")))?;
        if quantity <= 0 || price < 0 {
            notes.push(format!("line_items[{i}] with quantity {quantity} left out"));
            continue;
        }
        lines.push(LineInput {
            sku: text(item, "sku").map(str::to_string),
            name: text(item, "title")
                .or_else(|| text(item, "name"))
                .map(str::to_string),
            category: text(item, "product_type").map(str::to_string),
            quantity,
            unit_price: price,
        });
    }
    let mut shipping = 0i64;
    for item in json
        .get("shipping_lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        shipping = shipping.saturating_add(dong_or_zero(item.get("price")).unwrap_or(0).max(0));
    }
    let (lines, discount, shipping) = balance(lines, shipping, total);
    let mut refunds = Vec::new();
    for r in json
        .get("refunds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let note = refund(r)?;
        if note.amount > 0 {
            refunds.push(note);
        }
    }
    let refunded_total = match financial {
        _ if !refunds.is_empty() => None,
        "refunded" => Some(total),
        "partially_refunded" => json
            .get("current_total_price")
            .and_then(dong)
            .map(|now| total - now)
            .filter(|r| *r > 0),
        _ => None,
    };
    if financial == "partially_refunded" && refunds.is_empty() && refunded_total.is_none() {
        notes.push(
            "partially refunded, but neither the refunds nor current_total_price say how much"
                .into(),
        );
    }
    // The customer record's contact first, then what the buyer typed at checkout (the
    // order's own phone and e-mail, the billing or shipping address's phone).
    let customer = {
        let mut found = json
            .get("customer")
            .filter(|c| c.is_object())
            .map(|c| customer(platform, c, &mut notes))
            .unwrap_or_default();
        let checkout_phone = text(json, "phone")
            .or_else(|| json.get("billing_address").and_then(|a| text(a, "phone")))
            .or_else(|| json.get("shipping_address").and_then(|a| text(a, "phone")));
        let (phone, email) = contact(
            checkout_phone.filter(|_| found.phone.is_none()),
            text(json, "email").filter(|_| found.email.is_none()),
            &mut notes,
        );
        found.phone = found.phone.or(phone);
        found.email = found.email.or(email);
        (found.has_contact() || found.id.is_some()).then_some(found)
    };
    Ok(OrderSnapshot {
        id,
        number: text(json, "name")
            .map(str::to_string)
            .or_else(|| id_of(json.get("order_number"))),
        payment,
        customer,
        placed_at: text(json, "processed_at")
            .or_else(|| text(json, "created_at"))
            .map(str::to_string),
        currency: text(json, "currency").map(str::to_string),
        lines,
        discount,
        shipping,
        total,
        refunds,
        refunded_total,
        notes,
    })
}

/// A refund by the money that went back: successful `refund` transactions only, never the
/// line subtotals (which leave out shipping and adjustments, and may list a line twice).
fn refund(json: &Value) -> Result<RefundNote, ReadError> {
    let id = id_of(json.get("id")).ok_or_else(|| ReadError("refund without id".into()))?;
    let mut amount = 0i64;
    for t in json
        .get("transactions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if text(t, "kind") == Some("refund") && text(t, "status") == Some("success") {
            let a = dong_or_zero(t.get("amount"))
                .filter(|a| *a >= 0)
                .ok_or_else(|| {
                    ReadError(format!(
                        "refund {id}: a transaction amount is not an amount"
                    ))
                })?;
            amount = amount
                .checked_add(a)
                .ok_or_else(|| ReadError(format!("refund {id} is too large")))?;
        }
    }
    Ok(RefundNote { id, amount })
}

fn customer(platform: Platform, json: &Value, notes: &mut Vec<String>) -> Customer {
    let (phone, email) = contact(
        text(json, "phone").or_else(|| json.get("default_address").and_then(|a| text(a, "phone"))),
        text(json, "email"),
        notes,
    );
    let (first, last) = (text(json, "first_name"), text(json, "last_name"));
    // Vietnamese stores keep "Họ" (family name) in last_name and write it first.
    let parts = match platform {
        Platform::Shopify => [first, last],
        _ => [last, first],
    };
    let name = parts.into_iter().flatten().collect::<Vec<_>>().join(" ");
    Customer {
        id: id_of(json.get("id")),
        phone,
        email,
        name: (!name.is_empty()).then_some(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An order as Shopify sends it on `orders/paid` (INTERFACES.md §3.3's fields).
    fn shopify_paid() -> Value {
        json!({
            "id": 820982911946154508u64, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
            "name": "#1001", "order_number": 1001, "email": "lan@example.vn", "phone": null,
            "created_at": "2026-11-20T10:00:00+07:00", "processed_at": "2026-11-20T10:00:05+07:00",
            "currency": "VND", "total_price": "85000.00", "current_total_price": "85000.00",
            "subtotal_price": "70000.00", "total_discounts": "0.00",
            "financial_status": "paid", "fulfillment_status": null, "cancelled_at": null, "cancel_reason": null,
            "discount_codes": [],
            "customer": {"id": 115310627314723954u64, "email": "lan@example.vn", "phone": "+84901234567",
                         "first_name": "Lan", "last_name": "Nguyễn", "tags": ""},
            "line_items": [{"id": 9001, "product_id": 1, "variant_id": 2, "sku": "CF-001",
                            "title": "Cà phê sữa", "quantity": 2, "price": "35000.00"}],
            "shipping_lines": [{"price": "15000.00", "title": "Giao hàng"}],
            "refunds": []
        })
    }

    #[test]
    fn a_paid_shopify_order_maps_to_our_order() {
        let Message::Order(o) = read(Platform::Shopify, "orders/paid", &shopify_paid()).unwrap()
        else {
            panic!("an order");
        };
        assert_eq!(o.id, "820982911946154508");
        assert_eq!(o.number.as_deref(), Some("#1001"));
        assert_eq!(o.payment, Payment::Paid);
        assert_eq!((o.total, o.discount, o.shipping), (85_000, 0, 15_000));
        assert_eq!(o.lines[0].unit_price, 35_000);
        let c = o.customer.as_ref().unwrap();
        assert_eq!(c.phone.as_deref(), Some("+84901234567"));
        assert_eq!(c.name.as_deref(), Some("Lan Nguyễn"));
        assert_eq!(c.id.as_deref(), Some("115310627314723954"));
        let input = o.order_input(Platform::Shopify, Some("WEB"), None);
        assert_eq!(input.source, "shopify");
        assert!(input.validate(jiff::Timestamp::now()).is_ok());
    }

    #[test]
    fn states_follow_financial_status_and_cancellation() {
        let mut o = shopify_paid();
        o["financial_status"] = json!("pending");
        let Message::Order(s) = read(Platform::Shopify, "orders/create", &o).unwrap() else {
            panic!()
        };
        assert_eq!(s.payment, Payment::Unpaid);
        o["cancelled_at"] = json!("2026-11-21T08:00:00+07:00");
        let Message::Order(s) = read(Platform::Shopify, "orders/updated", &o).unwrap() else {
            panic!()
        };
        assert_eq!(s.payment, Payment::Cancelled);
    }

    #[test]
    fn refunds_count_successful_refund_transactions_only() {
        let body = json!({"id": 5001, "order_id": 820982911946154508u64,
            "refund_line_items": [
                {"id": 1, "line_item_id": 9001, "quantity": 1, "restock_type": "cancel", "subtotal": 952.38},
                {"id": 2, "line_item_id": 9001, "quantity": 1, "restock_type": "return", "subtotal": 952.38}],
            "transactions": [
                {"id": 1, "kind": "refund", "status": "success", "amount": "35000.00", "currency": "VND"},
                {"id": 2, "kind": "refund", "status": "failure", "amount": "35000.00", "currency": "VND"}],
            "order_adjustments": []});
        let m = read(Platform::Shopify, "refunds/create", &body).unwrap();
        assert_eq!(
            m,
            Message::Refund {
                order_id: "820982911946154508".into(),
                refund: RefundNote {
                    id: "5001".into(),
                    amount: 35_000
                },
            }
        );
    }

    #[test]
    fn a_haravan_order_without_customer_is_a_guest_and_names_are_family_first() {
        let mut o = shopify_paid();
        o["customer"] = Value::Null;
        o["email"] = Value::Null;
        let Message::Order(s) = read(Platform::Haravan, "orders/paid", &o).unwrap() else {
            panic!()
        };
        assert_eq!(s.customer, None);
        assert!(
            s.order_input(Platform::Haravan, None, None)
                .customer
                .is_none()
        );
        let c = customer(
            Platform::Haravan,
            &json!({"first_name": "Văn A", "last_name": "Nguyễn"}),
            &mut vec![],
        );
        assert_eq!(c.name.as_deref(), Some("Nguyễn Văn A"));
    }

    #[test]
    fn a_refunded_status_without_a_list_refunds_what_the_totals_say() {
        let mut o = shopify_paid();
        o["financial_status"] = json!("partially_refunded");
        o["current_total_price"] = json!("50000.00");
        let Message::Order(s) = read(Platform::Sapo, "orders/updated", &o).unwrap() else {
            panic!()
        };
        assert_eq!(s.refunded_total, Some(35_000));
        o["financial_status"] = json!("refunded");
        let Message::Order(s) = read(Platform::Sapo, "orders/updated", &o).unwrap() else {
            panic!()
        };
        assert_eq!(s.refunded_total, Some(85_000));
    }

    #[test]
    fn unknown_topics_are_ignored_and_bad_amounts_are_errors() {
        assert_eq!(
            read(Platform::Haravan, "products/update", &json!({})).unwrap(),
            Message::Ignored {
                topic: "products/update".into()
            }
        );
        let mut o = shopify_paid();
        o["total_price"] = json!("85.000,00");
        assert!(read(Platform::Shopify, "orders/paid", &o).is_err());
    }
}
