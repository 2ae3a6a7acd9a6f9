//! The program settings use-cases.

use loyalty_core::portal::{SEALED_PREFIX, SECRET_SHOWN};
use loyalty_core::program::Program;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::tenants;

use crate::activity::{Change, record, snapshot};
use crate::{App, AppResult, Ctx};

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn program(&self, ctx: &Ctx) -> AppResult<Program> {
        ctx.require(Access::Read)?;
        Ok(shown(self.tenant(ctx).await?.program.clone()))
    }

    /// Replaces the settings. Points already earned keep the pending and expiry dates they were
    /// given; the new settings apply to what is earned from now on.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn set_program(&self, ctx: &Ctx, program: Program) -> AppResult<Program> {
        ctx.require(Access::Admin)?;
        program.validate()?;
        let before = self.tenant(ctx).await?.program.clone();
        let now = self.now();
        let ctx2 = ctx.clone();
        let wanted = program.clone();
        let app = self.clone();
        let kept_secret = before.portal.customer_token_secret.clone();
        self.db
            .write(move |sql| {
                // The customer token secret is written, never read back: `••••` (or anything
                // sealed already) keeps the one stored; a new one is sealed with the key.
                let mut saved = wanted.clone();
                let secret = &mut saved.portal.customer_token_secret;
                match secret.as_deref() {
                    Some(s) if s == SECRET_SHOWN || s.starts_with(SEALED_PREFIX) => {
                        *secret = kept_secret.clone();
                    }
                    Some(plain) => {
                        *secret = Some(format!("{SEALED_PREFIX}{}", app.seal_in(sql, plain)?));
                    }
                    None => {}
                }
                // The portal's address is the shop's alone (it finds the shop).
                let slug = saved.portal.slug.as_deref();
                if let Some(slug) = slug
                    && loyalty_store::repo::portal::slug_taken(sql, &ctx2.tenant_id, slug)?
                {
                    return Err(crate::AppError::invalid(
                        "portal.slug",
                        "taken",
                        "another shop's portal has this address",
                    ));
                }
                loyalty_store::repo::portal::set_slug(sql, &ctx2.tenant_id, slug)?;
                crate::referrals::check_settings(sql, &ctx2.tenant_id, &saved.referral)?;
                let json = serde_json::to_string(&saved).map_err(anyhow::Error::from)?;
                tenants::set_program(sql, &ctx2.tenant_id, &json, &saved.timezone, now)?;
                let change = Change {
                    entity: "program",
                    id: &ctx2.tenant_id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&saved))?;
                Ok::<_, crate::AppError>(())
            })
            .await?;
        self.forget_tenant(&ctx.tenant_id);
        Ok(shown(program))
    }
}

/// The settings as shown: a customer token secret as `••••`.
fn shown(mut program: Program) -> Program {
    if program.portal.customer_token_secret.is_some() {
        program.portal.customer_token_secret = Some(SECRET_SHOWN.to_string());
    }
    program
}
