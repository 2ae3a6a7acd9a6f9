//! `/api/v1/activity`: the activity log, newest first.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_core::Invalid;
use loyalty_core::records::{Activity, ActivityFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::orders::instant;
use crate::extract::{ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::ApiResult;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// `member`, `store`, `brand`, `api_key`, `staff_user`, `tenant`…
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    /// A staff user id or API key id, or a kind: `system`, `cli`.
    pub actor: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityOut {
    pub id: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub actor: ActorOut,
    pub entity: String,
    pub entity_id: String,
    pub action: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorOut {
    /// `staff`, `api_key`, `system` or `cli`.
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

impl From<Activity> for ActivityOut {
    fn from(a: Activity) -> Self {
        ActivityOut {
            id: a.id,
            at: a.at,
            actor: ActorOut {
                kind: a.actor.kind.as_str().to_string(),
                id: a.actor.id,
                name: a.actor.name,
            },
            entity: a.entity,
            entity_id: a.entity_id,
            action: a.action,
            before: a.before,
            after: a.after,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/activity", tag = "activity", params(ActivityQuery),
    responses((status = 200, description = "Newest first", body = List<ActivityOut>)),
    security(("api_key" = [])))]
pub async fn list_activity(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<List<ActivityOut>>> {
    let mut errors = Invalid::default();
    let from = instant(&mut errors, "from", &query.from);
    let to = instant(&mut errors, "to", &query.to);
    let page = page(query.limit, query.cursor.as_deref());
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let filter = ActivityFilter {
        entity: query.entity,
        entity_id: query.entity_id,
        actor: query.actor,
        from,
        to,
    };
    Ok(Json(List::from_paged(
        app.activity(&ctx, filter, page?).await?,
        ActivityOut::from,
    )))
}
