//! The loyalty platform's use-cases. Each public method of [`App`] is one business action: it
//! checks the caller's access, asks `core` what to do, and writes everything the action changes
//! (including its activity-log entry) in one transaction through the `store` engine.

pub mod activity;
pub mod api_keys;
pub mod auth;
pub mod catalog;
pub mod context;
pub mod error;
pub mod members;
pub mod staff;
pub mod tenants;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use loyalty_core::clock::Clock;
use loyalty_core::tenancy::Tenant;
use loyalty_store::Db;
use loyalty_store::repo::tenants as tenant_rows;

pub use context::Ctx;
pub use error::{AppError, AppResult};

/// Everything a use-case needs: the database, the clock and a few caches.
#[derive(Clone)]
pub struct App {
    db: Db,
    clock: Arc<dyn Clock>,
    keys: Arc<auth::KeyCache>,
    tenants: Arc<RwLock<HashMap<String, Arc<TenantInfo>>>>,
}

/// A tenant with its time zone resolved, cached because nearly every request needs it.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub tenant: Tenant,
    pub zone: TimeZone,
}

impl App {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> App {
        App {
            db,
            clock,
            keys: Arc::new(auth::KeyCache::default()),
            tenants: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The tenant of the request, from the cache.
    pub async fn tenant(&self, ctx: &Ctx) -> AppResult<Arc<TenantInfo>> {
        if let Some(found) = self
            .tenants
            .read()
            .ok()
            .and_then(|m| m.get(&ctx.tenant_id).cloned())
        {
            return Ok(found);
        }
        let tenant_id = ctx.tenant_id.clone();
        let tenant = self
            .db
            .read(move |sql| tenant_rows::get(sql, &tenant_id))
            .await?
            .ok_or(AppError::NotFound { entity: "tenant" })?;
        let zone = TimeZone::get(&tenant.timezone).map_err(|e| {
            anyhow::anyhow!(
                "tenant {} has time zone {}: {e}",
                tenant.id,
                tenant.timezone
            )
        })?;
        let info = Arc::new(TenantInfo { tenant, zone });
        if let Ok(mut cache) = self.tenants.write() {
            cache.insert(ctx.tenant_id.clone(), info.clone());
        }
        Ok(info)
    }

    /// Today's date where the tenant is.
    pub async fn today(&self, ctx: &Ctx) -> AppResult<Date> {
        let info = self.tenant(ctx).await?;
        Ok(self.now().to_zoned_datetime(info.zone.clone()).date())
    }
}
