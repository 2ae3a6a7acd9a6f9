//! The activity log (nhật ký hoạt động): who changed what and when, newest first, with filters.

use askama::Template;
use axum::extract::{Query, State};
use loyalty_app::App;
use loyalty_core::records::Page;
use loyalty_core::records::{Activity, ActivityFilter};
use loyalty_core::tenancy::Permission;
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, render};

/// The kinds of entity the log records, for the filter.
const ENTITIES: [&str; 14] = [
    "member",
    "order",
    "program",
    "tier",
    "earn_rule",
    "voucher_program",
    "reward",
    "segment",
    "import",
    "store",
    "brand",
    "staff_user",
    "api_key",
    "tenant",
];

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    entity: String,
    #[serde(default)]
    actor: String,
    /// `YYYY-MM-DD` in the tenant's zone, inclusive.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    c: Chrome,
    entries: Vec<Activity>,
    entities: Vec<&'static str>,
    filters: Filters,
    next: Option<String>,
}

impl ActivityPage {
    fn snapshot(&self, entry: &Activity) -> String {
        entry
            .after
            .as_ref()
            .or(entry.before.as_ref())
            .and_then(|v| serde_json::to_string_pretty(v).ok())
            .unwrap_or_default()
    }
}

pub async fn list(
    State(app): State<App>,
    staff: Staff,
    Query(filters): Query<Filters>,
) -> UiResult {
    staff.require(Permission::ViewActivity)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let zone = app.tenant(ctx).await.map_err(fail)?.zone.clone();
    let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = ActivityFilter {
        entity: given(&filters.entity).filter(|e| ENTITIES.contains(&e.as_str())),
        entity_id: None,
        actor: given(&filters.actor),
        from: super::format::day_start(&filters.from, &zone, 0),
        to: super::format::day_start(&filters.to, &zone, 1),
    };
    let page = Page {
        after: given(&filters.after),
        limit: 100,
    };
    let entries = app.activity(ctx, filter, page).await.map_err(fail)?;
    let query = |after: &str| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("entity", &filters.entity)
            .append_pair("actor", &filters.actor)
            .append_pair("from", &filters.from)
            .append_pair("to", &filters.to)
            .append_pair("after", after)
            .finish()
    };
    let path = format!("/activity?{}", query(""));
    let page = ActivityPage {
        c: Chrome::for_staff(&app, &staff, "activity.title", "activity", &path).await,
        next: entries
            .next_after
            .as_deref()
            .map(|after| format!("/activity?{}", query(after))),
        entries: entries.items,
        entities: ENTITIES.to_vec(),
        filters,
    };
    Ok(render(&page))
}
