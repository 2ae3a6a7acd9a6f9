//! The rewards catalogue: members spend points on a voucher or a gift. Spending the points,
//! taking one from stock and issuing the voucher happen in one transaction; two members racing
//! for the last item take turns on the reward's row, and one of them is told it is gone.

use std::collections::BTreeMap;

use jiff::Timestamp;
use loyalty_core::code::random_code;
use loyalty_core::event::{EventType, Raised};
use loyalty_core::id::{MemberId, new_id};
use loyalty_core::reward;
use loyalty_core::tenancy::Access;
use loyalty_core::voucher::CodeKind;
use loyalty_store::repo::rewards::{self as catalogue, Reward, RewardRedemption};
use loyalty_store::repo::vouchers as codes;
use serde::Serialize;

use crate::activity::{Change, record, snapshot};
use crate::points::Book;
use crate::{App, AppError, AppResult, Ctx};
use loyalty_core::book::EntryKind;

/// A reward as posted; on update, absent fields keep their values.
#[derive(Debug, Clone, Default)]
pub struct RewardInput {
    pub name: Option<String>,
    pub points_cost: Option<i64>,
    pub kind: Option<String>,
    pub voucher_program_id: Option<Option<String>>,
    pub stock: Option<Option<i64>>,
    pub per_member_limit: Option<Option<i64>>,
    pub tiers: Option<Vec<String>>,
    pub active: Option<bool>,
    pub starts_at: Option<Option<Timestamp>>,
    pub ends_at: Option<Option<Timestamp>>,
}

/// A redemption and, for a voucher reward, the code issued.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Redeemed {
    pub redemption: RewardRedemption,
    pub voucher_valid_until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RewardReport {
    pub reward_id: String,
    pub redemptions: i64,
    pub points_spent: i64,
    pub stock_left: Option<i64>,
    pub by_day: Vec<RewardDay>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RewardDay {
    pub day: String,
    pub redemptions: i64,
    pub points_spent: i64,
}

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_reward(&self, ctx: &Ctx, input: RewardInput) -> AppResult<Reward> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let reward = build(sql, &ctx2.tenant_id, None, &input, now)?;
                catalogue::insert(sql, &ctx2.tenant_id, &reward)?;
                let change = Change {
                    entity: "reward",
                    id: &reward.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&reward))?;
                Ok(reward)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_reward(
        &self,
        ctx: &Ctx,
        id: String,
        input: RewardInput,
    ) -> AppResult<Reward> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let before = catalogue::get_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "reward" })?;
                let after = build(sql, &ctx2.tenant_id, Some(&before), &input, now)?;
                catalogue::update(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "reward",
                    id: &id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                Ok(after)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn rewards(&self, ctx: &Ctx) -> AppResult<Vec<Reward>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| catalogue::list(sql, &tenant_id))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn reward(&self, ctx: &Ctx, id: String) -> AppResult<Reward> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| catalogue::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound { entity: "reward" })
    }

    /// Spends a member's points on a reward (đổi thưởng).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, member_id = %member_id, reward_id = %reward_id))]
    pub async fn redeem_reward(
        &self,
        ctx: &Ctx,
        member_id: MemberId,
        reward_id: String,
    ) -> AppResult<Redeemed> {
        ctx.require(Access::Pos)?;
        let now = self.now();
        let (ctx2, key) = (ctx.clone(), member_id.clone());
        self.db
            .write_keyed(&key, move |sql| {
                let tenant_id = ctx2.tenant_id.as_str();
                let mut book =
                    Book::open(sql, tenant_id, &member_id, now, Some(ctx2.actor.clone()))?
                        .ok_or(AppError::NotFound { entity: "member" })?;
                let reward =
                    catalogue::get_for_update(sql, tenant_id, &reward_id)?.ok_or_else(|| {
                        AppError::invalid("reward_id", "reward.not_found", "no reward with this id")
                    })?;
                let redeemed_before = match reward.per_member_limit {
                    Some(_) => {
                        catalogue::member_redemptions(sql, tenant_id, &reward.id, &member_id)?
                    }
                    None => 0,
                };
                let plan = reward::redeem(&reward, &book.member, redeemed_before, now).map_err(
                    |refusal| AppError::Conflict {
                        code: refusal.code(),
                        field: Some(refusal.field().to_string()),
                        message: refusal.message(),
                    },
                )?;
                let entry = book.spend(
                    sql,
                    EntryKind::Redeem,
                    plan.points,
                    None,
                    Some(&plan.reason),
                    "points_redeemed",
                )?;
                book.save(sql)?;
                let mut raised = vec![crate::events::points_moved(
                    EventType::PointsSpent,
                    &book.member,
                    &entry,
                )];
                let (voucher_code, valid_until) = match &plan.issue_from {
                    Some(program_id) => {
                        let program =
                            codes::get_program(sql, tenant_id, program_id)?.ok_or_else(|| {
                                AppError::Internal(anyhow::anyhow!(
                                    "reward {} has no program",
                                    reward.id
                                ))
                            })?;
                        let mut issued = Vec::new();
                        while issued.is_empty() {
                            let draw = format!(
                                "{}{}",
                                program.code_prefix,
                                random_code(program.code_length as usize)
                            );
                            issued = codes::insert_codes(
                                sql,
                                tenant_id,
                                &program.id,
                                Some(&member_id),
                                &[draw],
                                "reward",
                                now,
                            )?;
                        }
                        (issued.pop(), program.valid_until)
                    }
                    None => (None, None),
                };
                catalogue::update(sql, tenant_id, &plan.reward)?;
                let redemption = RewardRedemption {
                    id: new_id("rrd"),
                    reward_id: reward.id.clone(),
                    member_id: member_id.clone(),
                    points_spent: plan.points,
                    ledger_entry_id: entry.id,
                    fulfilment: plan.fulfilment.to_string(),
                    voucher_code,
                    created_at: now,
                    updated_at: now,
                };
                catalogue::insert_redemption(sql, tenant_id, &redemption)?;
                let data = serde_json::json!({"redemption": snapshot(&redemption)});
                raised.insert(
                    0,
                    Raised::new(EventType::RewardRedeemed, Some(&member_id), &data),
                );
                if let Some(code) = &redemption.voucher_code {
                    raised.push(crate::vouchers::issued_event(
                        code,
                        reward.voucher_program_id.as_deref(),
                        Some(&member_id),
                        valid_until,
                    ));
                }
                crate::events::raise(sql, tenant_id, now, &raised)?;
                let change = Change {
                    entity: "member",
                    id: &member_id,
                    action: "redeem_reward",
                };
                record(sql, &ctx2, now, change, None, snapshot(&redemption))?;
                Ok(Redeemed {
                    redemption,
                    voucher_valid_until: valid_until,
                })
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn reward_report(&self, ctx: &Ctx, id: String) -> AppResult<RewardReport> {
        ctx.require(Access::Read)?;
        let info = self.tenant(ctx).await?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .snapshot(move |sql| {
                let reward = catalogue::get(sql, &tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "reward" })?;
                let mut by_day: BTreeMap<String, RewardDay> = BTreeMap::new();
                let (mut count, mut points) = (0, 0);
                for (at, spent) in catalogue::redemptions_of(sql, &tenant_id, &reward.id)? {
                    let day = at.to_zoned_datetime(info.zone.clone()).date().to_string();
                    let line = by_day.entry(day.clone()).or_insert(RewardDay {
                        day,
                        redemptions: 0,
                        points_spent: 0,
                    });
                    line.redemptions += 1;
                    line.points_spent = line.points_spent.saturating_add(spent);
                    count += 1;
                    points = i64::saturating_add(points, spent);
                }
                Ok(RewardReport {
                    reward_id: reward.id,
                    redemptions: count,
                    points_spent: points,
                    stock_left: reward.stock,
                    by_day: by_day.into_values().collect(),
                })
            })
            .await
    }
}

fn build(
    sql: &mut dyn loyalty_store::Sql,
    tenant_id: &str,
    current: Option<&Reward>,
    input: &RewardInput,
    now: Timestamp,
) -> AppResult<Reward> {
    let mut e = loyalty_core::Invalid::default();
    let name = input
        .name
        .clone()
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    let name = e.label("name", &name);
    let points_cost = input
        .points_cost
        .or(current.map(|c| c.points_cost))
        .unwrap_or(0);
    loyalty_core::limits::within(
        &mut e,
        "points_cost",
        points_cost,
        1,
        loyalty_core::limits::MAX_POINTS,
    );
    let kind = input
        .kind
        .clone()
        .or_else(|| current.map(|c| c.kind.clone()))
        .unwrap_or_else(|| "gift".into());
    if kind != "voucher" && kind != "gift" {
        e.push_coded("kind", "reward.unknown_kind", "must be voucher or gift");
    }
    let program_id = input
        .voucher_program_id
        .clone()
        .unwrap_or_else(|| current.and_then(|c| c.voucher_program_id.clone()));
    match (&*kind, &program_id) {
        ("voucher", None) => e.push_coded(
            "voucher_program_id",
            "required",
            "a voucher reward names its voucher program",
        ),
        ("voucher", Some(id)) => match codes::get_program(sql, tenant_id, id)? {
            Some(p) if p.code_kind == CodeKind::Unique => {}
            Some(_) => e.push_coded(
                "voucher_program_id",
                "reward.program_not_unique",
                "the program must have unique codes",
            ),
            None => e.push_coded(
                "voucher_program_id",
                "voucher_program.not_found",
                "no voucher program with this id",
            ),
        },
        ("gift", Some(_)) => e.push_coded(
            "voucher_program_id",
            "reward.gift_has_program",
            "a gift has no voucher program",
        ),
        _ => {}
    }
    let stock = input.stock.unwrap_or_else(|| current.and_then(|c| c.stock));
    if let Some(stock) = stock {
        loyalty_core::limits::count(&mut e, "stock", stock);
    }
    let per_member_limit = input
        .per_member_limit
        .unwrap_or_else(|| current.and_then(|c| c.per_member_limit));
    if let Some(limit) = per_member_limit {
        loyalty_core::limits::within(
            &mut e,
            "per_member_limit",
            limit,
            1,
            loyalty_core::limits::MAX_COUNT,
        );
    }
    let tiers = input
        .tiers
        .clone()
        .or_else(|| current.map(|c| c.tiers.clone()))
        .unwrap_or_default();
    let starts_at = input
        .starts_at
        .unwrap_or_else(|| current.and_then(|c| c.starts_at));
    let ends_at = input
        .ends_at
        .unwrap_or_else(|| current.and_then(|c| c.ends_at));
    if let (Some(s), Some(end)) = (starts_at, ends_at)
        && s >= end
    {
        e.push_coded("ends_at", "range.to_before_from", "must be after starts_at");
    }
    if !e.is_empty() {
        return Err(e.into());
    }
    Ok(Reward {
        id: current.map_or_else(|| new_id("rew"), |c| c.id.clone()),
        name,
        points_cost,
        kind,
        voucher_program_id: program_id,
        stock,
        per_member_limit,
        tiers,
        active: input.active.or(current.map(|c| c.active)).unwrap_or(true),
        starts_at,
        ends_at,
        redeemed: current.map_or(0, |c| c.redeemed),
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: now,
    })
}
