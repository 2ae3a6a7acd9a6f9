//! Automations (Tự động hoá): the shop's journeys with their counts, switched on and off, and
//! the ready-made journeys to start from (saved off, to be read before they run).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::automation_presets::{PRESETS, preset};
use loyalty_app::automations::{AutomationCounts, AutomationPatch, AutomationView};
use loyalty_app::channels::ChannelView;
use loyalty_app::{App, AppError};
use loyalty_core::tenancy::Permission;
use loyalty_core::voucher::{CodeKind, VoucherProgram};
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, field_errors, form_status, render};

#[derive(Template)]
#[template(path = "automations.html")]
struct AutomationsPage {
    c: Chrome,
    automations: Vec<(AutomationView, AutomationCounts)>,
    channels: Vec<ChannelView>,
    programs: Vec<VoucherProgram>,
    presets: Vec<&'static str>,
    errors: Vec<String>,
    notice: Option<String>,
}

async fn page(app: &App, staff: &Staff, errors: Vec<String>, notice: Option<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let fail = |e| UiError::App(staff.lang, e);
    let ctx = &staff.session.ctx;
    let mut counts = app.automation_counts(ctx).await.map_err(fail)?;
    let automations = app
        .automations(ctx)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|a| {
            let n = counts.remove(&a.id).unwrap_or_default();
            (a, n)
        })
        .collect();
    let channels = app.channels(ctx).await.map_err(fail)?;
    let programs = unique_code_programs(app, staff).await?;
    let status = form_status(
        &errors
            .iter()
            .map(|e| (String::new(), e.clone()))
            .collect::<Vec<_>>(),
    );
    let page = AutomationsPage {
        c: Chrome::for_staff(
            app,
            staff,
            "automations.title",
            "automations",
            "/automations",
        )
        .await,
        automations,
        channels,
        programs,
        presets: PRESETS.to_vec(),
        errors,
        notice,
    };
    Ok((status, render(&page)).into_response())
}

/// The voucher programs an automation may give from: those with a code of its own per member.
pub(super) async fn unique_code_programs(
    app: &App,
    staff: &Staff,
) -> Result<Vec<VoucherProgram>, UiError> {
    Ok(app
        .voucher_programs(&staff.session.ctx, super::whole_list())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?
        .items
        .into_iter()
        .filter(|p| p.code_kind == CodeKind::Unique)
        .collect())
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    page(&app, &staff, vec![], None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct PresetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    preset: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    voucher_program: String,
}

pub async fn create_preset(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<PresetForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let t = |key: &str| super::i18n::text(staff.lang, key).to_string();
    let program = Some(form.voucher_program.as_str()).filter(|p| !p.is_empty());
    let Some(input) = preset(&form.preset, staff.lang.code(), &form.channel, program) else {
        return page(&app, &staff, vec![t("automations.needs_program")], None).await;
    };
    match app.create_automation(&staff.session.ctx, input).await {
        Ok(created) => Ok(Redirect::to(&format!("/automations/{}", created.id)).into_response()),
        Err(error @ AppError::Invalid(_)) => {
            let errors = field_errors(&error, staff.lang)
                .into_iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect();
            page(&app, &staff, errors, None).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    /// `on` or `off`.
    #[serde(default)]
    to: String,
}

pub async fn switch(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<SwitchForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let patch = AutomationPatch {
        active: Some(form.to == "on"),
        ..AutomationPatch::default()
    };
    app.update_automation(&staff.session.ctx, id, patch)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to("/automations").into_response())
}
