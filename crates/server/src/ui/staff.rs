//! Staff accounts and API keys (the owner's page): who may sign in with which role, and the
//! keys tills and web stores use. A new key's secret is shown once, on the page that made it.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::staff::{NewStaff, StaffChange};
use loyalty_app::{App, AppError};
use loyalty_core::id::KeyId;
use loyalty_core::tenancy::{ApiKey, Permission, Role, Scope, StaffUser};
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, CsrfOnly, UiError, UiResult, error_for, field_errors, render};

#[derive(Debug, Default, Deserialize)]
pub struct StaffForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key_name: String,
    #[serde(default)]
    scope: String,
}

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    c: Chrome,
    staff: Vec<StaffUser>,
    keys: Vec<ApiKey>,
    roles: Vec<&'static str>,
    form: StaffForm,
    key_form: KeyForm,
    errors: Vec<(String, String)>,
    new_key: Option<String>,
    /// What the last change did, said once.
    notice: String,
}

impl StaffPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    fn role_key(&self, role: &Role) -> String {
        format!("role.{}", role.as_str())
    }

    fn scopes(&self, key: &ApiKey) -> String {
        key.scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn page(
    app: &App,
    staff: &Staff,
    form: StaffForm,
    key_form: KeyForm,
    errors: Vec<(String, String)>,
    new_key: Option<String>,
) -> UiResult {
    page_with_notice(app, staff, form, key_form, errors, new_key, String::new()).await
}

#[allow(clippy::too_many_arguments, reason = "the page's parts, each optional")]
async fn page_with_notice(
    app: &App,
    staff: &Staff,
    form: StaffForm,
    key_form: KeyForm,
    errors: Vec<(String, String)>,
    new_key: Option<String>,
    notice: String,
) -> UiResult {
    staff.require(Permission::ManageStaff)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let all = super::whole_list();
    let users = app.staff(ctx, all.clone()).await.map_err(fail)?.items;
    let keys = app.api_keys(ctx, all).await.map_err(fail)?.items;
    let status = super::form_status(&errors);
    let page = StaffPage {
        c: Chrome::for_staff(app, staff, "staff.title", "staff", "/staff").await,
        staff: users,
        keys,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        form,
        key_form,
        errors,
        new_key,
        notice,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn show(State(app): State<App>, staff: Staff) -> UiResult {
    page(
        &app,
        &staff,
        StaffForm::default(),
        KeyForm::default(),
        vec![],
        None,
    )
    .await
}

pub async fn create_staff(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<StaffForm>,
) -> UiResult {
    staff.require(Permission::ManageStaff)?;
    staff.check_csrf(&form.csrf)?;
    let Some(role) = Role::parse(&form.role) else {
        let errors = vec![("role".to_string(), "?".to_string())];
        return page(&app, &staff, form, KeyForm::default(), errors, None).await;
    };
    let input = NewStaff {
        email: form.email.clone(),
        name: Some(form.name.trim().to_string()).filter(|n| !n.is_empty()),
        role,
        password: form.password.clone(),
    };
    match app.create_staff(&staff.session.ctx, input).await {
        Ok(_) => Ok(Redirect::to("/staff").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            let form = StaffForm {
                password: String::new(),
                ..form
            };
            page(&app, &staff, form, KeyForm::default(), errors, None).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

pub async fn create_key(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<KeyForm>,
) -> UiResult {
    staff.require(Permission::ManageStaff)?;
    staff.check_csrf(&form.csrf)?;
    let scopes: Vec<Scope> = Scope::parse(&form.scope).into_iter().collect();
    match app
        .create_api_key(&staff.session.ctx, form.key_name.clone(), scopes, None)
        .await
    {
        Ok(created) => {
            page(
                &app,
                &staff,
                StaffForm::default(),
                KeyForm::default(),
                vec![],
                Some(created.secret),
            )
            .await
        }
        Err(error @ AppError::Invalid(_)) => {
            let errors = field_errors(&error, staff.lang)
                .into_iter()
                .map(|(f, m)| (if f == "name" { "key_name".into() } else { f }, m))
                .collect();
            page(&app, &staff, StaffForm::default(), form, errors, None).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

pub async fn revoke_key(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<KeyId>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::ManageStaff)?;
    staff.check_csrf(&form.csrf)?;
    app.revoke_api_key(&staff.session.ctx, id)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to("/staff").into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct StaffEditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// A checkbox: present when ticked.
    active: Option<String>,
}

/// Saves a row's name, role and whether the person may sign in (offboarding).
pub async fn update_staff(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<StaffEditForm>,
) -> UiResult {
    staff.require(Permission::ManageStaff)?;
    staff.check_csrf(&form.csrf)?;
    let Some(role) = Role::parse(&form.role) else {
        return Err(UiError::NotFound(staff.lang));
    };
    let name = form.name.trim();
    let change = StaffChange {
        name: Some(Some(name.to_string()).filter(|n| !n.is_empty())),
        role: Some(role),
        active: Some(form.active.is_some()),
    };
    let notice = super::i18n::text(staff.lang, "staff.updated").to_string();
    after_change(
        &app,
        &staff,
        app.update_staff(&staff.session.ctx, id, change).await,
        notice,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// The owner sets a new password for someone; they are signed out everywhere.
pub async fn reset_password(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<ResetForm>,
) -> UiResult {
    staff.require(Permission::ManageStaff)?;
    staff.check_csrf(&form.csrf)?;
    let reset = app
        .reset_staff_password(&staff.session.ctx, id, form.password)
        .await;
    let notice = super::i18n::text(staff.lang, "staff.password_reset_done").to_string();
    after_change(&app, &staff, reset, notice).await
}

/// Back to the page after a change to an account: a notice, or the refusal at the top.
async fn after_change(
    app: &App,
    staff: &Staff,
    result: Result<StaffUser, AppError>,
    notice: String,
) -> UiResult {
    let (errors, notice) = match result {
        Ok(_) => (vec![], notice),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => (
            vec![("staff".to_string(), super::messages(&error, staff.lang))],
            String::new(),
        ),
        Err(error) => return Err(UiError::App(staff.lang, error)),
    };
    page_with_notice(
        app,
        staff,
        StaffForm::default(),
        KeyForm::default(),
        errors,
        None,
        notice,
    )
    .await
}
