//! Orders (đơn hàng): the list with filters, an order's page with its lines, points, vouchers
//! and refunds, and cancelling or refunding it — each asked to be confirmed.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use jiff::Timestamp;
use loyalty_app::{App, AppError};
use loyalty_core::id::OrderId;
use loyalty_core::order::OrderStatus;
use loyalty_core::order_view::OrderView;
use loyalty_core::records::{OrderFilter, OrderRow, Page, Redemption};
use loyalty_core::tenancy::{Permission, Store};
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, error_for, field_errors, form_status, parse_whole, render};

const PAGE_SIZE: i64 = 50;

pub fn status_key(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Paid => "order.paid",
        OrderStatus::Cancelled => "order.cancelled",
        OrderStatus::PartiallyRefunded => "order.partially_refunded",
        OrderStatus::Refunded => "order.refunded",
    }
}

#[derive(Template)]
#[template(path = "orders.html")]
struct ListPage {
    c: Chrome,
    query: ListQuery,
    stores: Vec<Store>,
    statuses: Vec<(&'static str, &'static str)>,
    sources: Vec<&'static str>,
    orders: Vec<OrderRow>,
    next: Option<String>,
    errors: Vec<(String, String)>,
}

impl ListPage {
    fn status_key(&self, status: &OrderStatus) -> &'static str {
        status_key(*status)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    store: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    status: String,
    after: Option<String>,
}

/// A date filter's start in the shop's time zone; an error for text that is not a date.
fn date_filter(
    zone: &jiff::tz::TimeZone,
    field: &str,
    text: &str,
    days_later: i64,
    errors: &mut Vec<(String, String)>,
    lang: super::Lang,
) -> Option<Timestamp> {
    if text.trim().is_empty() {
        return None;
    }
    let start = super::format::day_start(text, zone, days_later);
    if start.is_none() {
        errors.push((
            field.into(),
            super::i18n::text(lang, "orders.bad_date").into(),
        ));
    }
    start
}

pub async fn list(
    State(app): State<App>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let zone = app.tenant(ctx).await.map_err(fail)?.zone.clone();
    let mut errors = Vec::new();
    let from = date_filter(&zone, "from", &query.from, 0, &mut errors, lang);
    // "To" a day includes that day.
    let to = date_filter(&zone, "to", &query.to, 1, &mut errors, lang);
    let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = OrderFilter {
        source: given(&query.source),
        store: given(&query.store),
        status: OrderStatus::parse(&query.status),
        from,
        to,
        newest_first: true,
        ..OrderFilter::default()
    };
    let page = Page {
        after: query.after.clone().filter(|a| !a.is_empty()),
        limit: PAGE_SIZE,
    };
    let found = app.orders(ctx, filter, page).await.map_err(fail)?;
    let stores = app
        .stores(ctx, super::whole_list())
        .await
        .map_err(fail)?
        .items;
    let path = format!(
        "/orders?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("from", &query.from)
            .append_pair("to", &query.to)
            .append_pair("store", &query.store)
            .append_pair("source", &query.source)
            .append_pair("status", &query.status)
            .finish()
    );
    let statuses = OrderStatus::ALL
        .iter()
        .map(|s| (s.as_str(), status_key(*s)))
        .collect();
    let status = form_status(&errors);
    let page = ListPage {
        c: Chrome::for_staff(&app, &staff, "orders.title", "orders", &path).await,
        next: found.next_after.map(|after| {
            format!(
                "{path}&after={}",
                form_urlencoded::byte_serialize(after.as_bytes()).collect::<String>()
            )
        }),
        orders: found.items,
        query,
        stores,
        statuses,
        sources: vec![
            "pos", "web", "import", "haravan", "shopify", "sapo", "kiotviet",
        ],
        errors,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    c: Chrome,
    order: OrderView,
    vouchers: Vec<Redemption>,
    can_change: bool,
    refundable: i64,
    /// A fresh id for the refund form: sending the form twice records one refund.
    refund_id: String,
    amount: String,
    errors: Vec<(String, String)>,
}

impl OrderPage {
    fn status_key(&self) -> &'static str {
        status_key(self.order.status)
    }

    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    fn rule_name(&self, rule: &str) -> String {
        match rule {
            "base" => super::i18n::text(self.c.lang, "order.rule_base").to_string(),
            "tier" => super::i18n::text(self.c.lang, "order.rule_tier").to_string(),
            other => other.to_string(),
        }
    }
}

async fn order_page(
    app: &App,
    staff: &Staff,
    id: OrderId,
    amount: String,
    errors: Vec<(String, String)>,
) -> UiResult {
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let order = app.order(ctx, id.clone()).await.map_err(fail)?;
    let vouchers = app.order_vouchers(ctx, id).await.map_err(fail)?;
    let path = format!("/orders/{}", order.id);
    let status = form_status(&errors);
    let page = OrderPage {
        c: Chrome::for_staff(app, staff, "order.title", "orders", &path).await,
        can_change: staff.may(Permission::EditMembers) && order.status != OrderStatus::Cancelled,
        refundable: order.total - order.refunded_amount,
        refund_id: loyalty_core::id::new_id("ui"),
        order,
        vouchers,
        amount,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn show(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    order_page(
        &app,
        &staff,
        OrderId::from(id.as_str()),
        String::new(),
        vec![],
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// The "I confirm" box: a cancel or refund is not undone.
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    refund_id: String,
}

fn unconfirmed(staff: &Staff) -> Vec<(String, String)> {
    vec![(
        "confirm".into(),
        super::i18n::text(staff.lang, "order.confirm_needed").into(),
    )]
}

pub async fn cancel(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<ChangeForm>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    let id = OrderId::from(id.as_str());
    if form.confirm != "yes" {
        return order_page(&app, &staff, id, String::new(), unconfirmed(&staff)).await;
    }
    match app.cancel_order(&staff.session.ctx, id.clone()).await {
        Ok(_) => Ok(Redirect::to(&format!("/orders/{id}")).into_response()),
        Err(error @ AppError::Conflict { .. }) => {
            let errors = field_errors(&error, staff.lang);
            order_page(&app, &staff, id, String::new(), errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

pub async fn refund(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<ChangeForm>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    let id = OrderId::from(id.as_str());
    let mut errors = Vec::new();
    let amount = parse_whole("amount", &form.amount, &mut errors, staff.lang);
    if form.confirm != "yes" {
        errors.extend(unconfirmed(&staff));
    }
    let Some(amount) = amount.filter(|_| errors.is_empty()) else {
        if errors.is_empty() {
            errors.push((
                "amount".into(),
                super::i18n::text(staff.lang, "order.amount_needed").into(),
            ));
        }
        return order_page(&app, &staff, id, form.amount, errors).await;
    };
    match app
        .refund_order(
            &staff.session.ctx,
            id.clone(),
            form.refund_id.clone(),
            amount,
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/orders/{id}")).into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            order_page(&app, &staff, id, form.amount, errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}
