//! Membership tiers: the ladder, upgrades in the order's transaction, reviews, overrides, and
//! what a member look-up shows about their tier. The rules themselves are in `core::tier`.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use loyalty_core::event::{EventType, Raised};
use loyalty_core::id::{MemberId, new_id};
use loyalty_core::input::changes::validate_tier_override;
use loyalty_core::member::Member;
use loyalty_core::program::{Program, TierMetric};
use loyalty_core::tenancy::{Access, Actor};
use loyalty_core::tier::{self, BrandDiscount, Tier, check_ladder, check_tier};
use loyalty_core::tier_moves;
use loyalty_store::repo::members;
use loyalty_store::repo::tiers::{self as ladder_rows, TierChange};
use loyalty_store::{Page, Paged, Sql};

use crate::activity::{Change, record, snapshot};
use crate::queue::{JobKind, enqueue_in, job};
use crate::{App, AppError, AppResult, Ctx, TenantInfo};

/// A tier as written; on update, absent fields keep their values.
#[derive(Debug, Clone, Default)]
pub struct TierInput {
    pub name: Option<String>,
    pub rank: Option<i64>,
    pub threshold: Option<i64>,
    pub earn_multiplier: Option<f64>,
    pub discount_percent: Option<i64>,
    pub brand_discounts: Option<Vec<BrandDiscount>>,
}

/// A member with what their tier means today.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub member: Member,
    pub tier: Option<Tier>,
    /// The next tier's name and how much more of the metric it needs.
    pub next_tier: Option<(String, i64)>,
    /// The qualifying value now (spend, points or orders over the window).
    pub tier_value: i64,
}

pub use loyalty_core::tier_moves::{REASON_IMPORT, REASON_OVERRIDE, REASON_REVIEW, REASON_UPGRADE};

impl App {
    /// The tenant's ladder, lowest rank first, from a short-lived cache.
    pub(crate) async fn ladder(&self, tenant_id: &str) -> AppResult<Arc<Vec<Tier>>> {
        let id = tenant_id.to_string();
        self.ladders
            .get_or_load(tenant_id, || async {
                Ok(self.db.read(move |sql| ladder_rows::list(sql, &id)).await?)
            })
            .await
    }

    fn forget_ladder(&self, tenant_id: &str) {
        self.ladders.forget(tenant_id);
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn tiers(&self, ctx: &Ctx) -> AppResult<Vec<Tier>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| ladder_rows::list(sql, &tenant_id))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_tier(&self, ctx: &Ctx, input: TierInput) -> AppResult<Tier> {
        ctx.require(Access::Admin)?;
        let mut missing = loyalty_core::Invalid::default();
        for (field, given) in [
            ("name", input.name.is_some()),
            ("rank", input.rank.is_some()),
            ("threshold", input.threshold.is_some()),
        ] {
            if !given {
                missing.required(field);
            }
        }
        if !missing.is_empty() {
            return Err(missing.into());
        }
        let now = self.now();
        let ctx2 = ctx.clone();
        let tier = self
            .db
            .write(move |sql| {
                let mut ladder = ladder_rows::list(sql, &ctx2.tenant_id)?;
                let t = fill(None, &input, now)?;
                ladder.push(t.clone());
                check(&ladder)?;
                ladder_rows::insert(sql, &ctx2.tenant_id, &t)?;
                let change = Change {
                    entity: "tier",
                    id: &t.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&t))?;
                enqueue_in(sql, &reevaluation(&ctx2.tenant_id, now), now)?;
                Ok::<_, AppError>(t)
            })
            .await?;
        self.ladder_changed(ctx);
        Ok(tier)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_tier(&self, ctx: &Ctx, id: String, input: TierInput) -> AppResult<Tier> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        let tier = self
            .db
            .write(move |sql| {
                let mut ladder = ladder_rows::list(sql, &ctx2.tenant_id)?;
                let index = ladder
                    .iter()
                    .position(|t| t.id == id)
                    .ok_or(AppError::NotFound { entity: "tier" })?;
                let before = ladder[index].clone();
                let after = fill(Some(&before), &input, now)?;
                ladder[index] = after.clone();
                check(&ladder)?;
                ladder_rows::update(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "tier",
                    id: &id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                enqueue_in(sql, &reevaluation(&ctx2.tenant_id, now), now)?;
                Ok::<_, AppError>(after)
            })
            .await?;
        self.ladder_changed(ctx);
        Ok(tier)
    }

    /// Deletes a tier; its members move, in the background, to the tier their value supports.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn delete_tier(&self, ctx: &Ctx, id: String) -> AppResult<()> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let ladder = ladder_rows::list(sql, &ctx2.tenant_id)?;
                let before = ladder
                    .iter()
                    .find(|t| t.id == id)
                    .cloned()
                    .ok_or(AppError::NotFound { entity: "tier" })?;
                ladder_rows::delete(sql, &ctx2.tenant_id, &id)?;
                let change = Change {
                    entity: "tier",
                    id: &id,
                    action: "delete",
                };
                record(sql, &ctx2, now, change, snapshot(&before), None)?;
                enqueue_in(sql, &reevaluation(&ctx2.tenant_id, now), now)?;
                Ok::<_, AppError>(())
            })
            .await?;
        self.ladder_changed(ctx);
        Ok(())
    }

    /// After the ladder changed: its change enqueued the re-evaluation of the tenant's members
    /// (in its transaction, so a crash cannot lose it); the queue runs it at once, and the API
    /// answers without waiting. Upgrades apply then; a member whose tier was deleted moves to
    /// the tier their value supports; other downgrades wait for the review.
    fn ladder_changed(&self, ctx: &Ctx) {
        self.forget_ladder(&ctx.tenant_id);
        self.wake_queue();
    }

    /// Re-evaluates every member of a tenant against the current ladder.
    pub async fn reevaluate_tenant(&self, tenant_id: &str) -> AppResult<u64> {
        let info = self.tenant_by_id(tenant_id).await?;
        // The queue may run this on another instance than the one that changed the ladder:
        // its cached copy may be the old ladder, so read it again.
        self.forget_ladder(tenant_id);
        let ladder = self.ladder(tenant_id).await?;
        let mut after = String::new();
        let mut changed = 0;
        loop {
            let (id, from) = (tenant_id.to_string(), after.clone());
            let page = self
                .db
                .read(move |sql| members::ids_after(sql, &id, &from, 500))
                .await?;
            let Some(last) = page.last() else { break };
            after = last.clone();
            for member_id in page {
                let (info, ladder, tenant, now) = (
                    info.clone(),
                    ladder.clone(),
                    tenant_id.to_string(),
                    self.now(),
                );
                let key = member_id.clone();
                let moved = self
                    .db
                    .write_keyed(&key, move |sql| {
                        let Some(mut m) = members::get_for_update(sql, &tenant, &member_id)? else {
                            return Ok(false);
                        };
                        let tier_gone = m
                            .tier_id
                            .as_ref()
                            .is_some_and(|id| !ladder.iter().any(|t| &t.id == id));
                        let change = if tier_gone && !m.tier_overridden {
                            let value =
                                qualifying_value(sql, &tenant, &m, &info.program, &info.zone, now)?;
                            let to = tier::qualifying(&ladder, value).cloned();
                            Some(tier_moves::move_to(
                                &mut m,
                                to.as_ref(),
                                REASON_REVIEW,
                                value,
                                None,
                                now,
                                setting(&info),
                            ))
                        } else {
                            upgrade_if_qualified(sql, &tenant, &mut m, &ladder, &info, now, None)?
                        };
                        match change {
                            Some(mut c) => {
                                c.actor = Some(Actor::system("tier ladder changed"));
                                record_moves(sql, &tenant, &[c])?;
                                m.updated_at = now;
                                members::update_state(sql, &tenant, &m)?;
                                Ok::<_, AppError>(true)
                            }
                            None => Ok(false),
                        }
                    })
                    .await?;
                changed += u64::from(moved);
            }
        }
        Ok(changed)
    }

    /// Sets a member's tier by hand until `until` (or until changed again), with a reason.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, member_id = %member_id))]
    pub async fn override_tier(
        &self,
        ctx: &Ctx,
        member_id: MemberId,
        tier_id: Option<String>,
        until: Option<Timestamp>,
        reason: String,
    ) -> AppResult<MemberView> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let reason = validate_tier_override(&reason, until, now)?;
        let info = self.tenant(ctx).await?;
        let ladder = self.ladder(&ctx.tenant_id).await?;
        let target =
            match &tier_id {
                Some(id) => Some(ladder.iter().find(|t| &t.id == id).cloned().ok_or_else(
                    || AppError::invalid("tier_id", "tier.not_found", "no such tier"),
                )?),
                None => None,
            };
        let (ctx2, key) = (ctx.clone(), member_id.clone());
        let member = self
            .db
            .write_keyed(&key, move |sql| {
                let mut m = members::get_for_update(sql, &ctx2.tenant_id, &member_id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                let before = snapshot(&m);
                let value =
                    qualifying_value(sql, &ctx2.tenant_id, &m, &info.program, &info.zone, now)?;
                let mut change = tier_moves::move_to(
                    &mut m,
                    target.as_ref(),
                    REASON_OVERRIDE,
                    value,
                    Some(reason.clone()),
                    now,
                    setting(&info),
                );
                m.tier_overridden = true;
                m.tier_override_until = until;
                change.actor = Some(ctx2.actor.clone());
                record_moves(sql, &ctx2.tenant_id, std::slice::from_ref(&change))?;
                m.updated_at = now;
                members::update_state(sql, &ctx2.tenant_id, &m)?;
                let activity = Change {
                    entity: "member",
                    id: &m.id,
                    action: "tier_override",
                };
                record(sql, &ctx2, now, activity, before, snapshot(&m))?;
                Ok::<_, AppError>(m)
            })
            .await?;
        Ok(self.member_views(ctx, vec![member], None).await?.remove(0))
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, member_id = %member_id))]
    pub async fn tier_history(
        &self,
        ctx: &Ctx,
        member_id: MemberId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        page: Page,
    ) -> AppResult<Paged<TierChange>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| {
                let member = members::get(sql, &tenant_id, &member_id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                Ok(ladder_rows::history(
                    sql, &tenant_id, &member.id, from, to, &page,
                )?)
            })
            .await
    }

    /// Members with their tier, progress to the next tier and qualifying value — computed in
    /// one query for the whole page when the window is not lifetime.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn member_views(
        &self,
        ctx: &Ctx,
        members: Vec<Member>,
        brand: Option<&str>,
    ) -> AppResult<Vec<MemberView>> {
        let info = self.tenant(ctx).await?;
        let ladder = self.ladder(&ctx.tenant_id).await?;
        let _ = brand;
        if ladder.is_empty() {
            return Ok(members
                .into_iter()
                .map(|member| MemberView {
                    member,
                    tier: None,
                    next_tier: None,
                    tier_value: 0,
                })
                .collect());
        }
        let now = self.now();
        let values = {
            let (tenant_id, list, info) = (ctx.tenant_id.clone(), members.clone(), info.clone());
            self.db
                .read(move |sql| {
                    qualifying_values(sql, &tenant_id, &list, &info.program, &info.zone, now)
                })
                .await?
        };
        Ok(members
            .into_iter()
            .zip(values)
            .map(|(member, value)| {
                let tier = member
                    .tier_id
                    .as_ref()
                    .and_then(|id| ladder.iter().find(|t| &t.id == id))
                    .cloned();
                let next_tier = tier::progress(&ladder, tier.as_ref().map(|t| t.rank), value)
                    .map(|(t, remaining)| (t.name.clone(), remaining));
                MemberView {
                    member,
                    tier,
                    next_tier,
                    tier_value: value,
                }
            })
            .collect())
    }

    /// Reviews the members whose review date has come or whose override has ended (leased,
    /// with the points job).
    pub async fn review_tiers(&self, now: Timestamp) -> AppResult<u64> {
        let mut done = 0;
        for tenant in self.db.read(loyalty_store::repo::tenants::list).await? {
            let ladder = self.ladder(&tenant.id).await?;
            let info = self.tenant_by_id(&tenant.id).await?;
            loop {
                let tenant_id = tenant.id.clone();
                let due = self
                    .db
                    .read(move |sql| members::due_for_review(sql, &tenant_id, now, 500))
                    .await?;
                if due.is_empty() {
                    break;
                }
                for member_id in due {
                    let (ladder, info, tenant_id, key) = (
                        ladder.clone(),
                        info.clone(),
                        tenant.id.clone(),
                        member_id.clone(),
                    );
                    self.db
                        .write_keyed(&key, move |sql| {
                            let Some(mut m) = members::get_for_update(sql, &tenant_id, &member_id)?
                            else {
                                return Ok(());
                            };
                            if let Some(mut c) =
                                review_member(sql, &tenant_id, &mut m, &ladder, &info, now)?
                            {
                                c.actor = Some(Actor::system("tier review"));
                                record_moves(sql, &tenant_id, &[c])?;
                            }
                            m.updated_at = now;
                            members::update_state(sql, &tenant_id, &m)?;
                            Ok::<_, AppError>(())
                        })
                        .await?;
                    done += 1;
                }
            }
        }
        Ok(done)
    }
}

fn fill(current: Option<&Tier>, input: &TierInput, now: Timestamp) -> AppResult<Tier> {
    let name = input
        .name
        .clone()
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    let rank = input.rank.or(current.map(|c| c.rank)).unwrap_or(0);
    let threshold = input
        .threshold
        .or(current.map(|c| c.threshold))
        .unwrap_or(-1);
    let multiplier = input
        .earn_multiplier
        .or(current.map(|c| c.earn_multiplier()))
        .unwrap_or(1.0);
    let discount = input
        .discount_percent
        .or(current.map(|c| c.discount_percent))
        .unwrap_or(0);
    let brands = input
        .brand_discounts
        .clone()
        .or_else(|| current.map(|c| c.brand_discounts.clone()))
        .unwrap_or_default();
    let f = check_tier(&name, rank, threshold, multiplier, discount, &brands)?;
    Ok(Tier {
        id: current.map_or_else(|| new_id("tie"), |c| c.id.clone()),
        name: f.name,
        rank: f.rank,
        threshold: f.threshold,
        earn_multiplier_per_mille: f.earn_multiplier_per_mille,
        discount_percent: f.discount_percent,
        brand_discounts: f.brand_discounts,
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: now,
    })
}

fn check(ladder: &[Tier]) -> AppResult<()> {
    let entries: Vec<(i64, i64, &str)> = ladder
        .iter()
        .map(|t| (t.rank, t.threshold, t.name.as_str()))
        .collect();
    Ok(check_ladder(&entries)?)
}

/// Where the member's count starts now: the window's start, or the current reset cycle's if
/// later; and what was carried into the cycle. `None` start counts everything.
fn count_from(
    m: &Member,
    program: &Program,
    zone: &TimeZone,
    now: Timestamp,
) -> (Option<Timestamp>, i64) {
    let window = tier::window_start(&program.tiers.window, now, zone);
    if program.tiers.reset_on_review
        && let Some(cycle) = m.tier_cycle_start
    {
        return (Some(window.map_or(cycle, |w| w.max(cycle))), m.tier_carry);
    }
    (window, 0)
}

fn pick(metric: TierMetric, spend: i64, orders: i64, points: i64) -> i64 {
    match metric {
        TierMetric::Spend => spend,
        TierMetric::Orders => orders,
        TierMetric::PointsEarned => points,
    }
}

/// An order being posted in the current transaction, whose row is not written yet: counted
/// as if it were.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub placed_at: Timestamp,
    pub spend: i64,
    pub points: i64,
}

/// The qualifying value with an in-flight order counted: member counters already include it,
/// windowed sums over order rows do not.
fn qualifying_value_with(
    sql: &mut dyn Sql,
    tenant_id: &str,
    m: &Member,
    info: &TenantInfo,
    now: Timestamp,
    in_flight: Option<InFlight>,
) -> AppResult<i64> {
    let value = qualifying_value(sql, tenant_id, m, &info.program, &info.zone, now)?;
    let (start, _) = count_from(m, &info.program, &info.zone, now);
    Ok(match (start, in_flight) {
        (Some(start), Some(order)) if order.placed_at >= start => {
            // A qualifying value is only compared with thresholds: it saturates, never wraps.
            value.saturating_add(pick(
                info.program.tiers.metric,
                order.spend,
                1,
                order.points,
            ))
        }
        _ => value,
    })
}

/// The member's qualifying value now.
pub(crate) fn qualifying_value(
    sql: &mut dyn Sql,
    tenant_id: &str,
    m: &Member,
    program: &Program,
    zone: &TimeZone,
    now: Timestamp,
) -> AppResult<i64> {
    Ok(qualifying_values(sql, tenant_id, std::slice::from_ref(m), program, zone, now)?[0])
}

/// Qualifying values for several members: from their counters for a lifetime window, else one
/// grouped query over their orders.
fn qualifying_values(
    sql: &mut dyn Sql,
    tenant_id: &str,
    list: &[Member],
    program: &Program,
    zone: &TimeZone,
    now: Timestamp,
) -> AppResult<Vec<i64>> {
    let metric = program.tiers.metric;
    let starts: Vec<(Option<Timestamp>, i64)> = list
        .iter()
        .map(|m| count_from(m, program, zone, now))
        .collect();
    let windowed: Vec<&str> = list
        .iter()
        .zip(&starts)
        .filter(|(_, (start, _))| start.is_some())
        .map(|(m, _)| m.id.as_str())
        .collect();
    let mut totals: HashMap<String, (i64, i64, i64)> = HashMap::new();
    if !windowed.is_empty() {
        // Members may have different cycle starts: query from the earliest, then refine per
        // member only when starts differ (reset cycles).
        let earliest = starts.iter().filter_map(|(s, _)| *s).min().unwrap_or(now);
        let all_same = starts.iter().filter_map(|(s, _)| *s).all(|s| s == earliest);
        if all_same {
            for (id, spend, orders, points) in
                members::order_totals(sql, tenant_id, &windowed, earliest)?
            {
                totals.insert(id, (spend, orders, points));
            }
        } else {
            for (m, (start, _)) in list.iter().zip(&starts) {
                if let Some(start) = start {
                    for (id, spend, orders, points) in
                        members::order_totals(sql, tenant_id, &[m.id.as_str()], *start)?
                    {
                        totals.insert(id, (spend, orders, points));
                    }
                }
            }
        }
    }
    Ok(list
        .iter()
        .zip(starts)
        .map(|(m, (start, carry))| match start {
            None => pick(metric, m.lifetime_spend, m.order_count, m.lifetime_points),
            Some(_) => {
                let (spend, orders, points) =
                    totals.get(m.id.as_str()).copied().unwrap_or_default();
                carry.saturating_add(pick(metric, spend, orders, points))
            }
        })
        .collect())
}

/// The program's tier settings and the tenant's zone, as `core::tier_moves` takes them.
pub(crate) fn setting(info: &TenantInfo) -> tier_moves::Setting<'_> {
    tier_moves::Setting {
        program: &info.program,
        zone: &info.zone,
    }
}

/// Upgrades the member when their value reaches a higher tier (never downgrades; reviews do).
/// Called in the order's transaction, after the order's counters are applied: loads the
/// qualifying value, and core decides.
pub(crate) fn upgrade_if_qualified(
    sql: &mut dyn Sql,
    tenant_id: &str,
    m: &mut Member,
    ladder: &[Tier],
    info: &TenantInfo,
    now: Timestamp,
    in_flight: Option<InFlight>,
) -> AppResult<Option<TierChange>> {
    if !tier_moves::may_upgrade(m, ladder, now) {
        return Ok(None);
    }
    let value = qualifying_value_with(sql, tenant_id, m, info, now, in_flight)?;
    Ok(tier_moves::upgrade(m, ladder, value, now, setting(info)))
}

/// A review: the member keeps the highest tier their value supports now (perhaps lower); an
/// ended override is lifted the same way. Core decides; the value is read only when due.
fn review_member(
    sql: &mut dyn Sql,
    tenant_id: &str,
    m: &mut Member,
    ladder: &[Tier],
    info: &TenantInfo,
    now: Timestamp,
) -> AppResult<Option<TierChange>> {
    let (due, override_ended) = tier_moves::review_due(m, now);
    if !due {
        return Ok(None);
    }
    let value = qualifying_value(sql, tenant_id, m, &info.program, &info.zone, now)?;
    Ok(tier_moves::review(
        m,
        ladder,
        value,
        override_ended,
        now,
        setting(info),
    ))
}

/// Records tier moves and raises their `tier.changed` events, in the caller's transaction.
pub(crate) fn record_moves(
    sql: &mut dyn Sql,
    tenant_id: &str,
    changes: &[TierChange],
) -> AppResult<()> {
    let Some(first) = changes.first() else {
        return Ok(());
    };
    let raised = write_moves(sql, tenant_id, changes)?;
    crate::events::raise(sql, tenant_id, first.at, &raised)
}

/// Records tier moves and returns their `tier.changed` events for the caller to raise after
/// the events of what caused them (the order, the new member).
pub(crate) fn write_moves(
    sql: &mut dyn Sql,
    tenant_id: &str,
    changes: &[TierChange],
) -> AppResult<Vec<Raised>> {
    if !changes.is_empty() {
        ladder_rows::record_many(sql, tenant_id, changes)?;
    }
    Ok(changes.iter().map(tier_changed).collect())
}

/// `tier.changed`: the member, the tiers left and reached, and why.
fn tier_changed(c: &TierChange) -> Raised {
    let tier = |t: &Option<(String, String)>| {
        t.as_ref()
            .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
    };
    let data = serde_json::json!({
        "member_id": c.member_id,
        "from": tier(&c.from),
        "to": tier(&c.to),
        "reason": c.reason,
        "value": c.value,
        "at": c.at,
    });
    Raised::new(EventType::TierChanged, Some(&c.member_id), &data)
}

/// The job that re-evaluates a tenant's members after its ladder changed.
fn reevaluation(tenant_id: &str, now: Timestamp) -> loyalty_store::repo::queue::NewJob {
    let key = format!("{tenant_id}:{}", new_id("chg"));
    job(JobKind::TiersReevaluate, tenant_id, key, now)
}
