//! The consent history: what each consent change writes beside it, and the member's history
//! as the API shows it.

use jiff::Timestamp;
use loyalty_core::consent::{self, ConsentChange, ConsentSource};
use loyalty_core::id::{MemberId, new_id};
use loyalty_core::member::Consent;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::{consent as store, members};
use loyalty_store::{DbError, Page, Paged, Sql};

use crate::{App, AppError, AppResult, Ctx};

/// The history entries of one member's consent moving from `before` (`None`: a new member)
/// to `after`, made by `ctx` from `source`.
pub(crate) fn changes_of(
    ctx: &Ctx,
    source: ConsentSource,
    member_id: &str,
    before: Option<&Consent>,
    after: &Consent,
    now: Timestamp,
) -> Vec<ConsentChange> {
    consent::changes(before, after)
        .into_iter()
        .map(|(channel, granted)| ConsentChange {
            id: new_id("cns"),
            member_id: member_id.to_string(),
            channel: channel.to_string(),
            granted,
            source,
            actor: ctx.actor.clone(),
            at: now,
        })
        .collect()
}

/// Records one member's consent changes, if any.
pub(crate) fn record(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    source: ConsentSource,
    member_id: &str,
    before: Option<&Consent>,
    after: &Consent,
    now: Timestamp,
) -> Result<(), DbError> {
    let changes = changes_of(ctx, source, member_id, before, after, now);
    store::record(sql, &ctx.tenant_id, &changes)
}

impl App {
    /// A member's consent history, newest first.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn consent_history(
        &self,
        ctx: &Ctx,
        id: MemberId,
        page: Page,
    ) -> AppResult<Paged<ConsentChange>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| {
                let member = members::get(sql, &tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                Ok(store::list(sql, &tenant_id, member.id.as_str(), &page)?)
            })
            .await
    }
}
