//! The admin web UI: server-rendered pages (askama templates compiled into the binary) for the
//! people who run the program. Each handler is thin like the API's: check the session and the
//! role, call one use-case of `App`, render. Vietnamese by default, English by a switch.

mod access;
mod account;
mod activity;
mod automation_editor;
mod automations;
mod campaigns;
mod charts;
mod condition_vocabulary;
mod dashboard;
mod format;
mod gifts;
pub(crate) mod i18n;
mod imports;
mod integrations;
mod member_block;
mod member_merge;
pub(crate) mod members;
mod message_form;
mod orders;
mod products;
mod program;
mod referrals;
mod rewards;
mod rules;
mod segments;
pub(crate) mod session;
mod staff;
mod stores;
mod tiers;
mod vouchers;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use loyalty_app::{App, AppError};
use loyalty_core::tenancy::Permission;

pub use i18n::Lang;
use session::Staff;

/// The UI's routes, mounted beside the API.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(access::home))
        .route("/setup", get(access::setup_form).post(access::setup))
        .route("/login", get(access::login_form).post(access::login))
        .route("/logout", post(access::logout))
        .route("/lang/{code}", get(access::switch_lang))
        .route("/dashboard", get(dashboard::show))
        .route("/members", get(members::list))
        .route("/members/new", get(members::new_form).post(members::create))
        .route("/members/{id}", get(members::profile))
        .route("/members/{id}/points", post(members::adjust_points))
        .route(
            "/members/{id}/edit",
            get(members::edit_form).post(members::edit),
        )
        .route("/members/{id}/activate", post(members::activate))
        .route("/members/{id}/block", post(member_block::block))
        .route("/members/{id}/unblock", post(member_block::unblock))
        .route("/members/{id}/merge", post(member_merge::merge))
        .route("/members/duplicates", get(member_merge::list))
        .route("/members/{id}/tier", post(members::override_tier))
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::show))
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/orders/{id}/refunds", post(orders::refund))
        .route("/automations", get(automations::list))
        .route("/automations/presets", post(automations::create_preset))
        .route("/automations/{id}/switch", post(automations::switch))
        .route(
            "/automations/new",
            get(automation_editor::new_form).post(automation_editor::create),
        )
        .route(
            "/automations/{id}",
            get(automation_editor::show).post(automation_editor::update),
        )
        .route("/campaigns", get(campaigns::list))
        .route(
            "/campaigns/new",
            get(campaigns::new_form).post(campaigns::create),
        )
        .route("/campaigns/channels", post(campaigns::create_channel))
        .route(
            "/campaigns/channels/{id}/test",
            post(campaigns::test_channel),
        )
        .route("/campaigns/{id}", get(campaigns::show))
        .route("/campaigns/{id}/test", post(campaigns::test))
        .route("/campaigns/{id}/export.csv", get(campaigns::export))
        .route("/campaigns/{id}/launch", post(campaigns::launch))
        .route("/campaigns/{id}/cancel", post(campaigns::cancel))
        .route("/integrations", get(integrations::show))
        .route("/integrations/webhooks", post(integrations::create_webhook))
        .route("/integrations/webhooks/{id}", get(integrations::webhook))
        .route(
            "/integrations/webhooks/{id}/test",
            post(integrations::test_webhook),
        )
        .route(
            "/integrations/webhooks/{id}/toggle",
            post(integrations::toggle_webhook),
        )
        .route(
            "/integrations/webhooks/{id}/deliveries/{delivery}/replay",
            post(integrations::replay),
        )
        .route(
            "/integrations/connections",
            post(integrations::create_connection),
        )
        .route(
            "/integrations/connections/{id}",
            get(integrations::connection),
        )
        .route(
            "/integrations/connections/{id}/toggle",
            post(integrations::toggle_connection),
        )
        .route(
            "/integrations/connections/{id}/delete",
            post(integrations::delete_connection),
        )
        .route("/program", get(program::show).post(program::save))
        .route("/referrals", get(referrals::show).post(referrals::save))
        .route("/rules", get(rules::list))
        .route("/rules/new", get(rules::new_form).post(rules::create))
        .route("/rules/{id}", post(rules::update))
        .route("/rules/{id}/edit", get(rules::edit_form))
        .route("/rules/{id}/toggle", post(rules::toggle))
        .route("/tiers", get(tiers::list).post(tiers::create))
        .route("/tiers/{id}", post(tiers::update))
        .route("/tiers/{id}/edit", get(tiers::edit_form))
        .route("/tiers/{id}/delete", post(tiers::delete))
        .route("/rewards", get(rewards::list).post(rewards::create))
        .route("/rewards/{id}", post(rewards::update))
        .route("/rewards/gifts", get(gifts::list))
        .route("/rewards/gifts/{id}/hand-over", post(gifts::hand_over))
        .route("/rewards/gifts/{id}/cancel", post(gifts::cancel))
        .route("/members/{id}/redemptions", post(rewards::redeem))
        .route("/stores", get(stores::list).post(stores::create))
        .route("/stores/{id}", post(stores::update))
        .route("/brands/{id}", post(stores::update_brand))
        .route("/products", get(products::list))
        .route("/products/edit", post(products::update))
        .route("/vouchers", get(vouchers::list))
        .route(
            "/vouchers/new",
            get(vouchers::new_form).post(vouchers::create),
        )
        .route("/vouchers/{id}", get(vouchers::show))
        .route(
            "/vouchers/{id}/edit",
            get(vouchers::edit_form).post(vouchers::edit),
        )
        .route("/vouchers/{id}/codes", post(vouchers::generate))
        .route("/vouchers/{id}/toggle", post(vouchers::toggle))
        .route("/segments", get(segments::list).post(segments::save))
        .route("/segments/new", get(segments::builder))
        .route("/segments/count", post(segments::count))
        .route("/segments/{id}", get(segments::show).post(segments::update))
        .route("/segments/{id}/edit", get(segments::edit_form))
        .route("/segments/{id}/export.csv", get(segments::export))
        .route("/staff", get(staff::show).post(staff::create_staff))
        .route("/staff/{id}", post(staff::update_staff))
        .route("/staff/{id}/password", post(staff::reset_password))
        .route(
            "/account/password",
            get(account::password_form).post(account::change_password),
        )
        .route("/staff/keys", post(staff::create_key))
        .route("/staff/keys/{id}/revoke", post(staff::revoke_key))
        .route("/activity", get(activity::list))
        .route(
            "/imports",
            get(imports::list)
                .post(imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::api::imports::MAX_IMPORT_BYTES,
                )),
        )
        .route("/imports/{id}", get(imports::show))
        .route("/static/{name}", get(asset))
}

// ---- static assets, embedded and cache-busted by a hash of their content ----

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

fn versioned(name: &str, content: &str) -> String {
    let mut hasher = DefaultHasher::new();
    content.hash(&mut hasher);
    format!("/static/{name}?v={:x}", hasher.finish())
}

static CSS_URL: LazyLock<String> = LazyLock::new(|| versioned("app.css", CSS));
static JS_URL: LazyLock<String> = LazyLock::new(|| versioned("app.js", JS));

async fn asset(Path(name): Path<String>) -> Response {
    let (content, kind) = match name.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // The URL changes with the content, so the browser may keep it for good.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        content,
    )
        .into_response()
}

// ---- what every page shows around its content ----

/// The header, navigation and helpers every template uses as `c`.
pub struct Chrome {
    pub lang: Lang,
    pub title: String,
    /// The page's path and query, so the language switch comes back to it.
    pub path: String,
    pub user: Option<String>,
    pub role: String,
    pub csrf: String,
    pub zone: TimeZone,
    pub nav: &'static str,
    pub can_reports: bool,
    pub can_program: bool,
    pub can_segments: bool,
    pub can_staff: bool,
    pub can_activity: bool,
    pub css_url: &'static str,
    pub js_url: &'static str,
}

impl Chrome {
    /// For pages shown before signing in.
    pub fn anonymous(lang: Lang, title_key: &str, csrf: String) -> Chrome {
        Chrome {
            lang,
            title: i18n::text(lang, title_key).to_string(),
            path: "/".into(),
            user: None,
            role: String::new(),
            csrf,
            zone: TimeZone::get(loyalty_core::tenancy::DEFAULT_TIMEZONE).unwrap_or(TimeZone::UTC),
            nav: "",
            can_reports: false,
            can_program: false,
            can_segments: false,
            can_staff: false,
            can_activity: false,
            css_url: CSS_URL.as_str(),
            js_url: JS_URL.as_str(),
        }
    }

    pub async fn for_staff(
        app: &App,
        staff: &Staff,
        title_key: &str,
        nav: &'static str,
        path: &str,
    ) -> Chrome {
        let zone = match app.tenant(&staff.session.ctx).await {
            Ok(info) => info.zone.clone(),
            Err(_) => TimeZone::UTC,
        };
        let user = &staff.session.user;
        Chrome {
            lang: staff.lang,
            title: i18n::text(staff.lang, title_key).to_string(),
            path: path.to_string(),
            user: Some(user.name.clone().unwrap_or_else(|| user.email.clone())),
            role: i18n::text(staff.lang, &format!("role.{}", user.role.as_str())).to_string(),
            csrf: staff.session.csrf_token.clone(),
            zone,
            nav,
            can_reports: staff.may(Permission::ViewReports),
            can_program: staff.may(Permission::EditProgram),
            can_segments: staff.may(Permission::ViewMembers),
            can_staff: staff.may(Permission::ManageStaff),
            can_activity: staff.may(Permission::ViewActivity),
            css_url: CSS_URL.as_str(),
            js_url: JS_URL.as_str(),
        }
    }

    /// An order's source by its name where the UI has one (`pos` → "Máy POS"), else as sent.
    pub fn source(&self, source: &str) -> String {
        i18n::lookup(self.lang, &format!("source.{source}"))
            .unwrap_or(source)
            .to_string()
    }

    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        i18n::text(self.lang, key)
    }

    pub fn money(&self, dong: &i64) -> String {
        format::money(self.lang, *dong)
    }

    pub fn num(&self, n: &i64) -> String {
        format::number(self.lang, *n)
    }

    pub fn date(&self, at: &Timestamp) -> String {
        format::date(&self.zone, *at)
    }

    /// A calendar day as dates are written here (`31/12/2026`).
    pub fn day(&self, day: &jiff::civil::Date) -> String {
        day.strftime("%d/%m/%Y").to_string()
    }

    pub fn date_opt(&self, at: &Option<Timestamp>) -> String {
        at.map(|at| format::date(&self.zone, at))
            .unwrap_or_default()
    }

    pub fn date_time(&self, at: &Timestamp) -> String {
        format::date_time(&self.zone, *at)
    }

    /// A Vietnamese number as people write it (`0901 234 567` style: national form).
    pub fn phone(&self, phone: &Option<loyalty_core::phone::Phone>) -> String {
        phone
            .as_ref()
            .map(|p| p.national().unwrap_or_else(|| p.as_str().to_string()))
            .unwrap_or_default()
    }

    pub fn other_lang(&self) -> &'static str {
        self.lang.other().code()
    }

    pub fn lang_switch_url(&self) -> String {
        format!(
            "/lang/{}?next={}",
            self.lang.other().code(),
            form_urlencoded::byte_serialize(self.path.as_bytes()).collect::<String>()
        )
    }
}

/// Renders a page, or the error page if the template fails (it cannot, short of a bug).
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "a template failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

// ---- errors as pages ----

#[derive(Debug)]
pub enum UiError {
    App(Lang, AppError),
    Forbidden(Lang),
    Csrf(Lang),
    NotFound(Lang),
}

impl From<(Lang, AppError)> for UiError {
    fn from((lang, error): (Lang, AppError)) -> Self {
        UiError::App(lang, error)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    heading: String,
    detail: String,
}

pub fn error_page(lang: Lang, error: UiError) -> Response {
    let (status, key) = match &error {
        UiError::Forbidden(_) => (StatusCode::FORBIDDEN, "error.forbidden"),
        UiError::Csrf(_) => (StatusCode::FORBIDDEN, "error.csrf"),
        UiError::NotFound(_) => (StatusCode::NOT_FOUND, "error.not_found"),
        UiError::App(_, AppError::NotFound { .. }) => (StatusCode::NOT_FOUND, "error.not_found"),
        UiError::App(_, AppError::Forbidden(_)) => (StatusCode::FORBIDDEN, "error.forbidden"),
        UiError::App(_, AppError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "error.unavailable")
        }
        UiError::App(_, AppError::Busy { .. }) => (StatusCode::SERVICE_UNAVAILABLE, "error.busy"),
        UiError::App(_, AppError::Throttled { .. } | AppError::RateLimited { .. }) => {
            (StatusCode::TOO_MANY_REQUESTS, "error.throttled")
        }
        UiError::App(_, AppError::Internal(e)) => {
            tracing::error!(error = %e, "admin page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
        }
        UiError::App(_, _) => (StatusCode::UNPROCESSABLE_ENTITY, "error.invalid"),
    };
    // A domain refusal is said in the page's language by its code (`rule.{code}`).
    let detail = match &error {
        UiError::App(
            _,
            e @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::Rejected { .. }),
        ) => said(e, lang),
        _ => String::new(),
    };
    let page = ErrorPage {
        c: Chrome::anonymous(lang, key, String::new()),
        heading: i18n::text(lang, key).to_string(),
        detail,
    };
    (status, render(&page)).into_response()
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let lang = match &self {
            UiError::App(l, _)
            | UiError::Forbidden(l)
            | UiError::Csrf(l)
            | UiError::NotFound(l) => *l,
        };
        error_page(lang, self)
    }
}

pub type UiResult = Result<Response, UiError>;

/// The page for an unknown path that a browser asked for.
pub fn not_found(headers: &HeaderMap) -> Response {
    error_page(
        session::lang(headers),
        UiError::NotFound(session::lang(headers)),
    )
}

/// Field errors of a rejected form, as (field, message) for the template: the rule's text in
/// the page's language when the catalogue has its code (`rule.<code>`), else the message.
pub fn field_errors(error: &AppError, lang: Lang) -> Vec<(String, String)> {
    error
        .field_errors()
        .iter()
        .map(|f| {
            let said = i18n::lookup(lang, &format!("rule.{}", f.code)).map(|text| match f.bounds {
                Some(b) => text
                    .replace("{min}", &format::number(lang, b.min))
                    .replace("{max}", &format::number(lang, b.max)),
                None => text.to_string(),
            });
            (f.field.clone(), said.unwrap_or_else(|| f.message.clone()))
        })
        .chain(match error {
            AppError::Conflict {
                field,
                message,
                code,
            } => {
                let said = i18n::lookup(lang, &format!("rule.{code}")).unwrap_or(message);
                vec![(field.clone().unwrap_or_default(), said.to_string())]
            }
            AppError::Rejected {
                field,
                message,
                code,
            } => {
                let said = i18n::lookup(lang, &format!("rule.{code}")).unwrap_or(message);
                vec![(field.clone(), said.to_string())]
            }
            _ => vec![],
        })
        .collect()
}

/// A refusal as one sentence in the page's language: each rule broken, by its code.
pub fn said(error: &AppError, lang: Lang) -> String {
    let parts: Vec<String> = field_errors(error, lang)
        .into_iter()
        .map(|(_, said)| said)
        .collect();
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join("; ")
    }
}

/// A whole number typed by a person: spaces and thousands separators (`1.000.000`,
/// `1,000,000`) are allowed. Blank is `None`; anything else unreadable adds an error.
pub fn parse_whole(
    field: &str,
    text: &str,
    errors: &mut Vec<(String, String)>,
    lang: Lang,
) -> Option<i64> {
    if text.trim().is_empty() {
        return None;
    }
    match loyalty_core::text::grouped_whole(text) {
        Some(n) => Some(n),
        None => {
            errors.push((
                field.into(),
                i18n::text(lang, "form.not_a_whole_number").into(),
            ));
            None
        }
    }
}

/// A form that carries nothing but its CSRF token (buttons: sign out, revoke, delete…).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// 200 for a form shown fresh, 422 for one shown again with its errors.
pub fn form_status(errors: &[(String, String)]) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// A refusal's field errors as one line (`field: message; …`), for a message at the top of
/// a page whose form has no field of that name.
pub fn messages(error: &AppError, lang: Lang) -> String {
    field_errors(error, lang)
        .into_iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every row of a short list (staff, keys, stores, programs): one page big enough for any shop.
pub fn whole_list() -> loyalty_core::records::Page {
    loyalty_core::records::Page {
        after: None,
        limit: 500,
    }
}

/// The message for one field, if the form had an error there.
pub fn error_for<'a>(errors: &'a [(String, String)], field: &str) -> &'a str {
    errors
        .iter()
        .find(|(f, _)| f == field || f.starts_with(&format!("{field}.")))
        .map(|(_, m)| m.as_str())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use loyalty_core::Invalid;
    use loyalty_core::phone::Phone;

    #[test]
    fn a_field_error_is_said_in_the_pages_language_by_its_code() {
        let mut errors = Invalid::default();
        errors.check("phone", Phone::parse("0123"));
        errors.push_coded(
            "note",
            "note.untranslated",
            "an English sentence whose code has no translation",
        );
        let error = AppError::Invalid(errors);
        assert_eq!(
            field_errors(&error, Lang::Vi),
            [
                (
                    "phone".to_string(),
                    "không phải số điện thoại Việt Nam: cần 10 chữ số, ví dụ 0901234567"
                        .to_string()
                ),
                (
                    "note".to_string(),
                    "an English sentence whose code has no translation".to_string()
                ),
            ]
        );
        assert_eq!(
            field_errors(&error, Lang::En)[0].1,
            "not a Vietnamese phone number: expected 10 digits such as 0901234567"
        );
    }

    #[test]
    fn a_size_rule_names_its_bounds_in_the_pages_number_format() {
        let mut errors = Invalid::default();
        loyalty_core::limits::within(&mut errors, "rate_limit_per_s", 0, 1, 1_000_000);
        let error = AppError::Invalid(errors);
        assert_eq!(
            field_errors(&error, Lang::Vi)[0].1,
            "phải từ 1 đến 1.000.000"
        );
        assert_eq!(
            field_errors(&error, Lang::En)[0].1,
            "must be from 1 to 1,000,000"
        );
    }
}
