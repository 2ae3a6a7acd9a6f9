//! Automations (API.md "Automations"): a journey set up once — a trigger and its steps —
//! checked when saved (core's rules, then the channels, templates, programs and segments the
//! steps name), switched on and off, edited (an edit applies to runs that start after it).
//! Runs are started by `automation_starts` and moved on by `automation_steps`.

use jiff::Timestamp;
use loyalty_core::Invalid;
use loyalty_core::automation::{self as rules, Automation, RunStatus, Step, Trigger};
use loyalty_core::id::new_id;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::{automations as store, segments};
use serde::{Deserialize, Serialize};

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

/// Most channels a `send` step may fall back through (as a campaign).
const MAX_CHANNELS: usize = 5;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AutomationIn {
    pub name: String,
    /// Switched on at once (the default) or saved off.
    #[serde(default)]
    pub active: Option<bool>,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AutomationPatch {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub trigger: Option<Trigger>,
    pub steps: Option<Vec<Step>>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AutomationView {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

impl From<&Automation> for AutomationView {
    fn from(a: &Automation) -> Self {
        AutomationView {
            id: a.id.clone(),
            name: a.name.clone(),
            active: a.active,
            trigger: a.trigger.clone(),
            steps: a.steps.clone(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// A member's way through an automation (API.md: `GET /api/v1/automations/{id}/runs`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunView {
    pub id: String,
    pub automation_id: String,
    pub member_id: String,
    /// The member's name (none when they have none, or were erased).
    pub member_name: Option<String>,
    /// The trigger's occurrence the run is for (`birthday:2027`, `order:ord_…`).
    pub occurrence: String,
    pub status: RunStatus,
    /// The step to do next.
    pub step: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_at: Option<Timestamp>,
    /// What each step did: `{"step", "at", "result"}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub log: Vec<serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// What an automation did (API.md: `GET /api/v1/automations/{id}/report`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AutomationReport {
    /// Runs started.
    pub entered: i64,
    pub done: i64,
    pub stopped: i64,
    pub failed: i64,
    /// Messages handed to a provider.
    pub messages: i64,
    pub vouchers_issued: i64,
    pub vouchers_redeemed: i64,
    /// Orders of members within 7 days after a message of the automation, and their revenue
    /// (đồng, refunds taken off).
    pub orders: i64,
    pub revenue: i64,
}

impl From<store::Totals> for AutomationReport {
    fn from(t: store::Totals) -> Self {
        AutomationReport {
            entered: t.entered,
            done: t.done,
            stopped: t.stopped,
            failed: t.failed,
            messages: t.messages,
            vouchers_issued: t.vouchers_issued,
            vouchers_redeemed: t.vouchers_redeemed,
            orders: t.orders,
            revenue: t.revenue,
        }
    }
}

/// Runs started and finished and messages sent, per automation (the list's columns).
pub use store::Counts as AutomationCounts;

/// Days after a message its member's orders are counted for the automation.
const ATTRIBUTION_DAYS: i64 = 7;

/// Most runs one read returns (newest first).
const RUNS_SHOWN: i64 = 200;

impl App {
    /// An automation's runs, newest first, optionally of one member.
    pub async fn automation_runs(
        &self,
        ctx: &Ctx,
        id: String,
        member_id: Option<String>,
    ) -> AppResult<Vec<RunView>> {
        ctx.require(Access::Read)?;
        self.load_automation(&ctx.tenant_id, &id).await?;
        let tenant_id = ctx.tenant_id.to_string();
        self.db
            .read(move |sql| {
                let runs = store::runs(sql, &tenant_id, &id, member_id.as_deref(), RUNS_SHOWN)?;
                run_views(sql, &tenant_id, runs)
            })
            .await
            .map_err(Into::into)
    }

    /// A member's runs through every automation, newest first (the member's profile).
    pub async fn member_automation_runs(
        &self,
        ctx: &Ctx,
        member_id: String,
    ) -> AppResult<Vec<RunView>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.to_string();
        self.db
            .read(move |sql| {
                let runs = store::member_runs(sql, &tenant_id, &member_id, RUNS_SHOWN)?;
                run_views(sql, &tenant_id, runs)
            })
            .await
            .map_err(Into::into)
    }

    /// Every automation's runs and messages, for the list.
    pub async fn automation_counts(
        &self,
        ctx: &Ctx,
    ) -> AppResult<std::collections::HashMap<String, AutomationCounts>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.to_string();
        Ok(self
            .db
            .read(move |sql| store::counts(sql, &tenant_id))
            .await?)
    }

    pub async fn automation_report(&self, ctx: &Ctx, id: String) -> AppResult<AutomationReport> {
        ctx.require(Access::Read)?;
        self.load_automation(&ctx.tenant_id, &id).await?;
        let tenant_id = ctx.tenant_id.to_string();
        let totals = self
            .db
            .read(move |sql| store::totals(sql, &tenant_id, &id, ATTRIBUTION_DAYS))
            .await?;
        Ok(totals.into())
    }

    /// Every mistake of an automation at once: core's rules, then what its steps name.
    async fn check_automation(&self, ctx: &Ctx, a: &Automation) -> AppResult<()> {
        let mut errors = Invalid::default();
        if a.name.trim().is_empty() || a.name.chars().count() > 200 {
            errors.push_bounded("name", "length", (1, 200), "must have 1 to 200 characters");
        }
        if let Err(invalid) = rules::check(&a.trigger, &a.steps) {
            errors.0.extend(invalid.0);
        }
        if let Trigger::SegmentEntered { segment_id } = &a.trigger
            && !segment_id.trim().is_empty()
        {
            let (tenant_id, id) = (ctx.tenant_id.to_string(), segment_id.clone());
            let found = self
                .db
                .read(move |sql| segments::get(sql, &tenant_id, &id))
                .await?;
            if found.is_none() {
                errors.push_coded("trigger.segment_id", "not_found", "no such segment");
            }
        }
        for (i, step) in a.steps.iter().enumerate() {
            match step {
                Step::Send { channels, .. } => {
                    if channels.len() > MAX_CHANNELS {
                        errors.push_bounded(
                            format!("steps[{i}].channels"),
                            "length",
                            (1, MAX_CHANNELS as i64),
                            "list 1 to 5 channels, in the order to try them",
                        );
                    }
                    let found = self
                        .check_sends(ctx, channels, &format!("steps[{i}].channels"), None, "")
                        .await?;
                    errors.0.extend(found.0);
                }
                Step::IssueVoucher { voucher_program_id } if !voucher_program_id.is_empty() => {
                    let found = self
                        .check_sends(
                            ctx,
                            &[],
                            "",
                            Some(voucher_program_id),
                            &format!("steps[{i}].voucher_program_id"),
                        )
                        .await?;
                    errors.0.extend(found.0);
                }
                Step::Webhook { url } => {
                    // Signed with the secret of the shop's endpoint at that address, whose
                    // address was checked (public, http/https) when it was added.
                    let (tenant_id, url) = (ctx.tenant_id.to_string(), url.trim().to_string());
                    let found = self
                        .db
                        .read(move |sql| {
                            loyalty_store::repo::webhooks::by_url(sql, &tenant_id, &url)
                        })
                        .await?;
                    if found.is_none() {
                        errors.push_coded(
                            format!("steps[{i}].url"),
                            "not_found",
                            "add this address as a webhook first: its secret signs the call",
                        );
                    }
                }
                Step::Condition { conditions } if conditions.is_object() => {
                    if let Err(AppError::Invalid(invalid)) = self.compile(ctx, conditions).await {
                        errors.0.extend(invalid.0.into_iter().map(|mut e| {
                            e.field = format!("steps[{i}].{}", e.field);
                            e
                        }));
                    }
                }
                _ => {}
            }
        }
        errors.into_result(|| ()).map_err(AppError::Invalid)
    }

    pub async fn create_automation(
        &self,
        ctx: &Ctx,
        input: AutomationIn,
    ) -> AppResult<AutomationView> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let automation = Automation {
            id: new_id("aut"),
            name: input.name.trim().to_string(),
            active: input.active.unwrap_or(true),
            trigger: input.trigger,
            steps: input.steps,
            created_at: now,
            updated_at: now,
        };
        self.check_automation(ctx, &automation).await?;
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let from = loyalty_store::repo::events::newest_position(sql, &ctx2.tenant_id)?;
                store::insert(sql, &ctx2.tenant_id, &automation, from)?;
                let view = AutomationView::from(&automation);
                let change = Change {
                    entity: "automation",
                    id: &automation.id,
                    action: "create",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    None,
                    serde_json::to_value(&view).ok(),
                )?;
                Ok::<_, AppError>(view)
            })
            .await
    }

    async fn load_automation(&self, tenant_id: &str, id: &str) -> AppResult<Automation> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.db
            .read(move |sql| store::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound {
                entity: "automation",
            })
    }

    pub async fn automation(&self, ctx: &Ctx, id: String) -> AppResult<AutomationView> {
        ctx.require(Access::Read)?;
        Ok(AutomationView::from(
            &self.load_automation(&ctx.tenant_id, &id).await?,
        ))
    }

    pub async fn automations(&self, ctx: &Ctx) -> AppResult<Vec<AutomationView>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.to_string();
        let found = self
            .db
            .read(move |sql| store::list(sql, &tenant_id))
            .await?;
        Ok(found.iter().map(AutomationView::from).collect())
    }

    /// Changes an automation; runs already started keep the steps they started with.
    pub async fn update_automation(
        &self,
        ctx: &Ctx,
        id: String,
        patch: AutomationPatch,
    ) -> AppResult<AutomationView> {
        ctx.require(Access::Admin)?;
        let before = self.load_automation(&ctx.tenant_id, &id).await?;
        let mut after = before.clone();
        if let Some(name) = patch.name {
            after.name = name.trim().to_string();
        }
        if let Some(active) = patch.active {
            after.active = active;
        }
        if let Some(trigger) = patch.trigger {
            after.trigger = trigger;
        }
        if let Some(steps) = patch.steps {
            after.steps = steps;
        }
        self.check_automation(ctx, &after).await?;
        let now = self.now();
        after.updated_at = now;
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                store::get(sql, &ctx2.tenant_id, &id)?.ok_or(AppError::NotFound {
                    entity: "automation",
                })?;
                store::update(sql, &ctx2.tenant_id, &after)?;
                // A new trigger, or one switched back on, starts from now: the orders made
                // while it was off are not thanked in a burst, a segment's present members are
                // not greeted as newcomers, missed days are not caught up.
                if before.trigger != after.trigger || (!before.active && after.active) {
                    let from = loyalty_store::repo::events::newest_position(sql, &ctx2.tenant_id)?;
                    store::set_place(sql, &ctx2.tenant_id, &after.id, from)?;
                    store::reset_trigger_state(sql, &ctx2.tenant_id, &after.id)?;
                }
                let view = AutomationView::from(&after);
                let change = Change {
                    entity: "automation",
                    id: &after.id,
                    action: "update",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    serde_json::to_value(AutomationView::from(&before)).ok(),
                    serde_json::to_value(&view).ok(),
                )?;
                Ok(view)
            })
            .await
    }
}

/// Runs as the API shows them, with their members' names (one read for all of them).
fn run_views(
    sql: &mut dyn loyalty_store::Sql,
    tenant_id: &str,
    runs: Vec<loyalty_core::automation::Run>,
) -> Result<Vec<RunView>, loyalty_store::DbError> {
    let mut ids: Vec<&str> = runs.iter().map(|r| r.member_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: std::collections::HashMap<String, Option<String>> =
        loyalty_store::repo::members::get_many(sql, tenant_id, &ids)?
            .into_iter()
            .map(|m| (String::from(m.id), m.profile.name))
            .collect();
    Ok(runs
        .into_iter()
        .map(|r| RunView {
            member_name: names.get(&r.member_id).cloned().flatten(),
            id: r.id,
            automation_id: r.automation_id,
            member_id: r.member_id,
            occurrence: r.occurrence,
            status: r.status,
            step: r.step,
            next_at: r.next_at,
            log: r.log,
            created_at: r.created_at,
        })
        .collect())
}
