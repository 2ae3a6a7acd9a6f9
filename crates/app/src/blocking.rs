//! Blocking a member (API.md "Back office"): a blocked member's orders are still recorded but
//! earn nothing (the receipt says `member_blocked`), their redemptions and voucher uses are
//! refused, and marketing leaves them out. Unblocking gives back the status they had: member
//! when they were ever activated, else customer. Each change is one transaction with its
//! activity entry (the reason in it) and a `member.updated` event.

use loyalty_core::event::{EventType, member_changed};
use loyalty_core::id::MemberId;
use loyalty_core::member::{Member, MemberStatus};
use loyalty_core::tenancy::Access;
use loyalty_store::repo::members;

use crate::activity::{Change, record};
use crate::events::raise;
use crate::{App, AppError, AppResult, Ctx};

/// The longest reason kept for a block.
const REASON_MAX: usize = 500;

impl App {
    /// `POST /api/v1/members/{id}/block` `{"reason"}`; blocking a blocked member changes nothing.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn block_member(&self, ctx: &Ctx, id: MemberId, reason: &str) -> AppResult<Member> {
        ctx.require(Access::Admin)?;
        let reason = reason.trim().to_string();
        if reason.is_empty() {
            return Err(AppError::invalid(
                "reason",
                "required",
                "say why the member is blocked",
            ));
        }
        if reason.chars().count() > REASON_MAX {
            return Err(AppError::invalid(
                "reason",
                "length",
                "at most 500 characters",
            ));
        }
        self.set_blocked(ctx, id, Some(reason)).await
    }

    /// `POST /api/v1/members/{id}/unblock`; unblocking a member who is not blocked changes
    /// nothing.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn unblock_member(&self, ctx: &Ctx, id: MemberId) -> AppResult<Member> {
        ctx.require(Access::Admin)?;
        self.set_blocked(ctx, id, None).await
    }

    /// Blocks (with a reason) or unblocks (`None`) the member under their row lock.
    async fn set_blocked(
        &self,
        ctx: &Ctx,
        id: MemberId,
        reason: Option<String>,
    ) -> AppResult<Member> {
        let now = self.now();
        let (ctx2, key) = (ctx.clone(), id.to_string());
        self.db
            .write_keyed(&key, move |sql| {
                let before = members::get_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                let status = match &reason {
                    Some(_) => MemberStatus::Blocked,
                    None => before.unblocked_status(),
                };
                if status == before.status {
                    return Ok(before);
                }
                let after = Member {
                    status,
                    updated_at: now,
                    ..before.clone()
                };
                members::update_state(sql, &ctx2.tenant_id, &after)?;
                let action = if reason.is_some() { "block" } else { "unblock" };
                let change = Change {
                    entity: "member",
                    id: &id,
                    action,
                };
                let was = serde_json::json!({"status": before.status.as_str()});
                let now_json =
                    serde_json::json!({"status": after.status.as_str(), "reason": reason});
                record(sql, &ctx2, now, change, Some(was), Some(now_json))?;
                raise(
                    sql,
                    &ctx2.tenant_id,
                    now,
                    &[member_changed(EventType::MemberUpdated, &after)],
                )?;
                Ok(after)
            })
            .await
    }
}
