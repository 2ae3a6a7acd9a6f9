//! The program settings use-cases.

use loyalty_core::program::Program;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::tenants;

use crate::activity::{Change, record, snapshot};
use crate::{App, AppResult, Ctx};

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn program(&self, ctx: &Ctx) -> AppResult<Program> {
        ctx.require(Access::Read)?;
        Ok(self.tenant(ctx).await?.program.clone())
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
        let saved = program.clone();
        self.db
            .write(move |sql| {
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
        Ok(program)
    }
}
