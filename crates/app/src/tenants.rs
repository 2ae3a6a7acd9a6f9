//! Creating a tenant: the merchant company, its owner account and its first admin API key.

use jiff::tz::TimeZone;
use loyalty_core::Invalid;
use loyalty_core::email::Email;
use loyalty_core::id::{KeyId, TenantId, new_id};
use loyalty_core::tenancy::{
    ApiKey, DEFAULT_CURRENCY, DEFAULT_TIMEZONE, Role, Scope, StaffUser, Tenant,
};
use loyalty_store::repo::{api_keys, staff, tenants};

use crate::activity::{Change, record, snapshot};
use crate::auth::{check_password, generate_key, hash_password};
use crate::{App, AppResult, Ctx};

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub owner_email: String,
    pub owner_password: String,
    pub timezone: Option<String>,
}

/// The new tenant and the admin API key, shown this once.
#[derive(Debug, Clone)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub owner: StaffUser,
    pub api_key: String,
}

impl App {
    /// Bootstraps a merchant (`loyalty tenant create`, and the first-run page of the admin UI).
    pub async fn create_tenant(&self, input: NewTenant) -> AppResult<CreatedTenant> {
        let mut errors = Invalid::default();
        let name = errors.label("name", &input.name);
        let email = errors.check("owner_email", Email::parse(&input.owner_email));
        errors.check("owner_password", check_password(&input.owner_password));
        let timezone = input
            .timezone
            .unwrap_or_else(|| DEFAULT_TIMEZONE.to_string());
        if TimeZone::get(&timezone).is_err() {
            errors.push("timezone", format!("{timezone} is not an IANA time zone"));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let email = email.expect("checked above");
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
                record(sql, &ctx, now, key_change, None, snapshot(&k))
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
