//! The loyalty platform's use-cases. Each public method of [`App`] is one business action: it
//! checks the caller's access, asks `core` what to do, and writes everything the action changes
//! (including its activity-log entry) in one transaction through the `store` engine.

pub mod activity;
pub mod api_keys;
pub mod auth;
pub mod automation_presets;
pub mod automation_starts;
pub mod automation_steps;
pub mod automations;
pub mod blocking;
pub mod campaign_audience;
pub mod campaign_results;
pub mod campaigns;
pub mod catalog;
pub mod channels;
pub mod connections;
pub mod consent;
pub mod context;
pub mod error;
pub mod events;
pub mod exports;
pub mod gifts;
pub mod history;
pub mod idempotency;
pub mod imports;
pub mod inbound;
pub mod instances;
pub mod jobs;
pub mod members;
pub mod merging;
pub mod message_links;
pub mod message_reports;
pub mod message_sender;
pub mod order_buyer;
pub mod order_lines;
pub mod orders;
pub mod points;
pub mod portal;
pub mod products;
pub mod program;
pub mod queue;
pub mod quote;
pub mod rate_limit;
pub mod referrals;
pub mod rewards;
pub mod rule_behaviour;
pub mod rules;
pub mod secrets;
pub mod segments;
pub mod sessions;
pub mod staff;
pub mod tenants;
pub mod throttle;
pub mod tiers;
pub mod vouchers;
pub mod webhook_sender;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use loyalty_core::clock::Clock;
use loyalty_core::program::Program;
use loyalty_core::rules::EarnRule;
use loyalty_core::tenancy::Tenant;
use loyalty_core::tier::Tier;
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
    logins: Arc<throttle::SignInGuard>,
    tenants: Arc<RwLock<HashMap<String, Arc<TenantInfo>>>>,
    /// Bumped when a tenant's settings change (see `TenantCache::generation`).
    tenants_generation: Arc<std::sync::atomic::AtomicU64>,
    rules: Arc<TenantCache<Vec<EarnRule>>>,
    ladders: Arc<TenantCache<Vec<Tier>>>,
    rates: Arc<rate_limit::RateLimiter>,
    /// Requests per second per API key, unless the key has its own.
    rate_limit_per_key: i64,
    /// Who this instance is when it takes a job lease.
    instance: String,
    /// Wakes this instance's queue runner when a job was enqueued here.
    queue_wake: Arc<tokio::sync::Notify>,
    /// The key secrets are sealed with at rest (`app::secrets`), when the server has one.
    secret_key: Option<secrets::SecretKey>,
    /// The webhook HTTP client and whether it may reach private addresses.
    outbound: Arc<webhooks::Outbound>,
    /// The base of the absolute links the server hands out (`--public-url`), when set.
    public_url: Option<String>,
}

/// Per-tenant values read on the order path and changed rarely (earning rules, the tier
/// ladder), each kept for [`SETTINGS_CACHE_TTL`] after it was read.
pub(crate) struct TenantCache<T> {
    entries: RwLock<HashMap<String, (Arc<T>, Instant)>>,
    /// Bumped by every `forget`: a load that began before a change must not store what it read
    /// after the change dropped the entry (it would hold the old value for a whole TTL).
    generation: std::sync::atomic::AtomicU64,
}

impl<T> Default for TenantCache<T> {
    fn default() -> Self {
        TenantCache {
            entries: RwLock::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl<T> TenantCache<T> {
    /// The tenant's value, from the cache while fresh, else from `load` (and then cached).
    pub(crate) async fn get_or_load<F, Fut>(&self, tenant_id: &str, load: F) -> AppResult<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = AppResult<T>>,
    {
        let cached = self
            .entries
            .read()
            .ok()
            .and_then(|m| m.get(tenant_id).cloned());
        if let Some((found, at)) = cached
            && at.elapsed() < SETTINGS_CACHE_TTL
        {
            return Ok(found);
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let value = Arc::new(load().await?);
        if let Ok(mut entries) = self.entries.write()
            && self.generation.load(std::sync::atomic::Ordering::SeqCst) == generation
        {
            entries.insert(tenant_id.to_string(), (value.clone(), Instant::now()));
        }
        Ok(value)
    }

    /// Drops the tenant's value after a change (made here, or heard of from another instance).
    pub(crate) fn forget(&self, tenant_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            entries.remove(tenant_id);
        }
    }

    /// Drops every tenant's value (changes may have been missed).
    pub(crate) fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            entries.clear();
        }
    }
}

/// How long an instance trusts its cached tenant settings and rules. A change applies at once
/// on every instance (`instances`); this bounds it should an instance miss the word.
pub const SETTINGS_CACHE_TTL: Duration = Duration::from_secs(10);

/// A tenant with its time zone and program settings, cached because nearly every request
/// needs them.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub tenant: Tenant,
    pub zone: TimeZone,
    pub program: Program,
    loaded_at: Instant,
}

impl App {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> App {
        App {
            db,
            clock,
            keys: Arc::new(auth::KeyCache::default()),
            logins: Arc::new(throttle::SignInGuard::default()),
            tenants: Arc::new(RwLock::new(HashMap::new())),
            tenants_generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            rules: Arc::new(TenantCache::default()),
            ladders: Arc::new(TenantCache::default()),
            rates: Arc::new(rate_limit::RateLimiter::default()),
            rate_limit_per_key: rate_limit::DEFAULT_RATE_PER_S,
            instance: loyalty_core::id::new_id("inst"),
            queue_wake: Arc::new(tokio::sync::Notify::new()),
            secret_key: None,
            outbound: Arc::new(webhooks::Outbound::new(false)),
            public_url: None,
        }
    }

    /// Sets the key secrets are sealed with (`LOYALTY_SECRET_KEY` or the key file).
    pub fn with_secret_key(mut self, key: Option<secrets::SecretKey>) -> App {
        self.secret_key = key;
        self
    }

    /// The base of the absolute links the server hands out (`--public-url`).
    pub fn with_public_url(mut self, url: Option<String>) -> App {
        self.public_url = url.map(|u| u.trim_end_matches('/').to_string());
        self
    }

    /// An absolute link when the server knows its public URL, else the path alone.
    pub fn public_link(&self, path: &str) -> String {
        match &self.public_url {
            Some(base) => format!("{base}{path}"),
            None => path.to_string(),
        }
    }

    /// Lets webhook endpoints be on loopback or private addresses (`--allow-private-webhooks`:
    /// a self-hosted box may need its LAN; a shared service must not be an SSRF proxy).
    pub fn with_private_webhooks(mut self, allow: bool) -> App {
        self.outbound = Arc::new(webhooks::Outbound::new(allow));
        self
    }

    /// Sets the server's requests per second per API key (`--rate-limit-per-key`).
    pub fn with_rate_limit_per_key(mut self, per_s: i64) -> App {
        self.rate_limit_per_key = per_s.max(1);
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The tenant of the request with its settings, from the cache.
    pub async fn tenant(&self, ctx: &Ctx) -> AppResult<Arc<TenantInfo>> {
        self.tenant_by_id(&ctx.tenant_id).await
    }

    pub(crate) async fn tenant_by_id(&self, tenant_id: &str) -> AppResult<Arc<TenantInfo>> {
        let cached = self
            .tenants
            .read()
            .ok()
            .and_then(|m| m.get(tenant_id).cloned());
        if let Some(found) = cached.filter(|t| t.loaded_at.elapsed() < SETTINGS_CACHE_TTL) {
            return Ok(found);
        }
        let generation = self
            .tenants_generation
            .load(std::sync::atomic::Ordering::SeqCst);
        let id = tenant_id.to_string();
        let (tenant, program) = self
            .db
            .read(move |sql| {
                let Some(tenant) = tenant_rows::get(sql, &id)? else {
                    return Ok(None);
                };
                let program = tenant_rows::program(sql, &id)?;
                Ok::<_, AppError>(Some((tenant, program)))
            })
            .await?
            .ok_or(AppError::NotFound { entity: "tenant" })?;
        let zone = TimeZone::get(&tenant.timezone).map_err(|e| {
            anyhow::anyhow!(
                "tenant {} has time zone {}: {e}",
                tenant.id,
                tenant.timezone
            )
        })?;
        let mut program: Program = serde_json::from_str(&program).map_err(|e| {
            anyhow::anyhow!("tenant {} has unreadable program settings: {e}", tenant.id)
        })?;
        program.timezone = tenant.timezone.clone();
        let info = Arc::new(TenantInfo {
            tenant,
            zone,
            program,
            loaded_at: Instant::now(),
        });
        if let Ok(mut cache) = self.tenants.write()
            && self
                .tenants_generation
                .load(std::sync::atomic::Ordering::SeqCst)
                == generation
        {
            cache.insert(tenant_id.to_string(), info.clone());
        }
        Ok(info)
    }

    fn forget_tenant(&self, tenant_id: &str) {
        if let Ok(mut cache) = self.tenants.write() {
            self.tenants_generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            cache.remove(tenant_id);
        }
    }

    fn forget_all_tenants(&self) {
        if let Ok(mut cache) = self.tenants.write() {
            self.tenants_generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            cache.clear();
        }
    }

    /// Today's date where the tenant is.
    pub async fn today(&self, ctx: &Ctx) -> AppResult<Date> {
        let info = self.tenant(ctx).await?;
        Ok(self.now().to_zoned_datetime(info.zone.clone()).date())
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[tokio::test]
    async fn a_load_overtaken_by_a_change_is_not_kept() {
        let cache: TenantCache<u32> = TenantCache::default();
        let (started, wait) = tokio::sync::oneshot::channel::<()>();
        let (go, release) = tokio::sync::oneshot::channel::<()>();
        let slow = cache.get_or_load("t", || async move {
            let _ = started.send(());
            let _ = release.await;
            Ok(1) // read before the change
        });
        let change = async {
            let _ = wait.await;
            cache.forget("t"); // the change commits, then drops the entry
            let _ = go.send(());
        };
        let (old, ()) = tokio::join!(slow, change);
        assert_eq!(*old.unwrap(), 1);
        let fresh = cache.get_or_load("t", || async { Ok(2) }).await.unwrap();
        assert_eq!(*fresh, 2, "the value read before the change was not cached");
    }
}
