//! Voucher programs: the list, a new program, and a program's page with its report and the
//! generation of unique codes, downloaded as CSV.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use jiff::Timestamp;
use jiff::civil::Date;
use loyalty_app::vouchers::{ProgramInput, ProgramReport};
use loyalty_app::{App, AppError};
use loyalty_core::id::ProgramId;
use loyalty_core::tenancy::Permission;
use loyalty_core::voucher::{CodeKind, Limits, Scope, VoucherProgram, VoucherType};
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, error_for, field_errors, parse_whole, render};

fn kind_key(kind: VoucherType) -> &'static str {
    match kind {
        VoucherType::Percent => "vouchers.type_percent",
        VoucherType::Fixed => "vouchers.type_fixed",
        VoucherType::FreeShipping => "vouchers.type_free_shipping",
        VoucherType::FreeItem => "vouchers.type_free_item",
    }
}

#[derive(Template)]
#[template(path = "vouchers.html")]
struct ListPage {
    c: Chrome,
    programs: Vec<VoucherProgram>,
    can_edit: bool,
}

impl ListPage {
    fn kind_key(&self, p: &VoucherProgram) -> &'static str {
        kind_key(p.kind)
    }
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::ViewReports)?;
    let all = super::whole_list();
    let programs = app
        .voucher_programs(&staff.session.ctx, all)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?
        .items;
    let page = ListPage {
        c: Chrome::for_staff(&app, &staff, "vouchers.title", "vouchers", "/vouchers").await,
        programs,
        can_edit: staff.may(Permission::EditProgram),
    };
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
pub struct ProgramForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    max_discount: String,
    #[serde(default)]
    min_order: String,
    #[serde(default)]
    sku: String,
    /// `YYYY-MM-DD`, from the start of that day in the tenant's zone.
    #[serde(default)]
    valid_from: String,
    /// `YYYY-MM-DD`, to the end of that day.
    #[serde(default)]
    valid_until: String,
    #[serde(default)]
    code_kind: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    total_uses: String,
    #[serde(default)]
    uses_per_member: String,
    stackable: Option<String>,
    /// The scope, each a list separated by commas (empty: any).
    #[serde(default)]
    scope_skus: String,
    #[serde(default)]
    scope_categories: String,
    #[serde(default)]
    scope_stores: String,
    #[serde(default)]
    scope_brands: String,
    #[serde(default)]
    scope_channels: String,
}

/// A list typed with commas: trimmed, blanks dropped.
fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl ProgramForm {
    /// The form showing a saved program (dates as local days; the last day included).
    fn from_program(p: &VoucherProgram, zone: &jiff::tz::TimeZone) -> ProgramForm {
        let local = |at: Timestamp| at.to_zoned_datetime(zone.clone()).date().to_string();
        let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        ProgramForm {
            csrf: String::new(),
            name: p.name.clone(),
            kind: kind_name(p.kind).into(),
            value: p.value.to_string(),
            max_discount: number(p.max_discount),
            min_order: p.min_order.to_string(),
            sku: p.free_item_sku.clone().unwrap_or_default(),
            valid_from: p.valid_from.map(local).unwrap_or_default(),
            valid_until: p.valid_until.map(local).unwrap_or_default(),
            code_kind: if p.shared_code.is_some() {
                "shared"
            } else {
                "unique"
            }
            .into(),
            code: p.shared_code.clone().unwrap_or_default(),
            prefix: p.code_prefix.clone(),
            total_uses: number(p.limits.total_uses),
            uses_per_member: number(p.limits.uses_per_member),
            stackable: p.stackable.then(|| "on".into()),
            scope_skus: p.scope.skus.join(", "),
            scope_categories: p.scope.categories.join(", "),
            scope_stores: p.scope.stores.join(", "),
            scope_brands: p.scope.brands.join(", "),
            scope_channels: p.scope.channels.join(", "),
        }
    }

    /// The program input this form gives (code kind and shared code only when `creating`),
    /// or the fields it could not read.
    fn input(
        &self,
        zone: &jiff::tz::TimeZone,
        lang: super::Lang,
        creating: bool,
    ) -> Result<ProgramInput, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let kind = match self.kind.as_str() {
            "fixed" => VoucherType::Fixed,
            "free_shipping" => VoucherType::FreeShipping,
            "free_item" => VoucherType::FreeItem,
            _ => VoucherType::Percent,
        };
        let code_kind = if self.code_kind == "shared" {
            CodeKind::Shared
        } else {
            CodeKind::Unique
        };
        let value = parse_whole("value", &self.value, &mut errors, lang);
        let max_discount = parse_whole("max_discount", &self.max_discount, &mut errors, lang);
        let min_order = parse_whole("min_order", &self.min_order, &mut errors, lang);
        let total_uses = parse_whole("limits.total_uses", &self.total_uses, &mut errors, lang);
        let uses_per_member = parse_whole(
            "limits.uses_per_member",
            &self.uses_per_member,
            &mut errors,
            lang,
        );
        let mut date = |field: &str, text: &str, end: bool| match day(text, zone, end) {
            Ok(at) => Some(at),
            Err(()) => {
                errors.push((
                    field.into(),
                    super::i18n::text(lang, "form.not_a_date").into(),
                ));
                None
            }
        };
        let valid_from = date("valid_from", &self.valid_from, false);
        let valid_until = date("valid_until", &self.valid_until, true);
        if !errors.is_empty() {
            return Err(errors);
        }
        let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(ProgramInput {
            name: Some(self.name.clone()),
            kind: Some(kind),
            value: value.or(Some(0)),
            max_discount: Some(max_discount),
            min_order,
            sku: Some(given(&self.sku)),
            valid_from,
            valid_until,
            scope: Some(Scope {
                skus: comma_list(&self.scope_skus),
                categories: comma_list(&self.scope_categories),
                stores: comma_list(&self.scope_stores),
                brands: comma_list(&self.scope_brands),
                channels: comma_list(&self.scope_channels),
            }),
            limits: Some(Limits {
                total_uses,
                uses_per_member,
            }),
            stackable: Some(self.stackable.is_some()),
            active: creating.then_some(true),
            code_kind: creating.then_some(code_kind),
            prefix: if creating { given(&self.prefix) } else { None },
            length: None,
            code: if creating { given(&self.code) } else { None },
        })
    }
}

fn kind_name(kind: VoucherType) -> &'static str {
    match kind {
        VoucherType::Fixed => "fixed",
        VoucherType::FreeShipping => "free_shipping",
        VoucherType::FreeItem => "free_item",
        _ => "percent",
    }
}

impl Default for ProgramForm {
    fn default() -> Self {
        ProgramForm {
            csrf: String::new(),
            name: String::new(),
            kind: "percent".into(),
            value: String::new(),
            max_discount: String::new(),
            min_order: "0".into(),
            sku: String::new(),
            valid_from: String::new(),
            valid_until: String::new(),
            code_kind: "unique".into(),
            code: String::new(),
            prefix: String::new(),
            total_uses: String::new(),
            uses_per_member: "1".into(),
            stackable: None,
            scope_skus: String::new(),
            scope_categories: String::new(),
            scope_stores: String::new(),
            scope_brands: String::new(),
            scope_channels: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "voucher_form.html")]
struct NewPage {
    c: Chrome,
    form: ProgramForm,
    errors: Vec<(String, String)>,
    /// The program edited (its codes then cannot change), or `None` for a new one.
    editing: Option<VoucherProgram>,
}

impl NewPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }
}

async fn new_page(
    app: &App,
    staff: &Staff,
    form: ProgramForm,
    errors: Vec<(String, String)>,
) -> UiResult {
    let status = super::form_status(&errors);
    let page = NewPage {
        c: Chrome::for_staff(app, staff, "vouchers.new", "vouchers", "/vouchers/new").await,
        form,
        errors,
        editing: None,
    };
    Ok((status, render(&page)).into_response())
}

async fn edit_page(
    app: &App,
    staff: &Staff,
    program: VoucherProgram,
    form: ProgramForm,
    errors: Vec<(String, String)>,
) -> UiResult {
    let status = super::form_status(&errors);
    let path = format!("/vouchers/{}/edit", program.id);
    let page = NewPage {
        c: Chrome::for_staff(app, staff, "vouchers.edit", "vouchers", &path).await,
        form,
        errors,
        editing: Some(program),
    };
    Ok((status, render(&page)).into_response())
}

pub async fn edit_form(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<ProgramId>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let zone = app
        .tenant(ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?
        .zone
        .clone();
    let program = app
        .voucher_program(ctx, id)
        .await
        .map_err(|e| UiError::App(lang, e))?;
    let form = ProgramForm::from_program(&program, &zone);
    edit_page(&app, &staff, program, form, vec![]).await
}

/// Saves the program's terms and scope (its codes stay as they are).
pub async fn edit(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<ProgramId>,
    Form(form): Form<ProgramForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let zone = app
        .tenant(ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?
        .zone
        .clone();
    let program = app
        .voucher_program(ctx, id.clone())
        .await
        .map_err(|e| UiError::App(lang, e))?;
    let input = match form.input(&zone, lang, false) {
        Ok(input) => input,
        Err(errors) => return edit_page(&app, &staff, program, form, errors).await,
    };
    match app.update_voucher_program(ctx, id.clone(), input).await {
        Ok(_) => Ok(Redirect::to(&format!("/vouchers/{id}")).into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, lang);
            edit_page(&app, &staff, program, form, errors).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

pub async fn new_form(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::EditProgram)?;
    new_page(&app, &staff, ProgramForm::default(), vec![]).await
}

/// A local day's first instant (or, `end`, the next day's) in the tenant's zone.
fn day(text: &str, zone: &jiff::tz::TimeZone, end: bool) -> Result<Option<Timestamp>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date: Date = text.parse().map_err(|_| ())?;
    let date = if end {
        date.tomorrow().map_err(|_| ())?
    } else {
        date
    };
    let at = date
        .to_zoned_datetime(zone.clone())
        .map_err(|_| ())?
        .timestamp();
    // `valid_until` is inclusive: the last millisecond of the day.
    Ok(Some(if end {
        at - jiff::SignedDuration::from_millis(1)
    } else {
        at
    }))
}

pub async fn create(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<ProgramForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let zone = app
        .tenant(ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?
        .zone
        .clone();
    let input = match form.input(&zone, lang, true) {
        Ok(input) => input,
        Err(errors) => return new_page(&app, &staff, form, errors).await,
    };
    match app.create_voucher_program(ctx, input).await {
        Ok(program) => Ok(Redirect::to(&format!("/vouchers/{}", program.id)).into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            new_page(&app, &staff, form, errors).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

#[derive(Template)]
#[template(path = "voucher.html")]
struct ShowPage {
    c: Chrome,
    program: VoucherProgram,
    report: ProgramReport,
    can_edit: bool,
    codes_error: String,
}

impl ShowPage {
    fn kind_key(&self) -> &'static str {
        kind_key(self.program.kind)
    }

    fn unique(&self) -> bool {
        self.program.code_kind == CodeKind::Unique
    }

    fn rate(&self) -> String {
        format!("{:.1}%", self.report.redemption_rate * 100.0)
    }
}

async fn show_page(app: &App, staff: &Staff, id: ProgramId, codes_error: String) -> UiResult {
    staff.require(Permission::ViewReports)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let program = app.voucher_program(ctx, id.clone()).await.map_err(fail)?;
    let report = app.voucher_report(ctx, id.clone()).await.map_err(fail)?;
    let status = if codes_error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ShowPage {
        c: Chrome::for_staff(
            app,
            staff,
            "vouchers.title",
            "vouchers",
            &format!("/vouchers/{id}"),
        )
        .await,
        program,
        report,
        can_edit: staff.may(Permission::EditProgram),
        codes_error,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn show(State(app): State<App>, staff: Staff, Path(id): Path<ProgramId>) -> UiResult {
    show_page(&app, &staff, id, String::new()).await
}

#[derive(Debug, Deserialize)]
pub struct CodesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    count: String,
}

/// Generates unique codes and answers with them as a CSV download (one code per line).
pub async fn generate(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<ProgramId>,
    Form(form): Form<CodesForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let mut errors = Vec::new();
    let Some(count) = parse_whole("count", &form.count, &mut errors, lang) else {
        let message = super::i18n::text(lang, "form.not_a_whole_number").to_string();
        return show_page(&app, &staff, id, message).await;
    };
    match app
        .generate_codes(&staff.session.ctx, id.clone(), count, None)
        .await
    {
        Ok(codes) => {
            let mut csv = String::with_capacity(codes.len() * 14 + 8);
            csv.push_str("\u{feff}code\r\n");
            for code in codes {
                csv.push_str(&loyalty_core::import::inert(&code));
                csv.push_str("\r\n");
            }
            let filename = format!("vouchers-{id}-{}.csv", app.now().strftime("%Y%m%d-%H%M%S"));
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{filename}\""),
                    ),
                ],
                csv,
            )
                .into_response())
        }
        Err(
            error @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::Rejected { .. }),
        ) => show_page(&app, &staff, id, super::said(&error, lang)).await,
        Err(error) => Err(UiError::App(lang, error)),
    }
}

/// Pauses an active program (its codes stop validating) or resumes a paused one.
pub async fn toggle(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<ProgramId>,
    Form(form): Form<super::CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let program = app
        .voucher_program(ctx, id.clone())
        .await
        .map_err(|e| UiError::App(lang, e))?;
    let change = ProgramInput {
        active: Some(!program.active),
        ..ProgramInput::default()
    };
    app.update_voucher_program(ctx, id.clone(), change)
        .await
        .map_err(|e| UiError::App(lang, e))?;
    Ok(Redirect::to(&format!("/vouchers/{id}")).into_response())
}
