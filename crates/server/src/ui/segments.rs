//! Segments: the builder with a live count, saved segments with their members, CSV export.
//!
//! The builder's source of truth is the condition tree as JSON (the API's own format), kept in
//! a textarea that works without JavaScript; `static/app.js` adds rows of field / operator /
//! value that write the tree and ask `/segments/count` for the count as they change.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::{Form, Json};
use loyalty_app::segments::{SegmentInput, SegmentReport};
use loyalty_app::{App, AppError};
use loyalty_core::member::Member;
use loyalty_core::records::Page;
use loyalty_core::records::SavedSegment;
use loyalty_core::tenancy::Permission;
use serde::Deserialize;
use serde_json::{Value, json};

use super::condition_vocabulary::{Grammar, vocabulary};
use super::session::Staff;
use super::{Chrome, UiError, UiResult, field_errors, render};

#[derive(Template)]
#[template(path = "segments.html")]
struct ListPage {
    c: Chrome,
    segments: Vec<SavedSegment>,
    can_edit: bool,
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let segments = app
        .segments(&staff.session.ctx)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let page = ListPage {
        c: Chrome::for_staff(&app, &staff, "segments.title", "segments", "/segments").await,
        segments,
        can_edit: staff.may(Permission::EditSegments),
    };
    Ok(render(&page))
}

#[derive(Debug, Default, Deserialize)]
pub struct BuilderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    conditions: String,
    /// `count` (preview) or `save`.
    #[serde(default)]
    action: String,
}

#[derive(Template)]
#[template(path = "segment_new.html")]
struct BuilderPage {
    c: Chrome,
    /// The saved segment being changed; `None`: a new one.
    editing: Option<String>,
    form: BuilderForm,
    count: Option<i64>,
    errors: Vec<(String, String)>,
    /// The condition builder's fields and words.
    vocabulary: String,
}

impl BuilderPage {
    fn action(&self) -> String {
        match &self.editing {
            Some(id) => format!("/segments/{id}"),
            None => "/segments".to_string(),
        }
    }
}

async fn builder_page(
    app: &App,
    staff: &Staff,
    editing: Option<String>,
    form: BuilderForm,
    count: Option<i64>,
    errors: Vec<(String, String)>,
) -> UiResult {
    let status = super::form_status(&errors);
    let (title, path) = match &editing {
        Some(id) => ("segments.edit", format!("/segments/{id}/edit")),
        None => ("segments.new", "/segments/new".to_string()),
    };
    let page = BuilderPage {
        c: Chrome::for_staff(app, staff, title, "segments", &path).await,
        editing,
        form,
        count,
        errors,
        vocabulary: vocabulary(app, staff, Grammar::Segment).await?,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn builder(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::EditSegments)?;
    let form = BuilderForm {
        conditions: "{\"all\": []}".into(),
        ..BuilderForm::default()
    };
    builder_page(&app, &staff, None, form, None, vec![]).await
}

/// A saved segment in the builder, to change its name, description or conditions.
pub async fn edit_form(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditSegments)?;
    let (segment, count) = app
        .segment(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let form = BuilderForm {
        name: segment.name,
        description: segment.description.unwrap_or_default(),
        conditions: serde_json::to_string_pretty(&segment.conditions).unwrap_or_default(),
        ..BuilderForm::default()
    };
    builder_page(&app, &staff, Some(id), form, Some(count), vec![]).await
}

/// The edit form's `count` or `save` (the changed segment).
pub async fn update(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<BuilderForm>,
) -> UiResult {
    submit(app, staff, Some(id), form).await
}

fn parse_tree(text: &str, lang: super::Lang) -> Result<Value, Vec<(String, String)>> {
    serde_json::from_str(text).map_err(|e| {
        vec![(
            "conditions".to_string(),
            format!("{}: {e}", super::i18n::text(lang, "segments.bad_json")),
        )]
    })
}

/// The builder's form: `count` shows the count, `save` saves the segment.
pub async fn save(State(app): State<App>, staff: Staff, Form(form): Form<BuilderForm>) -> UiResult {
    submit(app, staff, None, form).await
}

async fn submit(app: App, staff: Staff, editing: Option<String>, form: BuilderForm) -> UiResult {
    staff.require(Permission::EditSegments)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let tree = match parse_tree(&form.conditions, lang) {
        Ok(tree) => tree,
        Err(errors) => return builder_page(&app, &staff, editing, form, None, errors).await,
    };
    let result = if form.action == "save" {
        let input = SegmentInput {
            name: Some(form.name.clone()),
            description: Some(Some(form.description.clone()).filter(|d| !d.trim().is_empty())),
            conditions: Some(tree),
        };
        let saved = match &editing {
            Some(id) => app.update_segment(ctx, id.clone(), input).await,
            None => app.create_segment(ctx, input).await,
        };
        match saved {
            Ok((saved, _)) => {
                return Ok(Redirect::to(&format!("/segments/{}", saved.id)).into_response());
            }
            Err(e) => Err(e),
        }
    } else {
        app.preview_segment(ctx, tree).await.map(|p| p.count)
    };
    match result {
        Ok(count) => builder_page(&app, &staff, editing, form, Some(count), vec![]).await,
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            builder_page(&app, &staff, editing, form, None, errors).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

#[derive(Debug, Deserialize)]
pub struct CountRequest {
    conditions: Value,
}

/// The live count for the builder's script: `{"count": n}` or `{"errors": [{field, message}]}`.
/// Called with the session's CSRF token in `X-CSRF-Token`.
pub async fn count(
    State(app): State<App>,
    staff: Staff,
    headers: HeaderMap,
    Json(request): Json<CountRequest>,
) -> UiResult {
    staff.require(Permission::EditSegments)?;
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    staff.check_csrf(token)?;
    match app
        .preview_segment(&staff.session.ctx, request.conditions)
        .await
    {
        Ok(preview) => Ok(Json(json!({"count": preview.count})).into_response()),
        Err(error @ AppError::Invalid(_)) => {
            let errors: Vec<Value> = field_errors(&error, staff.lang)
                .into_iter()
                .map(|(field, message)| json!({"field": field, "message": message}))
                .collect();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"errors": errors})),
            )
                .into_response())
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

/// The period of the report on a segment's page.
const REPORT_DAYS: i64 = 90;

#[derive(Template)]
#[template(path = "segment.html")]
struct ShowPage {
    c: Chrome,
    segment: SavedSegment,
    report: SegmentReport,
    count: i64,
    conditions: String,
    members: Vec<Member>,
    can_export: bool,
}

pub async fn show(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let (segment, count) = app.segment(ctx, id.clone()).await.map_err(fail)?;
    let first = Page {
        after: None,
        limit: 50,
    };
    let members = app
        .segment_members(ctx, id.clone(), first)
        .await
        .map_err(fail)?;
    let to = app.now();
    let from = to - jiff::SignedDuration::from_hours(24 * REPORT_DAYS);
    let report = app
        .segment_report(ctx, id.clone(), from, to)
        .await
        .map_err(fail)?;
    let page = ShowPage {
        report,
        c: Chrome::for_staff(
            &app,
            &staff,
            "segments.title",
            "segments",
            &format!("/segments/{id}"),
        )
        .await,
        conditions: serde_json::to_string_pretty(&segment.conditions).unwrap_or_default(),
        segment,
        count,
        members: members.items,
        can_export: staff.may(Permission::EditSegments),
    };
    Ok(render(&page))
}

impl ShowPage {
    fn share(&self) -> String {
        format!("{:.1}%", self.report.share * 100.0)
    }

    fn repeat_rate(&self) -> String {
        format!("{:.1}%", self.report.repeat_rate * 100.0)
    }
}

/// The segment's members as CSV, streamed (the API's export, behind the session).
pub async fn export(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditSegments)?;
    let lang = staff.lang;
    match crate::api::segments::csv_export(app, staff.session.ctx, Some(id), "segment").await {
        Ok(response) => Ok(response),
        Err(crate::problem::ApiError::App(error)) => Err(UiError::App(lang, error)),
        Err(_) => Err(UiError::NotFound(lang)),
    }
}
