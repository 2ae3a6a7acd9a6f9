//! Starting automation runs (decision 0016): event triggers read the tenant's event feed after
//! the automation's place, periodic ones look at the members at most hourly, a page of member
//! ids at a time. Each occurrence's once-key comes from `core::automation`; a run already
//! started for it is left alone, so every pass may look at every candidate again.

use jiff::{SignedDuration, Timestamp};
use loyalty_core::automation::{self as rules, Automation, Run, Trigger};
use loyalty_core::birthday::Birthday;
use loyalty_core::event::{EventType, Position};
use loyalty_core::id::new_id;
use loyalty_store::Sql;
use loyalty_store::repo::{automations as store, events};
use serde_json::{Value, json};

use crate::{App, AppError, AppResult, Ctx};

/// Events read for one automation in one transaction.
const FEED_PAGE: i64 = 500;
/// Members looked at in one transaction of a periodic pass.
const MEMBER_PAGE: i64 = 2_000;
/// How often a periodic trigger looks at the members.
const PERIODIC_EVERY: SignedDuration = SignedDuration::from_hours(1);

const EVENT_TRIGGERS: [&str; 5] = [
    "order_paid",
    "tier_changed",
    "member_created",
    "member_activated",
    "referral_completed",
];
const PERIODIC_TRIGGERS: [&str; 4] = [
    "birthday",
    "no_purchase",
    "points_expiring",
    "segment_entered",
];

fn feed_types(trigger: &Trigger) -> &'static [EventType] {
    match trigger {
        Trigger::OrderPaid { .. } => &[EventType::OrderPaid],
        Trigger::TierChanged { .. } => &[EventType::TierChanged],
        Trigger::MemberCreated => &[EventType::MemberCreated],
        Trigger::MemberActivated => &[EventType::MemberActivated],
        Trigger::ReferralCompleted => &[EventType::ReferralCompleted],
        _ => &[],
    }
}

impl App {
    /// Starts the runs every active automation's trigger has found since it last looked (the
    /// queue runner calls it each half second; `loyalty bench automations` times it).
    pub async fn start_automation_runs(&self) -> AppResult<()> {
        let found = self
            .db
            .read(|sql| store::active_of_types(sql, &EVENT_TRIGGERS))
            .await?;
        for active in found {
            if let Err(error) = self
                .read_feed(&active.tenant_id, active.automation, active.place)
                .await
            {
                tracing::warn!(%error, "starting automation runs from events failed; trying again");
            }
        }
        let now = self.now();
        let periodic = self
            .db
            .read(|sql| store::active_of_types(sql, &PERIODIC_TRIGGERS))
            .await?;
        for active in periodic {
            // Expiring points are announced per expiry date: once a day is enough (the pass
            // walks every live lot of the shop).
            let every = match active.automation.trigger {
                Trigger::PointsExpiring { .. } => SignedDuration::from_hours(24),
                _ => PERIODIC_EVERY,
            };
            if active.passed_at.is_some_and(|at| at + every > now) {
                continue;
            }
            if let Err(error) = self
                .periodic_pass(&active.tenant_id, &active.automation, active.passed_at)
                .await
            {
                tracing::warn!(%error, "an automation's pass over the members failed; trying again");
            }
        }
        Ok(())
    }

    /// Reads the automation's events after its place, a page per transaction, starting a run
    /// for each that matches.
    async fn read_feed(
        &self,
        tenant_id: &str,
        automation: Automation,
        mut place: Position,
    ) -> AppResult<()> {
        let types = feed_types(&automation.trigger);
        let ranks = match automation.trigger {
            Trigger::TierChanged { .. } => self
                .ladder(tenant_id)
                .await?
                .iter()
                .map(|t| (t.id.clone(), t.rank))
                .collect(),
            _ => std::collections::HashMap::new(),
        };
        loop {
            let (tenant, automation2, now) =
                (tenant_id.to_string(), automation.clone(), self.now());
            let ranks = ranks.clone();
            let (read, next) = self
                .db
                .write(move |sql| {
                    let page = events::feed(sql, &tenant, types, place, FEED_PAGE)?;
                    let mut runs = Vec::new();
                    for event in &page {
                        let Some(member_id) = event.member_id.as_deref() else {
                            continue;
                        };
                        if let Some((occurrence, context)) =
                            occurrence_of(sql, &tenant, &automation2.trigger, event, &ranks)?
                        {
                            // Due from the event: "two hours after the order" is after the order.
                            let mut run = Run::start(
                                new_id("run"),
                                &automation2,
                                member_id,
                                occurrence,
                                context,
                                now,
                            );
                            run.next_at = Some(event.created_at.min(now));
                            runs.push(run);
                        }
                    }
                    store::start_runs(sql, &tenant, &runs)?;
                    let next = page.last().map(|e| e.position).unwrap_or(place);
                    if next != place {
                        store::set_place(sql, &tenant, &automation2.id, next)?;
                    }
                    Ok::<_, AppError>((page.len() as i64, next))
                })
                .await?;
            place = next;
            if read < FEED_PAGE {
                return Ok(());
            }
        }
    }

    /// Looks at the members for a periodic trigger, a page of ids per transaction.
    async fn periodic_pass(
        &self,
        tenant_id: &str,
        automation: &Automation,
        passed_at: Option<Timestamp>,
    ) -> AppResult<()> {
        if let Trigger::SegmentEntered { segment_id } = &automation.trigger {
            return self
                .segment_pass(tenant_id, automation, segment_id, passed_at)
                .await;
        }
        let info = self.tenant(&Ctx::cli(tenant_id)).await?;
        let now = self.now();
        let today = now.to_zoned_datetime(info.zone.clone()).date();
        let week_ago = today
            .checked_sub(jiff::Span::new().days(7))
            .map_err(|e| AppError::Internal(e.into()))?;
        let first_day = passed_at
            .map(|at| at.to_zoned_datetime(info.zone.clone()).date())
            .unwrap_or(today)
            .clamp(week_ago, today);
        let mut after = String::new();
        loop {
            let (tenant, automation2, from) =
                (tenant_id.to_string(), automation.clone(), after.clone());
            let info_zone = info.zone.clone();
            let last = self
                .db
                .write(move |sql| {
                    let mut runs = Vec::new();
                    let last = match automation2.trigger {
                        Trigger::Birthday { days_before } => {
                            // Today, and the days since the last look (a week at most): a day
                            // the server was down is greeted late rather than never.
                            let mut looked = Vec::new();
                            let mut day = first_day;
                            while day <= today {
                                looked.push(day);
                                day = day.tomorrow().map_err(|e| AppError::Internal(e.into()))?;
                            }
                            let mut days = Vec::new();
                            for d in &looked {
                                let target = d
                                    .checked_add(jiff::Span::new().days(days_before))
                                    .map_err(|e| AppError::Internal(e.into()))?;
                                days.push(format!("{:02}-{:02}", target.month(), target.day()));
                                // 29 February birthdays are greeted on the 28th in other years.
                                if target.month() == 2 && target.day() == 28 && !target.in_leap_year() {
                                    days.push("02-29".into());
                                }
                            }
                            let page =
                                store::birthday_page(sql, &tenant, &days, &from, MEMBER_PAGE)?;
                            for (member, stored) in &page {
                                let key = Birthday::from_stored(stored).and_then(|b| {
                                    looked.iter().find_map(|d| rules::birthday_due(b, *d, days_before))
                                });
                                if let Some(key) = key {
                                    runs.push(Run::start(
                                        new_id("run"),
                                        &automation2,
                                        member,
                                        key,
                                        json!({}),
                                        now,
                                    ));
                                }
                            }
                            page.last().map(|(id, _)| id.clone())
                        }
                        Trigger::NoPurchase { days } => {
                            // Those whose lapse fell since the last look (or the last hour):
                            // switching a win-back on does not message every past lapse.
                            let lapse = SignedDuration::from_hours(24 * days);
                            let since = passed_at.unwrap_or(now - PERIODIC_EVERY);
                            let page = store::lapsed_page(
                                sql,
                                &tenant,
                                since - lapse,
                                now - lapse,
                                &from,
                                MEMBER_PAGE,
                            )?;
                            for (member, last_order_at) in &page {
                                if let Some(key) = rules::lapse_due(Some(*last_order_at), now, days)
                                {
                                    runs.push(Run::start(
                                        new_id("run"),
                                        &automation2,
                                        member,
                                        key,
                                        json!({}),
                                        now,
                                    ));
                                }
                            }
                            page.last().map(|(id, _)| id.clone())
                        }
                        Trigger::PointsExpiring { days_before } => {
                            // Lots expiring from today to `days_before` days ahead, in the
                            // shop's calendar.
                            let zone = &info_zone;
                            let start = today.to_zoned_datetime(zone.clone()).map_err(|e| AppError::Internal(e.into()))?;
                            let end = start.checked_add(jiff::Span::new().days(days_before + 1)).map_err(|e| AppError::Internal(e.into()))?;
                            let page = store::expiring_page(sql, &tenant, start.timestamp(), end.timestamp(), &from, MEMBER_PAGE)?;
                            for (member, first, points) in &page {
                                let on = first.to_zoned_datetime(zone.clone()).date();
                                if let Some(key) = rules::expiring_due(on, today, days_before) {
                                    let context = json!({"points_expiring": points, "points_expiring_at": first.to_string()});
                                    runs.push(Run::start(new_id("run"), &automation2, member, key, context, now));
                                }
                            }
                            page.last().map(|(id, _, _)| id.clone())
                        }
                        _ => None,
                    };
                    store::start_runs(sql, &tenant, &runs)?;
                    if last.is_none() {
                        store::set_passed(sql, &tenant, &automation2.id, now)?;
                    }
                    Ok::<_, AppError>(last)
                })
                .await?;
            match last {
                Some(id) => after = id,
                None => return Ok(()),
            }
        }
    }
}

impl App {
    /// Who entered the automation's segment since it last looked: a run each, once per entry
    /// (the entry's time is its once-key); those who left are forgotten, so coming back is a
    /// new entry. The first look only notes who is in the segment already.
    async fn segment_pass(
        &self,
        tenant_id: &str,
        automation: &Automation,
        segment_id: &str,
        passed_at: Option<Timestamp>,
    ) -> AppResult<()> {
        let (tenant, id) = (tenant_id.to_string(), segment_id.to_string());
        let segment = self
            .db
            .read(move |sql| loyalty_store::repo::segments::get(sql, &tenant, &id))
            .await?;
        let now = self.now();
        let compiled = match segment {
            Some(segment) => Some(
                self.compile(&Ctx::cli(tenant_id), &segment.conditions)
                    .await?,
            ),
            None => None, // deleted: nobody enters it
        };
        let mut after = String::new();
        loop {
            let (tenant, automation2, compiled) =
                (tenant_id.to_string(), automation.clone(), compiled.clone());
            let from = after.clone();
            let segment_id = segment_id.to_string();
            let last = self
                .db
                .write(move |sql| {
                    store::lock(sql, &tenant, &automation2.id)?;
                    let Some(compiled) = &compiled else {
                        store::set_passed(sql, &tenant, &automation2.id, now)?;
                        return Ok::<_, AppError>(None);
                    };
                    if passed_at.is_none() {
                        store::segment_baseline(sql, &automation2.id, compiled, now)?;
                        store::set_passed(sql, &tenant, &automation2.id, now)?;
                        return Ok(None);
                    }
                    let entered = store::segment_entrants(
                        sql,
                        &tenant,
                        &automation2.id,
                        compiled,
                        (&from, MEMBER_PAGE),
                        now,
                    )?;
                    let occurrence = format!("segment:{}", now.as_millisecond());
                    let runs: Vec<Run> = entered
                        .iter()
                        .map(|member| {
                            let context = json!({"segment_id": segment_id});
                            Run::start(
                                new_id("run"),
                                &automation2,
                                member,
                                occurrence.clone(),
                                context,
                                now,
                            )
                        })
                        .collect();
                    store::start_runs(sql, &tenant, &runs)?;
                    if (entered.len() as i64) < MEMBER_PAGE {
                        store::segment_leavers(sql, &automation2.id, compiled)?;
                        store::set_passed(sql, &tenant, &automation2.id, now)?;
                        return Ok(None);
                    }
                    Ok(entered.last().cloned())
                })
                .await?;
            match last {
                Some(id) => after = id,
                None => return Ok(()),
            }
        }
    }
}

/// The once-key of an event for the trigger, and what the run starts knowing; `None` when the
/// event does not start a run.
fn occurrence_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    trigger: &Trigger,
    event: &events::Event,
    ranks: &std::collections::HashMap<String, i64>,
) -> AppResult<Option<(String, Value)>> {
    let data = &event.data;
    Ok(match trigger {
        Trigger::OrderPaid { min_total, index } => {
            let order = &data["order"];
            let total = order["total"].as_i64().unwrap_or(0);
            let nth = match index {
                Some(_) => sql.query_scalar::<i64>(
                    "select count(*) from orders where tenant_id = $1 and member_id = $2
                         and placed_at <= $3",
                    loyalty_store::params![
                        tenant_id,
                        event.member_id.as_deref().unwrap_or_default(),
                        order["placed_at"]
                            .as_str()
                            .and_then(|t| t.parse::<Timestamp>().ok())
                            .map_or(0, |t| t.as_millisecond())
                    ],
                )?,
                None => 0,
            };
            rules::order_matches(*min_total, *index, total, nth).then(|| {
                let id = order["id"].as_str().unwrap_or_default();
                (
                    format!("order:{id}"),
                    json!({"order_id": id, "order_total": total}),
                )
            })
        }
        Trigger::TierChanged { direction, tier_id } => {
            // A member without a tier stands on the lowest step: entering the base tier is
            // not a move up.
            let lowest = ranks.values().min().copied().unwrap_or(0);
            let rank = |t: &Value| t["id"].as_str().and_then(|id| ranks.get(id)).copied();
            let went_up =
                rank(&data["to"]).unwrap_or(lowest) > rank(&data["from"]).unwrap_or(lowest);
            let to = data["to"]["id"].as_str();
            rules::tier_move_matches(*direction, tier_id.as_deref(), went_up, to).then(|| {
                (
                    format!("tier:{}", event.id),
                    json!({"tier": data["to"]["name"]}),
                )
            })
        }
        Trigger::MemberCreated | Trigger::MemberActivated | Trigger::ReferralCompleted => {
            Some((format!("{}:{}", trigger.type_name(), event.id), json!({})))
        }
        _ => None,
    })
}
