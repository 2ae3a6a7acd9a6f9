//! Bonus earning rules: create, change, delete, list, and preview on past orders.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use loyalty_core::id::new_id;
use loyalty_core::order::Line;
use loyalty_core::rules::{Caps, EarnRule, MemberFacts, OrderFacts, RuleParts, check_rule};
use loyalty_core::tenancy::Access;
use loyalty_store::repo::{members, orders, rules};
use serde::Serialize;
use serde_json::Value;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx, TenantInfo};

/// A rule as posted; on update, absent fields keep their values.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub starts_at: Option<Option<String>>,
    pub ends_at: Option<Option<String>>,
    pub conditions: Option<Value>,
    pub effect: Option<Value>,
    pub caps: Option<Caps>,
}

/// What a rule would have given on past orders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulePreview {
    pub orders_scanned: i64,
    pub orders_matched: i64,
    pub members: i64,
    pub points: i64,
    /// The points' value at `redeem.point_value`, in the program's currency.
    pub cost: i64,
}

fn rule_json(r: &EarnRule) -> Value {
    serde_json::json!({
        "name": r.name, "active": r.active, "starts_at": r.starts_at, "ends_at": r.ends_at,
        "conditions": r.conditions_json, "effect": r.effect.to_json(), "caps": r.caps,
    })
}

fn parts(
    input: &RuleInput,
    current: Option<&EarnRule>,
) -> Result<RuleParts, loyalty_core::Invalid> {
    let stamp = |t: Option<Timestamp>| t.map(|t| t.to_string());
    let name = input
        .name
        .clone()
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    let active = input.active.or(current.map(|c| c.active)).unwrap_or(true);
    let starts_at = input
        .starts_at
        .clone()
        .unwrap_or_else(|| stamp(current.and_then(|c| c.starts_at)));
    let ends_at = input
        .ends_at
        .clone()
        .unwrap_or_else(|| stamp(current.and_then(|c| c.ends_at)));
    let conditions = input
        .conditions
        .clone()
        .or_else(|| current.map(|c| c.conditions_json.clone()))
        .unwrap_or(Value::Null);
    let effect = input
        .effect
        .clone()
        .or_else(|| current.map(|c| c.effect.to_json()))
        .unwrap_or(Value::Null);
    let caps = input.caps.or(current.map(|c| c.caps)).unwrap_or_default();
    check_rule(
        &name,
        active,
        starts_at.as_deref(),
        ends_at.as_deref(),
        &conditions,
        &effect,
        caps,
    )
}

impl App {
    /// The tenant's rules, from a short-lived cache (the order path reads them on every order).
    pub(crate) async fn cached_rules(&self, tenant_id: &str) -> AppResult<Arc<Vec<EarnRule>>> {
        let id = tenant_id.to_string();
        self.rules
            .get_or_load(tenant_id, || async {
                Ok(self.db.read(move |sql| rules::list(sql, &id)).await?)
            })
            .await
    }

    fn forget_rules(&self, tenant_id: &str) {
        self.rules.forget(tenant_id);
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn earn_rules(&self, ctx: &Ctx) -> AppResult<Vec<EarnRule>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| rules::list(sql, &tenant_id))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn earn_rule(&self, ctx: &Ctx, id: String) -> AppResult<EarnRule> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| rules::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound {
                entity: "earn rule",
            })
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_earn_rule(&self, ctx: &Ctx, input: RuleInput) -> AppResult<EarnRule> {
        ctx.require(Access::Admin)?;
        let p = parts(&input, None)?;
        let now = self.now();
        let rule = EarnRule {
            id: new_id("rul"),
            name: p.name,
            active: p.active,
            starts_at: p.starts_at,
            ends_at: p.ends_at,
            conditions_json: p.conditions_json,
            condition: p.condition,
            effect: p.effect,
            caps: p.caps,
            awarded_points: 0,
            created_at: now,
            updated_at: now,
        };
        let ctx2 = ctx.clone();
        let saved = self
            .db
            .write(move |sql| {
                rules::insert(sql, &ctx2.tenant_id, &rule)?;
                let change = Change {
                    entity: "earn_rule",
                    id: &rule.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, Some(rule_json(&rule)))?;
                Ok::<_, AppError>(rule.clone())
            })
            .await?;
        self.forget_rules(&ctx.tenant_id);
        Ok(saved)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_earn_rule(
        &self,
        ctx: &Ctx,
        id: String,
        input: RuleInput,
    ) -> AppResult<EarnRule> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        let saved = self
            .db
            .write(move |sql| {
                let before = rules::get(sql, &ctx2.tenant_id, &id)?.ok_or(AppError::NotFound {
                    entity: "earn rule",
                })?;
                let p = parts(&input, Some(&before))?;
                let after = EarnRule {
                    name: p.name,
                    active: p.active,
                    starts_at: p.starts_at,
                    ends_at: p.ends_at,
                    conditions_json: p.conditions_json,
                    condition: p.condition,
                    effect: p.effect,
                    caps: p.caps,
                    updated_at: now,
                    ..before.clone()
                };
                rules::update(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "earn_rule",
                    id: &id,
                    action: "update",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    Some(rule_json(&before)),
                    Some(rule_json(&after)),
                )?;
                Ok::<_, AppError>(after)
            })
            .await?;
        self.forget_rules(&ctx.tenant_id);
        Ok(saved)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn delete_earn_rule(&self, ctx: &Ctx, id: String) -> AppResult<()> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let before = rules::get(sql, &ctx2.tenant_id, &id)?.ok_or(AppError::NotFound {
                    entity: "earn rule",
                })?;
                rules::delete(sql, &ctx2.tenant_id, &id)?;
                let change = Change {
                    entity: "earn_rule",
                    id: &id,
                    action: "delete",
                };
                record(sql, &ctx2, now, change, Some(rule_json(&before)), None)?;
                Ok::<_, AppError>(())
            })
            .await?;
        self.forget_rules(&ctx.tenant_id);
        Ok(())
    }

    /// Replays a draft rule over the members' orders placed in [from, to), writing nothing.
    /// Members are seen as they are now (tags, tier, birthday); caps apply as if the rule had
    /// been live over the period.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn preview_earn_rule(
        &self,
        ctx: &Ctx,
        input: RuleInput,
        from: Timestamp,
        to: Timestamp,
    ) -> AppResult<RulePreview> {
        ctx.require(Access::Read)?;
        let p = parts(&input, None)?;
        if from >= to {
            return Err(AppError::invalid(
                "to",
                "range.to_before_from",
                "must be after from",
            ));
        }
        let info = self.tenant(ctx).await?;
        let tenant_id = ctx.tenant_id.clone();
        let questions = p.condition.behaviours();
        self.db
            .snapshot(move |sql| {
                let mut preview = RulePreview {
                    orders_scanned: 0,
                    orders_matched: 0,
                    members: 0,
                    points: 0,
                    cost: 0,
                };
                let mut members_seen: HashSet<String> = HashSet::new();
                let mut per_day: HashMap<(String, String), i64> = HashMap::new();
                let mut after = String::new();
                loop {
                    let page = orders::for_preview(sql, &tenant_id, from, to, &after, 1000)?;
                    let Some((last, _)) = page.last() else { break };
                    after = last.id.to_string();
                    let ids: HashSet<&str> = page
                        .iter()
                        .filter_map(|(o, _)| o.member_id.as_deref())
                        .collect();
                    let ids: Vec<&str> = ids.into_iter().collect();
                    let people: HashMap<String, MemberFacts> =
                        members::get_many(sql, &tenant_id, &ids)?
                            .into_iter()
                            .map(|m| (m.id.to_string(), member_facts(&m, None)))
                            .collect();
                    let firsts = crate::rule_behaviour::first_times_of(
                        sql, &tenant_id, &ids, &questions, &info.zone,
                    )?;
                    for (order, lines) in &page {
                        preview.orders_scanned += 1;
                        let Some(member_id) = order.member_id.as_deref() else {
                            continue;
                        };
                        let Some(member) = people.get(member_id) else {
                            continue;
                        };
                        // What the member had done before this order, as the till would ask.
                        let mut member = member.clone();
                        let before = loyalty_core::clock::to_millis(order.placed_at);
                        for (q, first) in &firsts {
                            let did = first.get(member_id).is_some_and(|t| *t < before);
                            member.behaviour.insert(q.clone(), did);
                        }
                        let member = &member;
                        let facts = order_facts(
                            &info,
                            order.placed_at,
                            order.total,
                            order.member_index.unwrap_or(1),
                            &order.channel,
                            &order.store,
                            &order.brand,
                            lines,
                        );
                        if !p.condition.matches(&facts, member) {
                            continue;
                        }
                        let day = facts.local.date().to_string();
                        let used_today = per_day
                            .get(&(member_id.to_string(), day.clone()))
                            .copied()
                            .unwrap_or(0);
                        let bonus = p
                            .effect
                            .bonus(&p.condition, &facts, member, order.base_points);
                        let given = p.caps.apply(bonus, used_today, preview.points);
                        preview.orders_matched += 1;
                        if given > 0 {
                            members_seen.insert(member_id.to_string());
                            let today = per_day.entry((member_id.to_string(), day)).or_default();
                            *today = today.saturating_add(given);
                            preview.points = preview.points.saturating_add(given);
                        }
                    }
                }
                preview.members = members_seen.len() as i64;
                preview.cost = preview
                    .points
                    .saturating_mul(info.program.redeem.point_value);
                Ok(preview)
            })
            .await
    }
}

/// What rules see of a member.
pub(crate) fn member_facts(
    m: &loyalty_core::member::Member,
    tier_name: Option<String>,
) -> MemberFacts {
    MemberFacts {
        tier: tier_name,
        tier_id: m.tier_id.clone(),
        tags: m.profile.tags.clone(),
        birthday: m.profile.birthday,
        behaviour: std::collections::HashMap::new(),
    }
}

/// What rules see of an order, with its time in the tenant's zone and calendar.
#[allow(
    clippy::too_many_arguments,
    reason = "the order's fields, named at the call site"
)]
pub(crate) fn order_facts(
    info: &TenantInfo,
    placed_at: Timestamp,
    total: i64,
    index: i64,
    channel: &Option<String>,
    store: &Option<String>,
    brand: &Option<String>,
    lines: &[Line],
) -> OrderFacts {
    let order = loyalty_core::earning::Order {
        placed_at,
        total,
        shipping: 0,
        points_redeemed: 0,
        channel,
        store,
        brand,
        lines,
    };
    loyalty_core::earning::facts(order, &info.zone, index)
}
