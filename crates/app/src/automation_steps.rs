//! Doing automation runs' steps (decision 0016): due runs are taken earliest first, and each
//! step is done in one transaction with the move past it, under the run's row lock — a kill
//! before the commit leaves the step to be done again whole, after it the step is done once.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use loyalty_core::automation::{self as rules, RunStatus, Step, StepOutcome};
use loyalty_core::campaign::{Message, MessageStatus};
use loyalty_core::id::new_id;
use loyalty_core::member::MemberStatus;
use loyalty_core::messaging::{self as messaging_rules, ChannelKind, Purpose, Recipient};
use loyalty_core::tenancy::{Actor, ActorKind};
use loyalty_messaging::provider::ChannelType;
use loyalty_messaging::template::{Renderer, Template};
use loyalty_store::Sql;
use loyalty_store::repo::{automations as store, consent, members, messaging, segments, vouchers};
use serde_json::{Value, json};

use crate::campaign_audience::{address, kind_of, suppress};
use crate::{App, AppError, AppResult, Ctx};

/// Runs taken in one pass.
const DUE_PAGE: i64 = 200;

/// What a step needs that is read before its transaction (the tenant's settings, a condition's
/// compiled query, a send step's channels).
struct Prepared {
    /// The step this was prepared for: another instance may have moved the run on since.
    step: i64,
    shop: String,
    zone: jiff::tz::TimeZone,
    quiet: Option<messaging_rules::QuietHours>,
    weekly_cap: i64,
    tiers: Arc<HashMap<String, String>>,
    /// What the step names, read once per pass for all the runs at the same step.
    needs: Arc<StepNeeds>,
    /// When points given now expire, by the program.
    expires_at: Option<Timestamp>,
    active: bool,
    /// A `webhook` step's call: made before the step's transaction, its answer decided in it.
    webhook: Option<WebhookCall>,
}

/// What a step names, ready to use: a condition's compiled query, a send step's channels.
#[derive(Default)]
struct StepNeeds {
    condition: Option<segments::Compiled>,
    /// A send step's channels in its order: id, type, template, and the template as saved (a
    /// fallback carries it with the message).
    channels: Vec<(String, ChannelType, Template, Value)>,
}

/// What one pass has read already: a birthday pass moves thousands of runs through the same
/// step, and opening its channels (their secrets) or compiling its condition once is enough.
#[derive(Default)]
struct PassCache {
    /// By tenant and the step as saved (runs keep the steps they started with).
    needs: HashMap<(String, String), Arc<StepNeeds>>,
    /// Tier names by id, by tenant.
    tiers: HashMap<String, Arc<HashMap<String, String>>>,
}

/// A `webhook` step's signed POST: to the shop's endpoint at the step's URL, with that
/// endpoint's secret; `None` as the endpoint when the shop has none there.
struct WebhookCall {
    endpoint: Option<(String, String)>,
    /// `{run}.{step}`: the same on every attempt, so a receiver can tell a repeat.
    event_id: String,
    body: String,
}

/// What the call brought back: delivered, or why not.
type Called = Option<Result<(), String>>;

impl App {
    /// Does the next step of every due run.
    pub(crate) async fn run_automation_steps(&self) -> AppResult<()> {
        let now = self.now();
        let due = self
            .db
            .read(move |sql| store::due_runs(sql, now, DUE_PAGE))
            .await?;
        let mut cache = PassCache::default();
        for (tenant_id, run_id) in due {
            if let Err(error) = self.run_step(&tenant_id, &run_id, &mut cache).await {
                tracing::warn!(%error, run = %run_id, "an automation step failed; trying again");
            }
        }
        Ok(())
    }

    async fn prepare(
        &self,
        tenant_id: &str,
        run_id: &str,
        cache: &mut PassCache,
    ) -> AppResult<Option<Prepared>> {
        let (tenant, id) = (tenant_id.to_string(), run_id.to_string());
        let found = self
            .db
            .read(move |sql| {
                let Some(run) = store::runs_by_id(sql, &tenant, &id)? else {
                    return Ok::<_, AppError>(None);
                };
                let automation = store::get(sql, &tenant, &run.automation_id)?;
                let webhook = match run.steps.get(run.step as usize) {
                    Some(Step::Webhook { url }) => Some((
                        loyalty_store::repo::webhooks::by_url(sql, &tenant, url)?,
                        members::get(sql, &tenant, &run.member_id)?,
                    )),
                    _ => None,
                };
                Ok(Some((run, automation.is_some_and(|a| a.active), webhook)))
            })
            .await?;
        let Some((run, active, webhook)) = found else {
            return Ok(None);
        };
        let webhook = match webhook {
            Some((endpoint, member)) => {
                let endpoint = match endpoint {
                    Some(w) => Some((w.url.clone(), self.open_secret(&w.secret_sealed)?)),
                    None => None,
                };
                let event_id = format!("{}.{}", run.id, run.step);
                let body = json!({
                    "id": event_id,
                    "type": "automation.webhook",
                    "created_at": self.now().to_string(),
                    "data": {
                        "automation_id": run.automation_id,
                        "run_id": run.id,
                        "step": run.step,
                        "occurrence": run.occurrence,
                        "member": member.as_ref().map(|m| loyalty_core::event::member_data(m)["member"].clone()),
                        "context": run.context,
                    }
                })
                .to_string();
                Some(WebhookCall {
                    endpoint,
                    event_id,
                    body,
                })
            }
            None => None,
        };
        let ctx = Ctx::cli(tenant_id);
        let info = self.tenant(&ctx).await?;
        let needs = match run.steps.get(run.step as usize) {
            Some(step) => {
                let saved =
                    serde_json::to_string(step).map_err(|e| AppError::Internal(e.into()))?;
                let key = (tenant_id.to_string(), saved);
                match cache.needs.get(&key) {
                    Some(found) => found.clone(),
                    None => {
                        let needs = Arc::new(self.step_needs(&ctx, step).await?);
                        cache.needs.insert(key, needs.clone());
                        needs
                    }
                }
            }
            None => Arc::default(),
        };
        let tiers = match cache.tiers.get(tenant_id) {
            Some(found) => found.clone(),
            None => {
                let names: HashMap<String, String> = self
                    .ladder(tenant_id)
                    .await?
                    .iter()
                    .map(|t| (t.id.clone(), t.name.clone()))
                    .collect();
                let names = Arc::new(names);
                cache.tiers.insert(tenant_id.to_string(), names.clone());
                names
            }
        };
        Ok(Some(Prepared {
            step: run.step,
            shop: info.tenant.name.clone(),
            zone: info.zone.clone(),
            quiet: info.program.messaging.quiet_hours(),
            weekly_cap: info.program.messaging.max_per_member_per_week,
            tiers,
            needs,
            expires_at: info.program.expires_at(self.now(), &info.zone),
            active,
            webhook,
        }))
    }

    /// What `step` names, opened: a condition compiled, a send step's channels with their
    /// templates (a channel deleted since is skipped; the others still carry the message).
    async fn step_needs(&self, ctx: &Ctx, step: &Step) -> AppResult<StepNeeds> {
        let mut needs = StepNeeds::default();
        match step {
            Step::Condition { conditions } => {
                needs.condition = Some(self.compile(ctx, conditions).await?);
            }
            Step::Send { channels, .. } => {
                for one in channels {
                    if let Ok(open) = self.load_channel(&ctx.tenant_id, &one.channel_id).await
                        && let Ok(template) =
                            Template::parse(open.kind.kind(), &one.template, "template")
                    {
                        needs.channels.push((
                            open.channel.id.clone(),
                            open.kind,
                            template,
                            one.template.clone(),
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(needs)
    }

    /// One step of one run, in one transaction with the move past it.
    async fn run_step(
        &self,
        tenant_id: &str,
        run_id: &str,
        cache: &mut PassCache,
    ) -> AppResult<()> {
        let Some(prepared) = self.prepare(tenant_id, run_id, cache).await? else {
            return Ok(());
        };
        let called = match &prepared.webhook {
            Some(call) if prepared.active && call.endpoint.is_some() => {
                Some(self.call_webhook(call).await)
            }
            _ => None,
        };
        let (app, tenant, id) = (self.clone(), tenant_id.to_string(), run_id.to_string());
        let now = self.now();
        self.db
            .write(move |sql| {
                let Some(mut run) = store::get_run_for_update(sql, &tenant, &id)? else {
                    return Ok(());
                };
                // Another instance did this step already, or it is not due yet.
                if run.status != RunStatus::Waiting
                    || run.step != prepared.step
                    || run.next_at.is_none_or(|at| at > now)
                {
                    return Ok(());
                }
                let index = run.step as usize;
                // A wait counts from when its step was due, not from when a pass got to it.
                let due = run.next_at.unwrap_or(now);
                let outcome = match run.steps.get(index).cloned() {
                    _ if !prepared.active => StepOutcome::ConditionFalse,
                    None => StepOutcome::Done,
                    Some(step) => app.do_step(
                        sql,
                        &tenant,
                        &mut run.context,
                        &run.member_id,
                        &run.automation_id,
                        &step,
                        &prepared,
                        (due, now),
                        &called,
                        &run.log,
                    )?,
                };
                let result = match &outcome {
                    StepOutcome::Done => "done".to_string(),
                    StepOutcome::WaitUntil(at) => format!("waits until {at}"),
                    StepOutcome::ConditionFalse if !prepared.active => {
                        "automation switched off".into()
                    }
                    StepOutcome::ConditionFalse => "condition not met".into(),
                    StepOutcome::Failed(why) => format!("failed: {why}"),
                    StepOutcome::Retry(at) => format!(
                        "tries again at {at}: {}",
                        called
                            .as_ref()
                            .and_then(|c| c.as_ref().err())
                            .map_or("", |w| w)
                    ),
                };
                run.log
                    .push(json!({"step": index, "at": now.to_string(), "result": result}));
                let (status, step, next_at) =
                    rules::after_step(index, run.steps.len(), &outcome, now);
                run.status = status;
                run.step = step as i64;
                run.next_at = next_at;
                run.updated_at = now;
                store::save_run(sql, &tenant, &run)?;
                Ok::<_, AppError>(())
            })
            .await
    }

    #[allow(clippy::too_many_arguments)]
    fn do_step(
        &self,
        sql: &mut dyn Sql,
        tenant_id: &str,
        context: &mut Value,
        member_id: &str,
        automation_id: &str,
        step: &Step,
        prepared: &Prepared,
        (due, now): (Timestamp, Timestamp),
        called: &Called,
        log: &[Value],
    ) -> AppResult<StepOutcome> {
        Ok(match step {
            Step::Wait { duration } => match rules::wait_until(due, duration, &prepared.zone) {
                Some(at) => StepOutcome::WaitUntil(at),
                None => StepOutcome::Failed(format!("wait {duration}")),
            },
            Step::Condition { .. } => match &prepared.needs.condition {
                Some(compiled) if segments::has_member(sql, compiled, member_id)? => {
                    StepOutcome::Done
                }
                _ => StepOutcome::ConditionFalse,
            },
            Step::Tag { add, remove } => {
                let Some(mut member) = members::get_for_update(sql, tenant_id, member_id)? else {
                    return Ok(StepOutcome::Failed("the member is gone".into()));
                };
                member.profile.tags.retain(|t| !remove.contains(t));
                for tag in add {
                    if !member.profile.tags.contains(tag) {
                        member.profile.tags.push(tag.clone());
                    }
                }
                member.updated_at = now;
                members::update_profile(sql, tenant_id, &member)?;
                StepOutcome::Done
            }
            Step::IssueVoucher { voucher_program_id } => {
                // A blocked member is given nothing (as points: the ledger refuses them); the
                // code goes to the member read (a run started before a merge reaches the kept).
                let Some(member) = members::get(sql, tenant_id, member_id)? else {
                    return Ok(StepOutcome::Failed("the member is gone".into()));
                };
                if member.status == MemberStatus::Blocked {
                    return Ok(StepOutcome::Failed("the member is blocked".into()));
                }
                let member_id = member.id.as_str();
                let Some(program) = vouchers::get_program(sql, tenant_id, voucher_program_id)?
                else {
                    return Ok(StepOutcome::Failed("the voucher program is gone".into()));
                };
                let issued_via = format!("automation:{automation_id}");
                let Some(code) = crate::vouchers::issue_to_member(
                    sql,
                    tenant_id,
                    &program,
                    member_id,
                    &issued_via,
                    now,
                )?
                else {
                    return Ok(StepOutcome::Failed("no free voucher code".into()));
                };
                context["voucher"] = json!({"code": code, "valid_until": program.valid_until.map(|t| t.to_string())});
                StepOutcome::Done
            }
            Step::Send { purpose, .. } => {
                let purpose = purpose
                    .as_deref()
                    .and_then(Purpose::parse)
                    .unwrap_or(Purpose::Advertising);
                self.send_step(
                    sql,
                    tenant_id,
                    context,
                    member_id,
                    automation_id,
                    purpose,
                    prepared,
                    now,
                )?
            }
            Step::GivePoints { points, reason } => {
                let ctx = Ctx {
                    actor: Actor {
                        kind: ActorKind::System,
                        id: Some(automation_id.to_string()),
                        name: Some("automation".into()),
                    },
                    ..Ctx::cli(tenant_id)
                };
                let reason = reason.clone().unwrap_or_else(|| "automation".into());
                match crate::points::adjust_in(
                    sql,
                    &ctx,
                    member_id,
                    *points,
                    &reason,
                    prepared.expires_at,
                    now,
                ) {
                    Ok(_) => StepOutcome::Done,
                    // Refused (a blocked member, a balance at its ceiling): the run says why.
                    Err(
                        refused @ (AppError::Conflict { .. }
                        | AppError::Invalid(_)
                        | AppError::NotFound { .. }),
                    ) => StepOutcome::Failed(refused.to_string()),
                    Err(error) => return Err(error),
                }
            }
            Step::Webhook { .. } => match called {
                Some(Ok(())) => StepOutcome::Done,
                Some(Err(why)) => {
                    let tries = log
                        .iter()
                        .filter(|e| {
                            e["step"].as_i64() == Some(prepared.step)
                                && e["result"]
                                    .as_str()
                                    .is_some_and(|r| r.starts_with("tries again"))
                        })
                        .count();
                    match rules::webhook_retry(tries + 1, now) {
                        Some(at) => StepOutcome::Retry(at),
                        None => StepOutcome::Failed(why.clone()),
                    }
                }
                None => StepOutcome::Failed("no webhook endpoint of the shop has this URL".into()),
            },
        })
    }

    /// A `webhook` step's signed POST (outside any transaction: a receiver is not waited on
    /// with a run locked). A kill between the call and the step's commit calls again with the
    /// same `Loyalty-Event-Id`.
    async fn call_webhook(&self, call: &WebhookCall) -> Result<(), String> {
        let Some((url, secret)) = &call.endpoint else {
            return Err("no webhook endpoint of the shop has this URL".into());
        };
        if !self.outbound.allow_private && !crate::webhook_sender::target_is_allowed(url) {
            return Err("the URL points to a private address".into());
        }
        let attempt = crate::webhook_sender::post_signed(
            &self.outbound.client,
            url,
            secret,
            (&call.event_id, "automation.webhook"),
            &call.body,
            self.now().as_second(),
        )
        .await;
        match attempt.delivered() {
            true => Ok(()),
            false => Err(attempt.error().to_string()),
        }
    }

    /// A `send` step: the member's message written `queued` (or suppressed, with the reason),
    /// decided by the campaigns' rules; the channel's sender delivers it.
    #[allow(clippy::too_many_arguments)]
    fn send_step(
        &self,
        sql: &mut dyn Sql,
        tenant_id: &str,
        context: &Value,
        member_id: &str,
        automation_id: &str,
        purpose: Purpose,
        prepared: &Prepared,
        now: Timestamp,
    ) -> AppResult<StepOutcome> {
        let Some(member) = members::get(sql, tenant_id, member_id)? else {
            return Ok(StepOutcome::Failed("the member is gone".into()));
        };
        let unsubscribed = consent::unsubscribed(sql, tenant_id, &[member_id])?;
        let recipient = Recipient {
            blocked: member.status == MemberStatus::Blocked,
            has_phone: member.profile.phone.is_some(),
            has_email: member.profile.email.is_some(),
            consent: member.profile.consent,
            unsubscribed: unsubscribed
                .get(member_id)
                .map(|chs| chs.iter().filter_map(|c| kind_of(c)).collect())
                .unwrap_or_default(),
        };
        let mut message = Message {
            automation_id: Some(automation_id.to_string()),
            member_id: Some(member_id.to_string()),
            ..Message::new(new_id("msg"), purpose, now)
        };
        let kinds: Vec<ChannelKind> = prepared.needs.channels.iter().map(|c| c.1.kind()).collect();
        let recent = match purpose {
            Purpose::Advertising => messaging::recent_advertising(
                sql,
                tenant_id,
                member_id,
                member_id,
                now - jiff::SignedDuration::from_hours(7 * 24),
            )?
            .get(member_id)
            .copied()
            .unwrap_or(0),
            Purpose::CustomerCare => 0,
        };
        match messaging_rules::route(&kinds, &recipient, purpose) {
            Err(why) => suppress(&mut message, why),
            Ok(_) if purpose == Purpose::Advertising && recent >= prepared.weekly_cap => {
                suppress(&mut message, messaging_rules::Suppressed::FrequencyCap)
            }
            Ok(route) => {
                let tier = member
                    .tier_id
                    .as_ref()
                    .and_then(|id| prepared.tiers.get(id))
                    .map(String::as_str);
                let voucher = context["voucher"]["code"].as_str().map(|code| {
                    (
                        code,
                        context["voucher"]["valid_until"]
                            .as_str()
                            .and_then(|t| t.parse().ok()),
                    )
                });
                let mut variables = crate::campaigns::member_context(
                    &prepared.shop,
                    &member,
                    tier,
                    voucher,
                    &self.unsubscribe_link(tenant_id, &message.id),
                    "",
                );
                // What the trigger found: the points about to expire, and when.
                for field in ["points_expiring", "points_expiring_at"] {
                    if !context[field].is_null() {
                        variables["member"][field] = context[field].clone();
                    }
                }
                // The first channel the member can receive; the sender falls back through the
                // others on a permanent refusal, each hop carrying its template (an edit of
                // the automation does not change a message already written).
                let (channel_id, kind, template, _) = &prepared.needs.channels[route[0]];
                let hops: Vec<Value> = route[1..]
                    .iter()
                    .map(|&i| {
                        let (id, kind, _, saved) = &prepared.needs.channels[i];
                        json!([i, id, address(&member, *kind), saved])
                    })
                    .collect();
                match template.render(
                    &Renderer::new(prepared.zone.clone()),
                    &variables,
                    "template",
                ) {
                    Ok(rendered) => {
                        message.channel_id = Some(channel_id.clone());
                        message.channel_type = Some(kind.as_str().to_string());
                        message.to = address(&member, *kind);
                        message.body = serde_json::to_value(rendered.for_purpose(purpose)).ok();
                        message.voucher_code = voucher.map(|(code, _)| code.to_string());
                        message.next_attempt_at = Some(
                            prepared
                                .quiet
                                .map_or(now, |q| q.next_allowed(now, &prepared.zone)),
                        );
                        if !hops.is_empty() {
                            message.fallbacks = Some(Value::Array(hops));
                            message.context = Some(variables);
                        }
                    }
                    Err(invalid) => {
                        message.status = MessageStatus::Failed;
                        message.reason = Some(format!("template: {invalid}"));
                    }
                }
            }
        }
        messaging::insert_messages(sql, tenant_id, std::slice::from_ref(&message))?;
        Ok(StepOutcome::Done)
    }
}
