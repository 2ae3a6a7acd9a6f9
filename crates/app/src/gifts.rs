//! Gift rewards waiting at the counter (API.md "Back office"): a redeemed gift is `pending`
//! until a store hands it over, or is cancelled — the points going back into the lots they
//! came from and the gift back into stock, in one transaction with its activity entry.

use loyalty_core::event::EventType;
use loyalty_core::reward::{self, Settle, SettleRefusal};
use loyalty_core::tenancy::Access;
use loyalty_store::repo::gifts as store;
pub use loyalty_store::repo::gifts::GiftRow;
use loyalty_store::repo::{rewards, stores};

use crate::activity::{Change, record};
use crate::points::Book;
use crate::{App, AppError, AppResult, Ctx};

/// The longest reason kept for a cancel.
const REASON_MAX: usize = 500;

impl App {
    /// Gift redemptions in one state, `pending` (oldest first: the queue), `handed_over` or
    /// `cancelled` (newest first); at most 500.
    pub async fn gifts(&self, ctx: &Ctx, fulfilment: &str) -> AppResult<Vec<GiftRow>> {
        ctx.require(Access::Read)?;
        if !matches!(fulfilment, "pending" | "handed_over" | "cancelled") {
            return Err(AppError::invalid(
                "fulfilment",
                "invalid",
                "pending, handed_over or cancelled",
            ));
        }
        let (tenant_id, state) = (ctx.tenant_id.clone(), fulfilment.to_string());
        Ok(self
            .db
            .read(move |sql| store::list(sql, &tenant_id, &state, 500))
            .await?)
    }

    /// `POST /api/v1/redemptions/{id}/hand-over` `{"store"}`: the gift left the counter of
    /// that store (one of the shop's store codes).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn hand_over_gift(
        &self,
        ctx: &Ctx,
        id: String,
        store_code: &str,
    ) -> AppResult<GiftRow> {
        ctx.require(Access::Pos)?;
        let store_code = store_code.trim().to_string();
        if store_code.is_empty() {
            return Err(AppError::invalid(
                "store",
                "required",
                "the store handing the gift over",
            ));
        }
        self.settle_gift(ctx, id, Settle::HandOver, store_code)
            .await
    }

    /// `POST /api/v1/redemptions/{id}/cancel` `{"reason"}`: the points go back to the member,
    /// the gift back into stock.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn cancel_gift(&self, ctx: &Ctx, id: String, reason: &str) -> AppResult<GiftRow> {
        ctx.require(Access::Pos)?;
        let reason = reason.trim().to_string();
        if reason.is_empty() {
            return Err(AppError::invalid(
                "reason",
                "required",
                "say why the gift is cancelled",
            ));
        }
        if reason.chars().count() > REASON_MAX {
            return Err(AppError::invalid(
                "reason",
                "length",
                "at most 500 characters",
            ));
        }
        self.settle_gift(ctx, id, Settle::Cancel, reason).await
    }

    /// Hands over (`detail` = the store) or cancels (`detail` = the reason) under the member's
    /// and the redemption's locks.
    async fn settle_gift(
        &self,
        ctx: &Ctx,
        id: String,
        action: Settle,
        detail: String,
    ) -> AppResult<GiftRow> {
        let now = self.now();
        let tenant_id = ctx.tenant_id.clone();
        let lookup = id.clone();
        // The member's queue key first, so the gift's transaction waits with their orders.
        let member_id = self
            .db
            .read(move |sql| store::member_of(sql, &tenant_id, &lookup))
            .await?
            .ok_or(AppError::NotFound {
                entity: "redemption",
            })?;
        let ctx2 = ctx.clone();
        self.db
            .write_keyed(&member_id.clone(), move |sql| {
                let tenant_id = ctx2.tenant_id.as_str();
                let mut book =
                    Book::open(sql, tenant_id, &member_id, now, Some(ctx2.actor.clone()))?
                        .ok_or(AppError::NotFound { entity: "member" })?;
                let gift =
                    store::get_for_update(sql, tenant_id, &id)?.ok_or(AppError::NotFound {
                        entity: "redemption",
                    })?;
                let next = reward::settle(&gift.fulfilment, action).map_err(refused)?;
                let Some(next) = next else {
                    return Ok(gift);
                };
                let (store_code, reason) = match action {
                    Settle::HandOver => {
                        if stores::by_code(sql, tenant_id, &detail)?.is_none() {
                            return Err(AppError::invalid(
                                "store",
                                "store.not_found",
                                "no store with this code",
                            ));
                        }
                        (Some(detail.as_str()), None)
                    }
                    Settle::Cancel => (None, Some(detail.as_str())),
                };
                let mut raised = Vec::new();
                if action == Settle::Cancel {
                    let why = format!("gift {} cancelled", gift.id);
                    if let Some(entry) = book.give_back_spend(sql, &gift.ledger_entry_id, &why)? {
                        book.save(sql)?;
                        raised.push(crate::events::points_moved(
                            EventType::PointsAdjusted,
                            &book.member,
                            &entry,
                        ));
                    }
                    if let Some(mut item) =
                        rewards::get_for_update(sql, tenant_id, &gift.reward_id)?
                        && let Some(stock) = item.stock
                    {
                        item.stock = Some(stock.saturating_add(1));
                        item.updated_at = now;
                        rewards::update(sql, tenant_id, &item)?;
                    }
                }
                store::settle(sql, tenant_id, &gift.id, next, store_code, reason, now)?;
                crate::events::raise(sql, tenant_id, now, &raised)?;
                let change = Change {
                    entity: "redemption",
                    id: &gift.id,
                    action: if action == Settle::Cancel {
                        "cancel"
                    } else {
                        "hand_over"
                    },
                };
                let after =
                    serde_json::json!({"fulfilment": next, "store": store_code, "reason": reason});
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    Some(serde_json::json!({"fulfilment": gift.fulfilment})),
                    Some(after),
                )?;
                store::get_for_update(sql, tenant_id, &gift.id)?.ok_or(AppError::NotFound {
                    entity: "redemption",
                })
            })
            .await
    }
}

fn refused(refusal: SettleRefusal) -> AppError {
    AppError::conflict(refusal.code(), "fulfilment", refusal.to_string())
}
