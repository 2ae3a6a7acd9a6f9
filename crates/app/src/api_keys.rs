use loyalty_core::id::KeyId;
use loyalty_core::tenancy::{Access, ApiKey, Scope};
use loyalty_store::repo::api_keys;
use loyalty_store::{Page, Paged};

use crate::activity::{Change, record, snapshot};
use crate::auth::generate_key;
use crate::{App, AppError, AppResult, Ctx};

pub use loyalty_core::input::staff::MAX_RATE_PER_S;
use loyalty_core::input::staff::validate_new_key;

/// A key just made, with its secret: the only time the secret is ever shown.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_api_key(
        &self,
        ctx: &Ctx,
        name: String,
        scopes: Vec<Scope>,
        rate_limit_per_s: Option<i64>,
    ) -> AppResult<CreatedKey> {
        ctx.require(Access::Admin)?;
        let (name, scopes) = validate_new_key(&name, &scopes, rate_limit_per_s)?;
        let now = self.now();
        let generated = generate_key();
        let key = ApiKey {
            id: KeyId::new(),
            name,
            prefix: generated.prefix.clone(),
            scopes,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            rate_limit_per_s,
        };
        let (ctx2, k, hash) = (ctx.clone(), key.clone(), generated.secret_hash.clone());
        self.db
            .write(move |sql| {
                api_keys::insert(sql, &ctx2.tenant_id, &k, &hash, ctx2.actor.id.as_deref())?;
                let change = Change {
                    entity: "api_key",
                    id: &k.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&k))
            })
            .await?;
        Ok(CreatedKey {
            key,
            secret: generated.full,
        })
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn api_keys(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<ApiKey>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| api_keys::list(sql, &tenant_id, &page))
            .await?)
    }

    /// Revokes a key; revoking it again is harmless and returns it as it is.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn revoke_api_key(&self, ctx: &Ctx, id: KeyId) -> AppResult<ApiKey> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        let revoked = self
            .db
            .write(move |sql| {
                let before = api_keys::get(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "api key" })?;
                if before.revoked_at.is_some() {
                    return Ok(before);
                }
                api_keys::revoke(sql, &ctx2.tenant_id, &id, now)?;
                let after = ApiKey {
                    revoked_at: Some(now),
                    ..before.clone()
                };
                let change = Change {
                    entity: "api_key",
                    id: &id,
                    action: "revoke",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                Ok::<_, AppError>(after)
            })
            .await?;
        self.keys.forget(&revoked.prefix);
        Ok(revoked)
    }
}
