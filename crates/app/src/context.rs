use loyalty_core::id::TenantId;
use loyalty_core::tenancy::{Access, Actor, Scope, grants};

use crate::error::{AppError, AppResult};

/// Who is asking, for which tenant, with which rights. Built by authentication; every use-case
/// takes one and checks the access it needs first.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub tenant_id: TenantId,
    pub actor: Actor,
    pub scopes: Vec<Scope>,
}

impl Ctx {
    pub fn require(&self, access: Access) -> AppResult<()> {
        if grants(&self.scopes, access) {
            Ok(())
        } else {
            let needed = match access {
                Access::Read => "read",
                Access::Pos => "pos",
                Access::Admin => "admin",
            };
            Err(AppError::Forbidden(format!(
                "this key's scopes do not allow {needed} operations"
            )))
        }
    }

    /// The command line, acting on one tenant with full rights.
    pub fn cli(tenant_id: &str) -> Ctx {
        Ctx {
            tenant_id: TenantId::from(tenant_id),
            actor: Actor::cli(),
            scopes: vec![Scope::Admin],
        }
    }
}
