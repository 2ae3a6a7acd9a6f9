//! Recording and reading the activity log. Every use-case that changes something calls
//! [`record`] inside its own transaction.

use jiff::Timestamp;
use loyalty_core::id::new_id;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::activity::{self, Activity, ActivityFilter};
use loyalty_store::{DbError, Page, Paged, Sql};
use serde::Serialize;

use crate::{App, AppResult, Ctx};

/// What changed: `action` (create, update, activate, revoke…) on one entity.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub entity: &'a str,
    pub id: &'a str,
    pub action: &'a str,
}

/// Appends one entry with snapshots of the entity before and after the change.
pub fn record(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    at: Timestamp,
    change: Change<'_>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), DbError> {
    // Every change to what instances cache is logged here, so here the others hear of it.
    crate::instances::changed(sql, &ctx.tenant_id, change.entity)?;
    activity::record(
        sql,
        &ctx.tenant_id,
        &Activity {
            id: new_id("act"),
            at,
            actor: ctx.actor.clone(),
            entity: change.entity.to_string(),
            entity_id: change.id.to_string(),
            action: change.action.to_string(),
            before,
            after,
        },
    )
}

/// The JSON snapshot of an entity for the log.
pub fn snapshot<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn activity(
        &self,
        ctx: &Ctx,
        filter: ActivityFilter,
        page: Page,
    ) -> AppResult<Paged<Activity>> {
        // Who did what names staff and keys: the owner's and manager's view, as in the UI.
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| activity::list(sql, &tenant_id, &filter, &page))
            .await?)
    }
}
