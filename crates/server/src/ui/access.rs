//! First-run setup, signing in and out, and the language switch.

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use loyalty_app::tenants::NewTenant;
use loyalty_app::{App, AppError};
use loyalty_core::code::random_code;
use serde::Deserialize;

use super::session::{
    self, CSRF_COOKIE, Client, LANG_COOKIE, SESSION_COOKIE, Staff, cookie, safe_next, same_token,
    session_cookie, set_cookie,
};
use super::{Chrome, CsrfOnly, Lang, UiError, UiResult, error_for, field_errors, render};

/// `/`: the setup page on a fresh install, else the dashboard (or the login page).
pub async fn home(State(app): State<App>, request: Request) -> UiResult {
    let lang = session::lang(request.headers());
    if app.needs_setup().await.map_err(|e| UiError::App(lang, e))? {
        return Ok(Redirect::to("/setup").into_response());
    }
    let (mut parts, _) = request.into_parts();
    Ok(match Staff::from_request_parts(&mut parts, &app).await {
        Ok(staff) if staff.may(loyalty_core::tenancy::Permission::ViewReports) => {
            Redirect::to("/dashboard").into_response()
        }
        Ok(_) => Redirect::to("/members").into_response(),
        Err(to_login) => to_login,
    })
}

/// The CSRF value for a form shown before signing in, reusing the browser's if it has one.
fn anonymous_csrf(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, CSRF_COOKIE) {
        Some(value) if value.len() == 32 => (value.to_string(), None),
        _ => {
            let value = random_code(32);
            let set = set_cookie(headers, CSRF_COOKIE, &value, 60 * 60 * 24, true);
            (value, Some(set))
        }
    }
}

fn with_cookie(response: Response, set: Option<String>) -> Response {
    match set {
        Some(set) => ([(header::SET_COOKIE, set)], response).into_response(),
        None => response,
    }
}

fn check_anonymous_csrf(headers: &HeaderMap, given: &str, lang: Lang) -> Result<(), UiError> {
    match cookie(headers, CSRF_COOKIE) {
        Some(expected) if same_token(given, expected) => Ok(()),
        _ => Err(UiError::Csrf(lang)),
    }
}

// ---- setup ----

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    c: Chrome,
    form: SetupForm,
    errors: Vec<(String, String)>,
}

impl SetupPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }
}

#[derive(Template)]
#[template(path = "setup_done.html")]
struct SetupDone {
    c: Chrome,
    api_key: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default, skip_serializing)]
    password: String,
}

pub async fn setup_form(State(app): State<App>, headers: HeaderMap) -> UiResult {
    let lang = session::lang(&headers);
    if !app.needs_setup().await.map_err(|e| UiError::App(lang, e))? {
        return Ok(Redirect::to("/login").into_response());
    }
    let (csrf, set) = anonymous_csrf(&headers);
    let page = SetupPage {
        c: Chrome::anonymous(lang, "setup.title", csrf),
        form: SetupForm::default(),
        errors: vec![],
    };
    Ok(with_cookie(render(&page), set))
}

pub async fn setup(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> UiResult {
    let lang = session::lang(&headers);
    check_anonymous_csrf(&headers, &form.csrf, lang)?;
    // Only a fresh install may be claimed; the write checks again under a lock, so of two
    // racing setups one gets `already_set_up` and is sent to sign in.
    if !app.needs_setup().await.map_err(|e| UiError::App(lang, e))? {
        return Ok(Redirect::to("/login").into_response());
    }
    let created = app
        .set_up_first_tenant(NewTenant {
            name: form.name.clone(),
            owner_email: form.email.clone(),
            owner_password: form.password.clone(),
            timezone: None,
        })
        .await;
    match created {
        Ok(created) => {
            let client = "setup";
            let token = app
                .sign_in(&form.email, form.password, client)
                .await
                .map_err(|e| UiError::App(lang, e))?;
            let page = SetupDone {
                c: Chrome::anonymous(lang, "setup.done_title", String::new()),
                api_key: created.api_key,
            };
            Ok((
                [(header::SET_COOKIE, session_cookie(&headers, &token))],
                render(&page),
            )
                .into_response())
        }
        Err(error @ AppError::Invalid(_)) => {
            let page = SetupPage {
                c: Chrome::anonymous(lang, "setup.title", form.csrf.clone()),
                errors: field_errors(&error, lang)
                    .into_iter()
                    .map(|(f, m)| (f.replace("owner_", ""), m))
                    .collect(),
                form: SetupForm {
                    password: String::new(),
                    ..form
                },
            };
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(AppError::Conflict {
            code: "already_set_up",
            ..
        }) => Ok(Redirect::to("/login").into_response()),
        Err(error) => Err(UiError::App(lang, error)),
    }
}

// ---- signing in and out ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    email: String,
    next: String,
    message: String,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> UiResult {
    let lang = session::lang(&headers);
    if app.needs_setup().await.map_err(|e| UiError::App(lang, e))? {
        return Ok(Redirect::to("/setup").into_response());
    }
    let (csrf, set) = anonymous_csrf(&headers);
    let page = LoginPage {
        c: Chrome::anonymous(lang, "login.title", csrf),
        email: String::new(),
        next: safe_next(q.next.as_deref()).to_string(),
        message: String::new(),
    };
    Ok(with_cookie(render(&page), set))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(app): State<App>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> UiResult {
    let lang = session::lang(&headers);
    check_anonymous_csrf(&headers, &form.csrf, lang)?;
    let next = safe_next(form.next.as_deref()).to_string();
    match app.sign_in(&form.email, form.password, &client).await {
        Ok(token) => Ok((
            [(header::SET_COOKIE, session_cookie(&headers, &token))],
            Redirect::to(&next),
        )
            .into_response()),
        Err(
            error
            @ (AppError::Unauthorized(_) | AppError::Throttled { .. } | AppError::Busy { .. }),
        ) => {
            use axum::http::StatusCode;
            let t = |key| super::i18n::text(lang, key);
            let (status, message, retry_after) = match error {
                AppError::Throttled { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    t("login.throttled").replace("{wait}", &wait_text(lang, retry_after_secs)),
                    Some(retry_after_secs),
                ),
                AppError::Busy { retry_after_secs } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    t("login.busy").to_string(),
                    Some(retry_after_secs),
                ),
                _ => (StatusCode::UNAUTHORIZED, t("login.wrong").to_string(), None),
            };
            let page = LoginPage {
                c: Chrome::anonymous(lang, "login.title", form.csrf.clone()),
                email: form.email,
                next,
                message,
            };
            let mut response = (status, render(&page)).into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, secs.into());
            }
            Ok(response)
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

/// "4 seconds", "2 minutes": how long a sign-in must wait, as a person says it.
fn wait_text(lang: Lang, seconds: u64) -> String {
    let (n, key) = if seconds < 90 {
        (seconds, "time.seconds")
    } else {
        (seconds.div_ceil(60), "time.minutes")
    };
    super::i18n::text(lang, key).replace("{n}", &n.to_string())
}

pub async fn logout(State(app): State<App>, staff: Staff, Form(form): Form<CsrfOnly>) -> UiResult {
    staff.check_csrf(&form.csrf)?;
    let token = cookie(&staff.headers, SESSION_COOKIE).unwrap_or_default();
    app.sign_out(token)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&staff.headers, SESSION_COOKIE, "", 0, false),
        )],
        Redirect::to("/login"),
    )
        .into_response())
}

/// Switching language only sets a preference cookie, so a plain link may do it.
pub async fn switch_lang(
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<NextQuery>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::Vi);
    let cookie = set_cookie(
        &headers,
        LANG_COOKIE,
        lang.code(),
        60 * 60 * 24 * 365,
        false,
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(safe_next(q.next.as_deref())),
    )
        .into_response()
}
