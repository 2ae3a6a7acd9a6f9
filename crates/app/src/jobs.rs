//! Background work the queue runs (see `queue`): writing down expiry and pending points that
//! became available, under a lease of its own so that two refreshes never overlap (a slow one
//! and the next slot's, on any instance); RFM scoring; and `verify`, which re-checks every
//! ledger.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use loyalty_core::event::{Balance, EventType, points_moved};
use loyalty_core::id::new_id;
use loyalty_core::ledger::{Lot, expired_lots};
use loyalty_core::tenancy::Actor;
use loyalty_store::repo::ledger::Entry;
use loyalty_store::repo::{leases, ledger, members, rfm, tenants};
use serde::Serialize;

use crate::{App, AppError, AppResult};

/// The points job's lease: long enough for a sweep, short enough that a crashed holder is
/// replaced soon.
const POINTS_LEASE: Duration = Duration::from_secs(300);
const GLOBAL: &str = "*";

impl App {
    /// Runs the points job (expiry, pending points) and the tier reviews if this run gets the
    /// lease; returns how many members were brought up to date, or `None` when another run
    /// holds the lease.
    pub async fn run_points_job(&self) -> AppResult<Option<u64>> {
        // A holder per run, not per instance: two runs on one instance exclude each other too.
        let (now, holder) = (self.now(), format!("{}/{}", self.instance, new_id("run")));
        let until = now + jiff::SignedDuration::try_from(POINTS_LEASE).unwrap_or_default();
        let claim = holder.clone();
        let held = self
            .db
            .write(move |sql| {
                Ok::<_, AppError>(leases::acquire(sql, GLOBAL, "points", &claim, now, until)?)
            })
            .await?;
        if !held {
            return Ok(None);
        }
        let refreshed = match self.refresh_points(now).await {
            Ok(points) => self.review_tiers(now).await.map(|tiers| points + tiers),
            Err(error) => Err(error),
        };
        self.db
            .write(move |sql| Ok::<_, AppError>(leases::release(sql, GLOBAL, "points", &holder)?))
            .await?;
        refreshed.map(Some)
    }

    /// Writes down, for every member whose balances changed by themselves by `now`, the expired
    /// points and the pending points that became available. Members are handled in batches of
    /// a few hundred, each batch one action of a few set-wise statements, so a sweep over a
    /// million members takes seconds while orders keep flowing between the batches.
    pub async fn refresh_points(&self, now: Timestamp) -> AppResult<u64> {
        let mut done = 0;
        for tenant in self.db.read(tenants::list).await? {
            loop {
                let tenant_id = tenant.id.clone();
                let due = self
                    .db
                    .read(move |sql| members::due_for_refresh(sql, &tenant_id, now, SWEEP_BATCH))
                    .await?;
                if due.is_empty() {
                    break;
                }
                let tenant_id = tenant.id.clone();
                let swept = self
                    .db
                    .write(move |sql| sweep(sql, &tenant_id, &due, now))
                    .await?;
                if swept == 0 {
                    // Everyone in the batch was brought up to date by their own orders meanwhile.
                    continue;
                }
                done += swept;
            }
        }
        Ok(done)
    }

    /// Re-checks every member's points against the ledger. Reads only. A tenant that cannot be
    /// read is reported as a problem and the others are still checked.
    pub async fn verify(&self) -> AppResult<VerifyReport> {
        let mut report = VerifyReport::default();
        for tenant in self.db.read(tenants::list).await? {
            let tenant_id = tenant.id.clone();
            match self
                .db
                .snapshot(move |sql| verify_tenant(sql, &tenant_id))
                .await
            {
                Ok(part) => {
                    report.members_checked += part.members_checked;
                    report.problems.extend(part.problems);
                }
                Err(AppError::Unavailable(error)) => return Err(AppError::Unavailable(error)),
                Err(error) => report.problems.push(format!(
                    "tenant {}: could not be checked: {error}",
                    tenant.id
                )),
            }
        }
        Ok(report)
    }
}

/// Members per sweep action.
const SWEEP_BATCH: i64 = 1_000;

/// Brings a batch of members up to date: one `expire` entry per member for the points that
/// expired, the expired lots emptied, the stored balances and next change recomputed.
fn sweep(
    sql: &mut dyn loyalty_store::Sql,
    tenant_id: &str,
    ids: &[String],
    now: Timestamp,
) -> AppResult<u64> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let due = members::lock_due(sql, tenant_id, &ids, now)?;
    if due.is_empty() {
        return Ok(0);
    }
    let due_ids: Vec<&str> = due.iter().map(|(id, _)| id.as_str()).collect();
    let mut lots: HashMap<String, Vec<Lot>> = HashMap::new();
    for (member_id, lot) in ledger::live_lots_of(sql, tenant_id, &due_ids)? {
        lots.entry(member_id).or_default().push(lot);
    }
    let read = started.elapsed();
    let actor = Some(Actor::system("points job"));
    let mut expiries = Vec::new();
    let mut balances = Vec::with_capacity(due.len());
    let mut raised = Vec::new();
    for (member_id, debt) in &due {
        let mut member_lots = lots.remove(member_id).unwrap_or_default();
        let expired = expired_lots(&member_lots, now);
        let total: i64 = expired.iter().map(|(_, p)| p).sum();
        if total > 0 {
            let last_expiry = expired
                .iter()
                .filter_map(|(i, _)| member_lots[*i].expires_at)
                .max();
            expiries.push(Entry {
                id: new_id("led"),
                member_id: member_id.as_str().into(),
                kind: loyalty_core::book::EntryKind::Expire,
                points: -total,
                remaining: None,
                order_id: None,
                reason: Some("points expired".to_string()),
                actor: actor.clone(),
                created_at: now,
                available_at: None,
                expires_at: last_expiry,
            });
            for (i, _) in expired {
                member_lots[i].remaining = 0;
            }
        }
        let b = loyalty_core::ledger::balances(&member_lots, now);
        if let Some(entry) = expiries.last().filter(|e| e.member_id == *member_id) {
            let balance = Balance {
                available: b.available,
                pending: b.pending,
                debt: *debt,
            };
            let data = crate::events::entry_data(entry);
            raised.push(points_moved(
                EventType::PointsExpired,
                &entry.member_id,
                balance,
                &data,
            ));
        }
        balances.push(members::Balances {
            id: member_id.clone(),
            available: b.available,
            pending: b.pending,
            next_change_at: loyalty_core::ledger::next_change(&member_lots, now),
        });
    }
    let decided = started.elapsed();
    ledger::insert_many(sql, tenant_id, &expiries)?;
    ledger::zero_expired(sql, tenant_id, &due_ids, now)?;
    let lots_written = started.elapsed();
    members::set_balances(sql, tenant_id, &balances, now)?;
    crate::events::raise(sql, tenant_id, now, &raised)?;
    // Where a long sweep spends its time, for whoever profiles one: the time since the batch
    // began at the end of each phase (the commit comes after).
    tracing::debug!(
        members = due.len(),
        after_read = ?read,
        after_decide = ?decided,
        after_lots = ?lots_written,
        after_all = ?started.elapsed(),
        "expiry sweep batch"
    );
    Ok(due.len() as u64)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    pub members_checked: u64,
    pub problems: Vec<String>,
}

fn verify_tenant(sql: &mut dyn loyalty_store::Sql, tenant_id: &str) -> AppResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut after = String::new();
    loop {
        let page = members::search(
            sql,
            tenant_id,
            &members::MemberFilter::default(),
            &loyalty_store::Page {
                after: Some(after.clone()),
                limit: 1000,
            },
        )?;
        if page.items.is_empty() {
            break;
        }
        let last = page
            .items
            .last()
            .map(|m| m.id.to_string())
            .unwrap_or_default();
        let sums: std::collections::HashMap<String, ledger::MemberSums> =
            ledger::sums(sql, tenant_id, &after, &last)?
                .into_iter()
                .map(|s| (s.member_id.clone(), s))
                .collect();
        for m in &page.items {
            report.members_checked += 1;
            let s = sums.get(m.id.as_str());
            let (entries, remaining, min_remaining) =
                s.map_or((0, 0, 0), |s| (s.entries, s.remaining, s.min_remaining));
            let mut problem = |what: String| {
                report
                    .problems
                    .push(format!("tenant {tenant_id} member {}: {what}", m.id))
            };
            // Summed and compared in i128: a corrupt or hostile ledger is reported, not a crash.
            if entries != remaining - i128::from(m.points_debt) {
                problem(format!(
                    "ledger entries sum to {entries}, lots hold {remaining} and debt is {}",
                    m.points_debt
                ));
            }
            if i128::from(m.points_available) + i128::from(m.points_pending) != remaining {
                problem(format!(
                    "stored balance {} available + {} pending, lots hold {remaining}",
                    m.points_available, m.points_pending
                ));
            }
            if i64::try_from(remaining).is_err() {
                problem(format!(
                    "the lots hold {remaining} points, beyond what can be counted"
                ));
            }
            if min_remaining < 0
                || m.points_available < 0
                || m.points_pending < 0
                || m.points_debt < 0
            {
                problem("a negative balance, lot or debt".to_string());
            }
        }
        match page.next_after {
            Some(_) => after = last,
            None => break,
        }
    }
    // A merged record holds nothing: its points and entries all moved to the kept member.
    let bad_tombstones: i64 = sql.query_scalar(
        "select count(*) from members m
         where m.tenant_id = $1 and m.status = 'merged'
           and (m.points_available <> 0 or m.points_pending <> 0 or m.points_debt <> 0
             or exists (select 1 from ledger_entries e
                        where e.tenant_id = m.tenant_id and e.member_id = m.id))",
        loyalty_store::params![tenant_id],
    )?;
    if bad_tombstones > 0 {
        report.problems.push(format!(
            "tenant {tenant_id}: {bad_tombstones} merged records still hold points or ledger entries"
        ));
    }
    let bad_orders: i64 = sql.query_scalar(
        "select count(*) from orders
         where tenant_id = $1 and (points_reversed > points_earned or points_returned > points_redeemed)",
        loyalty_store::params![tenant_id],
    )?;
    if bad_orders > 0 {
        report.problems.push(format!("tenant {tenant_id}: {bad_orders} orders reversed or returned more than they earned or spent"));
    }
    Ok(report)
}

impl App {
    /// Scores every tenant's members now on recency, frequency and money, and names their
    /// class (see `core::rfm`). The queue runs it once a day (`rfm.score`, keyed by the day).
    pub async fn score_rfm(&self) -> AppResult<u64> {
        let mut scored = 0;
        for tenant in self.db.read(tenants::list).await? {
            scored += self.score_rfm_for(&tenant.id).await?;
        }
        Ok(scored)
    }

    /// Scores one tenant's members now; returns how many were scored. The quintile cuts come
    /// from the database; members are then scored a page at a time, each page's changes one
    /// short write, so a million members never sit in memory and orders flow between pages.
    pub async fn score_rfm_for(&self, tenant_id: &str) -> AppResult<u64> {
        let tenant = tenant_id.to_string();
        self.db
            .write(move |sql| Ok::<_, AppError>(rfm::clear_rfm_of_non_buyers(sql, &tenant)?))
            .await?;
        let tenant = tenant_id.to_string();
        // One snapshot: the count and the three sorts must see the same buyers.
        let Some(scorer) = self
            .db
            .snapshot(move |sql| rfm::rfm_scorer(sql, &tenant))
            .await?
        else {
            return Ok(0);
        };
        let (mut after, mut scored) = (String::new(), 0u64);
        loop {
            let (tenant, from) = (tenant_id.to_string(), after.clone());
            let page = self
                .db
                .read(move |sql| rfm::rfm_page(sql, &tenant, &from, RFM_PAGE))
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id.clone();
            scored += page.len() as u64;
            let changed: Vec<(String, &'static str, String)> = page
                .into_iter()
                .filter_map(|m| {
                    let (class, score) =
                        scorer.score(m.last_order_at, m.order_count, m.lifetime_spend);
                    let same = m.class.as_deref() == Some(class)
                        && m.score.as_deref() == Some(score.as_str());
                    (!same).then_some((m.id, class, score))
                })
                .collect();
            if !changed.is_empty() {
                let tenant = tenant_id.to_string();
                self.db
                    .write(move |sql| Ok::<_, AppError>(rfm::set_rfm(sql, &tenant, &changed)?))
                    .await?;
            }
        }
        Ok(scored)
    }
}

/// Members per RFM page: one read and at most one write of this many.
const RFM_PAGE: i64 = 2_000;
