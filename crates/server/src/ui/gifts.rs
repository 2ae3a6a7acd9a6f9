//! The gift counter (Quà chờ trao): gift rewards waiting to be handed over, oldest first, each
//! handed over at a store or cancelled with a reason (the points go back to the member), and
//! the latest settled ones.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::App;
use loyalty_app::gifts::GiftRow;
use loyalty_core::records::Page;
use loyalty_core::tenancy::Permission;
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, render};

#[derive(Template)]
#[template(path = "gifts.html")]
struct GiftsPage {
    c: Chrome,
    pending: Vec<GiftRow>,
    handed_over: Vec<GiftRow>,
    cancelled: Vec<GiftRow>,
    /// Store codes and names for the hand-over.
    stores: Vec<(String, String)>,
    can_settle: bool,
}

impl GiftsPage {
    /// The member's name, else their phone as people write it.
    fn who(&self, g: &GiftRow) -> String {
        g.member_name.clone().unwrap_or_else(|| {
            let phone = g
                .member_phone
                .as_deref()
                .and_then(|p| loyalty_core::phone::Phone::parse(p).ok());
            self.c.phone(&phone)
        })
    }
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let ctx = &staff.session.ctx;
    let lang = staff.lang;
    let app_error = |e| UiError::App(lang, e);
    let pending = app.gifts(ctx, "pending").await.map_err(app_error)?;
    let mut handed_over = app.gifts(ctx, "handed_over").await.map_err(app_error)?;
    let mut cancelled = app.gifts(ctx, "cancelled").await.map_err(app_error)?;
    handed_over.truncate(20);
    cancelled.truncate(20);
    let all = Page {
        after: None,
        limit: 500,
    };
    let stores = app
        .stores(ctx, all)
        .await
        .map_err(app_error)?
        .items
        .into_iter()
        .filter(|s| s.active)
        .map(|s| (s.code, s.name))
        .collect();
    let page = GiftsPage {
        c: Chrome::for_staff(&app, &staff, "gifts.title", "rewards", "/rewards/gifts").await,
        pending,
        handed_over,
        cancelled,
        stores,
        can_settle: staff.may(Permission::EditMembers),
    };
    Ok(render(&page).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SettleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    store: String,
    #[serde(default)]
    reason: String,
}

pub async fn hand_over(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<SettleForm>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    app.hand_over_gift(&staff.session.ctx, id, &form.store)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to("/rewards/gifts").into_response())
}

pub async fn cancel(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<SettleForm>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    app.cancel_gift(&staff.session.ctx, id, &form.reason)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to("/rewards/gifts").into_response())
}
