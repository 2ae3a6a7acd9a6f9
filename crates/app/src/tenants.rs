//! Creating a tenant: the merchant company, its owner account and its first admin API key.

use loyalty_core::id::{KeyId, TenantId, new_id};
use loyalty_core::input::staff::TenantFields;
use loyalty_core::tenancy::{ApiKey, DEFAULT_CURRENCY, Role, Scope, StaffUser, Tenant};
use loyalty_store::repo::{api_keys, staff, tenants};

use crate::activity::{Change, record, snapshot};
use crate::auth::{generate_key, hash_password};
use crate::{App, AppError, AppResult, Ctx};

pub use loyalty_core::input::staff::NewTenant;

/// The new tenant and the admin API key, shown this once.
#[derive(Debug, Clone)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub owner: StaffUser,
    pub api_key: String,
}

impl App {
    /// Bootstraps a merchant (`loyalty tenant create`).
    pub async fn create_tenant(&self, input: NewTenant) -> AppResult<CreatedTenant> {
        self.bootstrap(input, false).await
    }

    /// The first-run page's merchant: created only while the install has none, so of two
    /// setups racing on a fresh install (two instances, two browsers) exactly one wins; the
    /// other gets 409 `already_set_up`.
    pub async fn set_up_first_tenant(&self, input: NewTenant) -> AppResult<CreatedTenant> {
        self.bootstrap(input, true).await
    }

    async fn bootstrap(&self, input: NewTenant, only_the_first: bool) -> AppResult<CreatedTenant> {
        let TenantFields {
            name,
            owner_email: email,
            timezone,
        } = input.validate()?;
        let password_hash = hash_password(input.owner_password).await?;
        let now = self.now();
        let tenant = Tenant {
            id: TenantId::new(),
            name,
            timezone,
            currency: DEFAULT_CURRENCY.to_string(),
            created_at: now,
        };
        let owner = StaffUser {
            id: new_id("usr"),
            email: email.into_string(),
            name: None,
            role: Role::Owner,
            active: true,
            created_at: now,
            last_login_at: None,
        };
        let key = generate_key();
        let api_key = ApiKey {
            id: KeyId::new(),
            name: "Owner key".to_string(),
            prefix: key.prefix.clone(),
            scopes: vec![Scope::Admin],
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            rate_limit_per_s: None,
        };
        let ctx = Ctx::cli(&tenant.id);
        let (t, o, k, secret_hash) = (
            tenant.clone(),
            owner.clone(),
            api_key.clone(),
            key.secret_hash,
        );
        self.db
            .write(move |sql| {
                if only_the_first {
                    tenants::lock_first_run(sql)?;
                    if tenants::any(sql)? {
                        return Err(AppError::Conflict {
                            code: "already_set_up",
                            field: None,
                            message: "this installation already has a shop; sign in".into(),
                        });
                    }
                }
                tenants::insert(sql, &t)?;
                staff::insert(sql, &t.id, &o, &password_hash)?;
                api_keys::insert(sql, &t.id, &k, &secret_hash, None)?;
                let tenant_change = Change {
                    entity: "tenant",
                    id: &t.id,
                    action: "create",
                };
                record(sql, &ctx, now, tenant_change, None, snapshot(&t))?;
                let owner_change = Change {
                    entity: "staff_user",
                    id: &o.id,
                    action: "create",
                };
                record(sql, &ctx, now, owner_change, None, snapshot(&o))?;
                let key_change = Change {
                    entity: "api_key",
                    id: &k.id,
                    action: "create",
                };
                record(sql, &ctx, now, key_change, None, snapshot(&k))?;
                Ok::<_, AppError>(())
            })
            .await?;
        Ok(CreatedTenant {
            tenant,
            owner,
            api_key: key.full,
        })
    }

    pub async fn tenants(&self) -> AppResult<Vec<Tenant>> {
        Ok(self.db.read(tenants::list).await?)
    }
}
