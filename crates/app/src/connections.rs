//! Web-store and POS connections as an admin sets them up, and their logs. What the platforms
//! send is received in `app::inbound`.

use jiff::Timestamp;
use loyalty_connect::connection::{ConnectionIn, ConnectionPatchIn};
use loyalty_core::id::new_id;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::connections::{self as store, ConnectionRow, InboundRow};
use loyalty_store::{Page, Paged};
use serde::Serialize;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

/// A connection as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionView {
    pub id: String,
    pub platform: String,
    pub name: String,
    /// The URL to paste into the platform's webhook settings.
    pub webhook_url: String,
    pub store: Option<String>,
    pub brand: Option<String>,
    pub has_verify_token: bool,
    pub active: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// One message that came in, and what became of it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboundView {
    pub id: String,
    pub topic: String,
    /// The platform's order id, when the message was about an order.
    pub order_ref: Option<String>,
    /// Our order.
    pub order_id: Option<String>,
    /// `applied` (something changed), `ignored` (nothing to do), `error`.
    pub result: String,
    pub detail: Option<String>,
    pub error: Option<String>,
    /// How many times the platform sent it (its retries).
    pub receipts: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_received_at: Timestamp,
}

impl From<InboundRow> for InboundView {
    fn from(r: InboundRow) -> Self {
        InboundView {
            id: r.id,
            topic: r.topic,
            order_ref: r.order_ref,
            order_id: r.order_id,
            result: r.result,
            detail: r.detail,
            error: r.error,
            receipts: r.receipts,
            received_at: r.received_at,
            last_received_at: r.last_received_at,
        }
    }
}

impl App {
    fn connection_view(&self, c: &ConnectionRow) -> ConnectionView {
        ConnectionView {
            id: c.id.clone(),
            platform: c.platform.clone(),
            name: c.name.clone(),
            webhook_url: self.public_link(&format!("/hooks/{}/{}", c.platform, c.id)),
            store: c.store.clone(),
            brand: c.brand.clone(),
            has_verify_token: c.verify_token_sealed.is_some(),
            active: c.active,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_connection(
        &self,
        ctx: &Ctx,
        input: ConnectionIn,
    ) -> AppResult<ConnectionView> {
        ctx.require(Access::Admin)?;
        let fields = input.validate()?;
        let now = self.now();
        let (app, ctx2) = (self.clone(), ctx.clone());
        self.db
            .write(move |sql| {
                let row = ConnectionRow {
                    id: new_id("con"),
                    platform: fields.platform.as_str().to_string(),
                    name: fields.name.clone(),
                    secret_sealed: app.seal_in(sql, &fields.secret)?,
                    verify_token_sealed: match &fields.verify_token {
                        Some(t) => Some(app.seal_in(sql, t)?),
                        None => None,
                    },
                    store: fields.store.clone(),
                    brand: fields.brand.clone(),
                    active: true,
                    created_at: now,
                    updated_at: now,
                };
                store::insert(sql, &ctx2.tenant_id, &row)?;
                let view = app.connection_view(&row);
                let change = Change {
                    entity: "connection",
                    id: &row.id,
                    action: "create",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    None,
                    serde_json::to_value(&view).ok(),
                )?;
                Ok(view)
            })
            .await
    }

    pub async fn connection(&self, ctx: &Ctx, id: String) -> AppResult<ConnectionView> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        let row = self
            .db
            .read(move |sql| store::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound {
                entity: "connection",
            })?;
        Ok(self.connection_view(&row))
    }

    pub async fn connections(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<ConnectionView>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        let found = self
            .db
            .read(move |sql| store::list(sql, &tenant_id, &page))
            .await?;
        Ok(found.map(|c| self.connection_view(&c)))
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_connection(
        &self,
        ctx: &Ctx,
        id: String,
        input: ConnectionPatchIn,
    ) -> AppResult<ConnectionView> {
        ctx.require(Access::Admin)?;
        let patch = input.validate()?;
        let now = self.now();
        let (app, ctx2) = (self.clone(), ctx.clone());
        self.db
            .write(move |sql| {
                let before = store::get(sql, &ctx2.tenant_id, &id)?.ok_or(AppError::NotFound {
                    entity: "connection",
                })?;
                let mut after = before.clone();
                if let Some(name) = &patch.name {
                    after.name = name.clone();
                }
                if let Some(secret) = &patch.secret {
                    after.secret_sealed = app.seal_in(sql, secret)?;
                }
                if let Some(token) = &patch.verify_token {
                    after.verify_token_sealed = match token {
                        Some(t) => Some(app.seal_in(sql, t)?),
                        None => None,
                    };
                }
                if let Some(store) = &patch.store {
                    after.store = store.clone();
                }
                if let Some(brand) = &patch.brand {
                    after.brand = brand.clone();
                }
                if let Some(active) = patch.active {
                    after.active = active;
                }
                if after == before {
                    return Ok(app.connection_view(&before));
                }
                after.updated_at = now;
                store::update(sql, &ctx2.tenant_id, &after)?;
                let (old, new) = (app.connection_view(&before), app.connection_view(&after));
                let change = Change {
                    entity: "connection",
                    id: &after.id,
                    action: "update",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    serde_json::to_value(&old).ok(),
                    serde_json::to_value(&new).ok(),
                )?;
                Ok(new)
            })
            .await
    }

    pub async fn delete_connection(&self, ctx: &Ctx, id: String) -> AppResult<()> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                if !store::delete(sql, &ctx2.tenant_id, &id)? {
                    return Err(AppError::NotFound {
                        entity: "connection",
                    });
                }
                let change = Change {
                    entity: "connection",
                    id: &id,
                    action: "delete",
                };
                record(sql, &ctx2, now, change, None, None)?;
                Ok(())
            })
            .await
    }

    /// What came in on the connection, newest first.
    pub async fn connection_deliveries(
        &self,
        ctx: &Ctx,
        id: String,
        page: Page,
    ) -> AppResult<Paged<InboundView>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| {
                store::get(sql, &tenant_id, &id)?.ok_or(AppError::NotFound {
                    entity: "connection",
                })?;
                Ok(store::inbound(sql, &tenant_id, &id, &page)?.map(InboundView::from))
            })
            .await
    }
}
