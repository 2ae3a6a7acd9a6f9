//! The dashboard: members, revenue from members against guests, points and their liability,
//! tiers, and new members per day.

use askama::Template;
use axum::extract::{Query, State};
use jiff::{SignedDuration, Timestamp};
use loyalty_app::App;
use loyalty_core::records::Dashboard;
use loyalty_core::tenancy::Permission;
use serde::Deserialize;

use super::charts::{self, Bar};
use super::format;
use super::session::Staff;
use super::{Chrome, UiError, UiResult, render};

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Chrome,
    days: i64,
    d: Dashboard,
    liability: i64,
    member_share: String,
    tiers_chart: String,
    new_chart: String,
}

#[derive(Debug, Deserialize)]
pub struct Period {
    days: Option<i64>,
}

pub async fn show(State(app): State<App>, staff: Staff, Query(period): Query<Period>) -> UiResult {
    staff.require(Permission::ViewReports)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let days = period
        .days
        .filter(|d| [7, 30, 90, 365].contains(d))
        .unwrap_or(30);
    let to = app.now();
    let from = to - SignedDuration::from_hours(24 * days);
    let d = app.dashboard(ctx, from, to).await.map_err(fail)?;
    let info = app.tenant(ctx).await.map_err(fail)?;
    let tiers = app.tiers(ctx).await.map_err(fail)?;

    let tier_bars: Vec<Bar> = d
        .tiers
        .iter()
        .map(|(id, n)| {
            let name = id
                .as_ref()
                .and_then(|id| tiers.iter().find(|t| &t.id == id))
                .map(|t| t.name.clone())
                .unwrap_or_else(|| super::i18n::text(lang, "tier.none").to_string());
            Bar {
                label: name,
                value: *n,
                tooltip: format::number(lang, *n),
            }
        })
        .collect();

    // One column per day of the period, zero where no one joined.
    let offset = info.zone.to_offset(to).seconds() as i64;
    let last_day = (to.as_millisecond() + offset * 1000).div_euclid(86_400_000);
    let new_bars: Vec<Bar> = (last_day - days + 1..=last_day)
        .map(|day| {
            let value = d
                .new_per_day
                .iter()
                .find(|(d, _)| *d == day)
                .map_or(0, |(_, n)| *n);
            let date = Timestamp::from_millisecond(day * 86_400_000)
                .map(|t| t.strftime("%d/%m").to_string())
                .unwrap_or_default();
            Bar {
                tooltip: format!("{date}: {}", format::number(lang, value)),
                label: date,
                value,
            }
        })
        .collect();
    let label_every = (days as usize / 6).max(1);

    let page = DashboardPage {
        c: Chrome::for_staff(
            &app,
            &staff,
            "dashboard.title",
            "dashboard",
            &format!("/dashboard?days={days}"),
        )
        .await,
        days,
        liability: d
            .points_outstanding
            .saturating_mul(info.program.redeem.point_value),
        member_share: format::percent(
            d.revenue_members,
            d.revenue_members.saturating_add(d.revenue_guests),
        ),
        tiers_chart: charts::rows(&tier_bars, super::i18n::text(lang, "dashboard.tiers")),
        new_chart: charts::columns(
            &new_bars,
            super::i18n::text(lang, "dashboard.new_per_day"),
            label_every,
        ),
        d,
    };
    Ok(render(&page))
}
