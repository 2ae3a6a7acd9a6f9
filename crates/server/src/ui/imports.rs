//! Member imports from the browser: upload a CSV, watch its progress, read the bad rows.
//! The page of a running import refreshes itself every two seconds (no script needed).

use std::io::{Seek, SeekFrom, Write};

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use loyalty_app::history::HistoryKind;
use loyalty_app::{App, AppError};
use loyalty_core::records::ImportJob;
use loyalty_core::tenancy::Permission;

use crate::api::imports::MAX_IMPORT_BYTES;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, render};

#[derive(Template)]
#[template(path = "imports.html")]
struct ImportsPage {
    c: Chrome,
    jobs: Vec<ImportJob>,
    error: String,
}

async fn list_page(app: &App, staff: &Staff, error: String) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let jobs = app
        .import_jobs(&staff.session.ctx, 20)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ImportsPage {
        c: Chrome::for_staff(app, staff, "imports.title", "imports", "/imports").await,
        jobs,
        error,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    list_page(&app, &staff, String::new()).await
}

/// The form's fields in order: `csrf` first (checked before the file is read), `kind`
/// (`members`, `orders`, `products`) and `earn`, then `file`, which is spooled to a temporary
/// file so a large list never sits in memory.
pub async fn upload(State(app): State<App>, staff: Staff, mut form: Multipart) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let bad_form = || UiError::Csrf(lang);
    let mut checked = false;
    let mut file = None;
    let (mut kind, mut earn) = (String::from("members"), false);
    while let Some(mut field) = form.next_field().await.map_err(|_| bad_form())? {
        match field.name() {
            Some("csrf") => {
                let token = field.text().await.map_err(|_| bad_form())?;
                staff.check_csrf(&token)?;
                checked = true;
            }
            Some("kind") => kind = field.text().await.map_err(|_| bad_form())?,
            Some("earn") => earn = true,
            Some("file") if checked => {
                let internal = |e: std::io::Error| UiError::App(lang, AppError::Internal(e.into()));
                let mut spooled = tempfile::tempfile().map_err(internal)?;
                let mut size = 0usize;
                while let Some(chunk) = field.chunk().await.map_err(|_| bad_form())? {
                    size += chunk.len();
                    if size > MAX_IMPORT_BYTES {
                        let message = super::i18n::text(lang, "imports.too_large").to_string();
                        return list_page(&app, &staff, message).await;
                    }
                    spooled.write_all(&chunk).map_err(internal)?;
                }
                spooled.seek(SeekFrom::Start(0)).map_err(internal)?;
                file = (size > 0).then_some(spooled);
            }
            _ => {}
        }
    }
    if !checked {
        return Err(bad_form());
    }
    let Some(file) = file else {
        let message = super::i18n::text(lang, "imports.no_file").to_string();
        return list_page(&app, &staff, message).await;
    };
    let ctx = &staff.session.ctx;
    let started = match kind.as_str() {
        "orders" => {
            let kind = HistoryKind::Orders { earn };
            app.start_history_import(ctx, kind, Box::new(file)).await
        }
        "products" => {
            app.start_history_import(ctx, HistoryKind::Products, Box::new(file))
                .await
        }
        _ => app.start_member_import(ctx, Box::new(file)).await,
    };
    match started {
        Ok(job) => Ok(Redirect::to(&format!("/imports/{}", job.id)).into_response()),
        // Not UTF-8, or a header naming an unknown column: nothing was written.
        Err(error @ AppError::Invalid(_)) => {
            let message = super::messages(&error, staff.lang);
            list_page(&app, &staff, message).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    c: Chrome,
    job: ImportJob,
}

impl ImportPage {
    fn status_key(&self) -> String {
        format!("imports.status_{}", self.job.status)
    }

    /// Rows handled so far, for the progress bar.
    fn done(&self) -> i64 {
        self.job.imported + self.job.failed
    }
}

pub async fn show(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let job = app
        .import_job(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let page = ImportPage {
        c: Chrome::for_staff(
            &app,
            &staff,
            "imports.title",
            "imports",
            &format!("/imports/{id}"),
        )
        .await,
        job,
    };
    Ok(render(&page))
}
