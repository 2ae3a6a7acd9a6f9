//! Integrations (kết nối): outbound webhooks — endpoints, their deliveries, replay and a test
//! ping — and the web-store and POS connections, with the URL to paste into the platform and
//! what came in on each.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::connections::{ConnectionView, InboundView};
use loyalty_app::webhooks::{DeliveryView, WebhookView};
use loyalty_app::{App, AppError};
use loyalty_connect::Platform;
use loyalty_connect::connection::{ConnectionIn, ConnectionPatchIn};
use loyalty_core::records::Page;
use loyalty_core::tenancy::{Permission, Store};
use loyalty_core::webhook::{WebhookIn, WebhookPatchIn};
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, CsrfOnly, UiError, UiResult, error_for, field_errors, form_status, render};

const LOG_SIZE: i64 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct WebhookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    /// Event types or filters, separated by commas or spaces (`order.paid, points.*`).
    #[serde(default)]
    events: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ConnectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    platform: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    verify_token: String,
    #[serde(default)]
    store: String,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    c: Chrome,
    webhooks: Vec<WebhookView>,
    connections: Vec<ConnectionView>,
    stores: Vec<Store>,
    platforms: Vec<(&'static str, &'static str)>,
    webhook_form: WebhookForm,
    connection_form: ConnectionForm,
    /// Which form the errors are for: `webhook` or `connection`.
    form: &'static str,
    errors: Vec<(String, String)>,
    /// A webhook's signing secret, shown once right after it was created.
    new_secret: Option<(String, String)>,
}

impl IntegrationsPage {
    fn error(&self, form: &str, field: &str) -> &str {
        if self.form == form {
            error_for(&self.errors, field)
        } else {
            ""
        }
    }
}

struct Shown {
    webhook_form: WebhookForm,
    connection_form: ConnectionForm,
    form: &'static str,
    errors: Vec<(String, String)>,
    new_secret: Option<(String, String)>,
}

impl Default for Shown {
    fn default() -> Self {
        Shown {
            webhook_form: WebhookForm {
                events: "*".into(),
                ..WebhookForm::default()
            },
            connection_form: ConnectionForm::default(),
            form: "",
            errors: vec![],
            new_secret: None,
        }
    }
}

async fn page(app: &App, staff: &Staff, shown: Shown) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let webhooks = app
        .webhooks(ctx, super::whole_list())
        .await
        .map_err(fail)?
        .items;
    let connections = app
        .connections(ctx, super::whole_list())
        .await
        .map_err(fail)?
        .items;
    let stores = app
        .stores(ctx, super::whole_list())
        .await
        .map_err(fail)?
        .items;
    let status = form_status(&shown.errors);
    let page = IntegrationsPage {
        c: Chrome::for_staff(
            app,
            staff,
            "integrations.title",
            "integrations",
            "/integrations",
        )
        .await,
        webhooks,
        connections,
        stores,
        platforms: Platform::ALL
            .iter()
            .map(|p| (p.as_str(), p.label()))
            .collect(),
        webhook_form: shown.webhook_form,
        connection_form: shown.connection_form,
        form: shown.form,
        errors: shown.errors,
        new_secret: shown.new_secret,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn show(State(app): State<App>, staff: Staff) -> UiResult {
    page(&app, &staff, Shown::default()).await
}

fn given(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

pub async fn create_webhook(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<WebhookForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let input = WebhookIn {
        url: form.url.trim().to_string(),
        events: form
            .events
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
        description: given(&form.description),
    };
    match app.create_webhook(&staff.session.ctx, input).await {
        Ok((webhook, secret)) => {
            let shown = Shown {
                new_secret: Some((webhook.url, secret)),
                ..Shown::default()
            };
            page(&app, &staff, shown).await
        }
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let shown = Shown {
                errors: field_errors(&error, staff.lang),
                form: "webhook",
                webhook_form: form,
                ..Shown::default()
            };
            page(&app, &staff, shown).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

pub async fn create_connection(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<ConnectionForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let input = ConnectionIn {
        platform: form.platform.clone(),
        name: form.name.clone(),
        secret: form.secret.clone(),
        verify_token: given(&form.verify_token),
        store: given(&form.store),
        brand: None,
    };
    match app.create_connection(&staff.session.ctx, input).await {
        Ok(created) => {
            Ok(Redirect::to(&format!("/integrations/connections/{}", created.id)).into_response())
        }
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            // The secret and the verify token are not sent back into the page.
            let shown = Shown {
                errors: field_errors(&error, staff.lang),
                form: "connection",
                connection_form: ConnectionForm {
                    secret: String::new(),
                    verify_token: String::new(),
                    ..form
                },
                ..Shown::default()
            };
            page(&app, &staff, shown).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    c: Chrome,
    webhook: WebhookView,
    deliveries: Vec<DeliveryView>,
}

pub async fn webhook(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let webhook = app.webhook(ctx, id.clone()).await.map_err(fail)?;
    let newest = Page {
        after: None,
        limit: LOG_SIZE,
    };
    let deliveries = app
        .webhook_deliveries(ctx, id.clone(), newest)
        .await
        .map_err(fail)?
        .items;
    let page = WebhookPage {
        c: Chrome::for_staff(
            &app,
            &staff,
            "integrations.webhook",
            "integrations",
            &format!("/integrations/webhooks/{id}"),
        )
        .await,
        webhook,
        deliveries,
    };
    Ok(render(&page))
}

pub async fn test_webhook(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    app.ping_webhook(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to(&format!("/integrations/webhooks/{id}")).into_response())
}

pub async fn toggle_webhook(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let ctx = &staff.session.ctx;
    let fail = |e| UiError::App(staff.lang, e);
    let now = app.webhook(ctx, id.clone()).await.map_err(fail)?;
    let patch = WebhookPatchIn {
        active: Some(!now.active),
        ..WebhookPatchIn::default()
    };
    app.update_webhook(ctx, id.clone(), patch)
        .await
        .map_err(fail)?;
    Ok(Redirect::to(&format!("/integrations/webhooks/{id}")).into_response())
}

pub async fn replay(
    State(app): State<App>,
    staff: Staff,
    Path((id, delivery)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    app.replay_delivery(&staff.session.ctx, id.clone(), delivery)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to(&format!("/integrations/webhooks/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "connection.html")]
struct ConnectionPage {
    c: Chrome,
    connection: ConnectionView,
    label: &'static str,
    log: Vec<InboundView>,
}

pub async fn connection(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let connection = app.connection(ctx, id.clone()).await.map_err(fail)?;
    let newest = Page {
        after: None,
        limit: LOG_SIZE,
    };
    let log = app
        .connection_deliveries(ctx, id.clone(), newest)
        .await
        .map_err(fail)?
        .items;
    let page = ConnectionPage {
        c: Chrome::for_staff(
            &app,
            &staff,
            "integrations.connection",
            "integrations",
            &format!("/integrations/connections/{id}"),
        )
        .await,
        label: Platform::parse(&connection.platform).map_or("", |p| p.label()),
        connection,
        log,
    };
    Ok(render(&page))
}

pub async fn toggle_connection(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let ctx = &staff.session.ctx;
    let fail = |e| UiError::App(staff.lang, e);
    let now = app.connection(ctx, id.clone()).await.map_err(fail)?;
    let patch = ConnectionPatchIn {
        active: Some(!now.active),
        ..ConnectionPatchIn::default()
    };
    app.update_connection(ctx, id.clone(), patch)
        .await
        .map_err(fail)?;
    Ok(Redirect::to(&format!("/integrations/connections/{id}")).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

pub async fn delete_connection(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    if form.confirm != "yes" {
        // Not confirmed (the box is required in the page): nothing is deleted.
        return Ok(Redirect::to(&format!("/integrations/connections/{id}")).into_response());
    }
    app.delete_connection(&staff.session.ctx, id)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to("/integrations").into_response())
}
