//! The signed-in person's own account: changing their password.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::IntoResponse;
use loyalty_app::{App, AppError};
use serde::Deserialize;

use super::session::{Client, SESSION_COOKIE, Staff, cookie};
use super::{Chrome, UiError, UiResult, error_for, field_errors, form_status, render};

#[derive(Template)]
#[template(path = "account.html")]
struct PasswordPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    done: bool,
}

impl PasswordPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }
}

async fn page(app: &App, staff: &Staff, errors: Vec<(String, String)>, done: bool) -> UiResult {
    let status = form_status(&errors);
    let page = PasswordPage {
        c: Chrome::for_staff(app, staff, "account.title", "account", "/account/password").await,
        errors,
        done,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn password_form(State(app): State<App>, staff: Staff) -> UiResult {
    page(&app, &staff, vec![], false).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Changes the password; the person's other sessions end, this one stays signed in.
pub async fn change_password(
    State(app): State<App>,
    staff: Staff,
    Client(client): Client,
    Form(form): Form<PasswordForm>,
) -> UiResult {
    staff.check_csrf(&form.csrf)?;
    let token = cookie(&staff.headers, SESSION_COOKIE).unwrap_or_default();
    match app
        .change_own_password(
            &staff.session,
            token,
            &client,
            form.current_password,
            form.new_password,
        )
        .await
    {
        Ok(()) => page(&app, &staff, vec![], true).await,
        Err(error @ AppError::Invalid(_)) => {
            page(&app, &staff, field_errors(&error, staff.lang), false).await
        }
        Err(AppError::Throttled { .. }) => {
            let message = super::i18n::text(staff.lang, "error.throttled").to_string();
            page(
                &app,
                &staff,
                vec![("current_password".into(), message)],
                false,
            )
            .await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}
