//! Program settings: earning, pending days, expiry, the value of a point, activation and the
//! tier policy. The form edits the same document as `PUT /api/v1/program`, and the program's
//! own validation names the fields (`redeem.point_value`), which are the inputs' names here.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use loyalty_app::{App, AppError};
use loyalty_core::program::Program;
use loyalty_core::tenancy::Permission;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, error_for, field_errors, parse_whole, render};

#[derive(Debug, Default, Deserialize)]
pub struct ProgramForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "earn.spend_per_point")]
    spend_per_point: String,
    #[serde(default, rename = "earn.min_order")]
    min_order: String,
    #[serde(default, rename = "earn.pending_days")]
    pending_days: String,
    #[serde(default, rename = "earn.base")]
    base: String,
    #[serde(default, rename = "expiry.policy")]
    expiry_policy: String,
    #[serde(default, rename = "expiry.months")]
    expiry_months: String,
    #[serde(default, rename = "redeem.point_value")]
    point_value: String,
    #[serde(default, rename = "redeem.max_invoice_percent")]
    max_invoice_percent: String,
    #[serde(default, rename = "activation.auto_on_first_paid_order")]
    auto_activate: Option<String>,
    #[serde(default, rename = "tiers.metric")]
    tier_metric: String,
    #[serde(default, rename = "tiers.window.kind")]
    window_kind: String,
    #[serde(default, rename = "tiers.window.months")]
    window_months: String,
    #[serde(default, rename = "tiers.downgrade")]
    downgrade: String,
    #[serde(default, rename = "tiers.review_every_months")]
    review_every_months: String,
    #[serde(default, rename = "tiers.reset_on_review")]
    reset_on_review: Option<String>,
}

/// The enums' names as the API writes them (`months_after_earn`), for the selects.
fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn parse_choice<T: DeserializeOwned>(
    field: &str,
    text: &str,
    errors: &mut Vec<(String, String)>,
) -> Option<T> {
    match serde_json::from_value(serde_json::Value::String(text.to_string())) {
        Ok(value) => Some(value),
        Err(_) => {
            errors.push((field.into(), format!("{text:?} is not one of the choices")));
            None
        }
    }
}

impl ProgramForm {
    fn from_program(p: &Program) -> ProgramForm {
        let number = |n: i64| n.to_string();
        ProgramForm {
            csrf: String::new(),
            spend_per_point: number(p.earn.spend_per_point),
            min_order: number(p.earn.min_order),
            pending_days: number(p.earn.pending_days),
            base: name_of(&p.earn.base),
            expiry_policy: name_of(&p.expiry.policy),
            expiry_months: p.expiry.months.map(number).unwrap_or_default(),
            point_value: number(p.redeem.point_value),
            max_invoice_percent: number(p.redeem.max_invoice_percent),
            auto_activate: p.activation.auto_on_first_paid_order.then(|| "on".into()),
            tier_metric: name_of(&p.tiers.metric),
            window_kind: name_of(&p.tiers.window.kind),
            window_months: p.tiers.window.months.map(number).unwrap_or_default(),
            downgrade: name_of(&p.tiers.downgrade),
            review_every_months: number(p.tiers.review_every_months),
            reset_on_review: p.tiers.reset_on_review.then(|| "on".into()),
        }
    }

    /// The program with this form's values over `current`, or the fields that could not be
    /// read. (Rules between fields are the program's own `validate`.)
    fn apply(
        &self,
        current: &Program,
        lang: super::Lang,
    ) -> Result<Program, Vec<(String, String)>> {
        let mut e = Vec::new();
        let mut p = current.clone();
        let whole = |field: &str, text: &str, e: &mut Vec<(String, String)>| {
            let n = parse_whole(field, text, e, lang);
            if n.is_none() && text.trim().is_empty() {
                e.push((
                    field.into(),
                    super::i18n::text(lang, "form.required").into(),
                ));
            }
            n
        };
        if let Some(n) = whole("earn.spend_per_point", &self.spend_per_point, &mut e) {
            p.earn.spend_per_point = n;
        }
        if let Some(n) = whole("earn.min_order", &self.min_order, &mut e) {
            p.earn.min_order = n;
        }
        if let Some(n) = whole("earn.pending_days", &self.pending_days, &mut e) {
            p.earn.pending_days = n;
        }
        if let Some(base) = parse_choice("earn.base", &self.base, &mut e) {
            p.earn.base = base;
        }
        if let Some(policy) = parse_choice("expiry.policy", &self.expiry_policy, &mut e) {
            p.expiry.policy = policy;
        }
        p.expiry.months = parse_whole("expiry.months", &self.expiry_months, &mut e, lang);
        if let Some(n) = whole("redeem.point_value", &self.point_value, &mut e) {
            p.redeem.point_value = n;
        }
        if let Some(n) = whole(
            "redeem.max_invoice_percent",
            &self.max_invoice_percent,
            &mut e,
        ) {
            p.redeem.max_invoice_percent = n;
        }
        p.activation.auto_on_first_paid_order = self.auto_activate.is_some();
        if let Some(metric) = parse_choice("tiers.metric", &self.tier_metric, &mut e) {
            p.tiers.metric = metric;
        }
        if let Some(kind) = parse_choice("tiers.window.kind", &self.window_kind, &mut e) {
            p.tiers.window.kind = kind;
        }
        p.tiers.window.months =
            parse_whole("tiers.window.months", &self.window_months, &mut e, lang);
        if let Some(downgrade) = parse_choice("tiers.downgrade", &self.downgrade, &mut e) {
            p.tiers.downgrade = downgrade;
        }
        if let Some(n) = whole(
            "tiers.review_every_months",
            &self.review_every_months,
            &mut e,
        ) {
            p.tiers.review_every_months = n;
        }
        p.tiers.reset_on_review = self.reset_on_review.is_some();
        if e.is_empty() { Ok(p) } else { Err(e) }
    }
}

#[derive(Template)]
#[template(path = "program.html")]
struct ProgramPage {
    c: Chrome,
    form: ProgramForm,
    errors: Vec<(String, String)>,
    saved: bool,
    can_edit: bool,
}

impl ProgramPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }
}

async fn page(
    app: &App,
    staff: &Staff,
    form: Option<ProgramForm>,
    errors: Vec<(String, String)>,
    saved: bool,
) -> UiResult {
    let lang = staff.lang;
    let info = app
        .tenant(&staff.session.ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?;
    let status = super::form_status(&errors);
    let page = ProgramPage {
        c: Chrome::for_staff(app, staff, "program.title", "program", "/program").await,
        form: form.unwrap_or_else(|| ProgramForm::from_program(&info.program)),
        errors,
        saved,
        can_edit: staff.may(Permission::EditProgram),
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn show(
    State(app): State<App>,
    staff: Staff,
    axum::extract::Query(q): axum::extract::Query<Saved>,
) -> UiResult {
    staff.require(Permission::ViewReports)?;
    page(&app, &staff, None, vec![], q.saved.is_some()).await
}

pub async fn save(State(app): State<App>, staff: Staff, Form(form): Form<ProgramForm>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let current = app
        .tenant(ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?
        .program
        .clone();
    let program = match form.apply(&current, lang) {
        Ok(program) => program,
        Err(errors) => return page(&app, &staff, Some(form), errors, false).await,
    };
    match app.set_program(ctx, program).await {
        Ok(_) => Ok(Redirect::to("/program?saved=1").into_response()),
        Err(error @ AppError::Invalid(_)) => {
            let errors = field_errors(&error, staff.lang);
            page(&app, &staff, Some(form), errors, false).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}
