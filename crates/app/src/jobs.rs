//! Background work: writing down expiry and pending points that became available, under a
//! lease so that one instance does it at a time; and `verify`, which re-checks every ledger.

use std::time::Duration;

use jiff::Timestamp;
use loyalty_core::tenancy::Actor;
use loyalty_store::repo::{leases, ledger, members, tenants};
use serde::Serialize;

use crate::points::Book;
use crate::{App, AppError, AppResult, Ctx};

/// The points job's lease: long enough for a sweep, short enough that a crashed holder is
/// replaced soon.
const POINTS_LEASE: Duration = Duration::from_secs(300);
const GLOBAL: &str = "*";

impl App {
    /// Runs the points job if this instance gets the lease; returns how many members were
    /// brought up to date, or `None` when another instance holds the lease.
    pub async fn run_points_job(&self) -> AppResult<Option<u64>> {
        let (now, holder) = (self.now(), self.instance.clone());
        let until = now + jiff::SignedDuration::try_from(POINTS_LEASE).unwrap_or_default();
        let held = self
            .db
            .write(move |sql| {
                Ok::<_, AppError>(leases::acquire(sql, GLOBAL, "points", &holder, now, until)?)
            })
            .await?;
        if !held {
            return Ok(None);
        }
        let refreshed = self.refresh_points(now).await;
        let holder = self.instance.clone();
        self.db
            .write(move |sql| Ok::<_, AppError>(leases::release(sql, GLOBAL, "points", &holder)?))
            .await?;
        refreshed.map(Some)
    }

    /// Writes down, for every member whose balances changed by themselves by `now`, the expired
    /// points and the pending points that became available. Each member is its own small
    /// action, so the job never holds a long transaction and orders keep flowing.
    pub async fn refresh_points(&self, now: Timestamp) -> AppResult<u64> {
        let mut done = 0;
        for tenant in self.db.read(tenants::list).await? {
            loop {
                let tenant_id = tenant.id.clone();
                let due = self
                    .db
                    .read(move |sql| members::due_for_refresh(sql, &tenant_id, now, 500))
                    .await?;
                if due.is_empty() {
                    break;
                }
                let mut pending = Vec::with_capacity(due.len());
                for member_id in due {
                    let (db, tenant_id) = (self.db.clone(), tenant.id.clone());
                    pending.push(tokio::spawn(async move {
                        db.write(move |sql| {
                            let actor = Some(Actor::system("points job"));
                            if let Some(mut book) =
                                Book::open(sql, &tenant_id, &member_id, now, actor)?
                            {
                                book.save(sql)?;
                            }
                            Ok::<_, AppError>(())
                        })
                        .await
                    }));
                }
                for task in pending {
                    task.await.map_err(|e| AppError::Internal(e.into()))??;
                    done += 1;
                }
            }
        }
        Ok(done)
    }

    /// Re-checks every member's points against the ledger. Reads only.
    pub async fn verify(&self) -> AppResult<VerifyReport> {
        let mut report = VerifyReport::default();
        for tenant in self.db.read(tenants::list).await? {
            let ctx = Ctx::cli(&tenant.id);
            let tenant_id = ctx.tenant_id.clone();
            let part = self
                .db
                .snapshot(move |sql| verify_tenant(sql, &tenant_id))
                .await?;
            report.members_checked += part.members_checked;
            report.problems.extend(part.problems);
        }
        Ok(report)
    }
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
        let last = page.items.last().map(|m| m.id.clone()).unwrap_or_default();
        let sums: std::collections::HashMap<String, ledger::MemberSums> =
            ledger::sums(sql, tenant_id, &after, &last)?
                .into_iter()
                .map(|s| (s.member_id.clone(), s))
                .collect();
        for m in &page.items {
            report.members_checked += 1;
            let s = sums.get(&m.id);
            let (entries, remaining, min_remaining) =
                s.map_or((0, 0, 0), |s| (s.entries, s.remaining, s.min_remaining));
            let mut problem = |what: String| {
                report
                    .problems
                    .push(format!("tenant {tenant_id} member {}: {what}", m.id))
            };
            if entries != remaining - m.points_debt {
                problem(format!(
                    "ledger entries sum to {entries}, lots hold {remaining} and debt is {}",
                    m.points_debt
                ));
            }
            if m.points_available + m.points_pending != remaining {
                problem(format!(
                    "stored balance {} available + {} pending, lots hold {remaining}",
                    m.points_available, m.points_pending
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
