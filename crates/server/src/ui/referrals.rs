//! The referral page (Giới thiệu bạn bè): the program's referral settings as a form (rewards
//! as points or a voucher, the minimum order, the monthly cap, the clawback window), the report
//! for a period and the latest referrals with both members' names. The form edits the
//! program's `referral` section, whose own checks name the fields.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::referrals::NamedReferral;
use loyalty_app::{App, AppError};
use loyalty_core::records::Page;
use loyalty_core::referral::{ReferralReport, ReferralReward, ReferralSettings};
use loyalty_core::tenancy::Permission;
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, error_for, field_errors, parse_whole, render};

#[derive(Debug, Default, Deserialize)]
pub struct ReferralForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: Option<String>,
    /// `points`, `voucher` or `none`.
    #[serde(default)]
    referrer_kind: String,
    #[serde(default)]
    referrer_points: String,
    #[serde(default)]
    referrer_voucher: String,
    #[serde(default)]
    friend_kind: String,
    #[serde(default)]
    friend_points: String,
    #[serde(default)]
    friend_voucher: String,
    #[serde(default)]
    min_order: String,
    #[serde(default)]
    max_per_month: String,
    #[serde(default)]
    clawback_days: String,
}

/// One side's reward as the form shows it: its kind, points and voucher program.
fn reward_fields(reward: &Option<ReferralReward>) -> (String, String, String) {
    match reward {
        Some(ReferralReward::Points { points }) => {
            ("points".into(), points.to_string(), String::new())
        }
        Some(ReferralReward::Voucher { voucher_program_id }) => {
            ("voucher".into(), String::new(), voucher_program_id.clone())
        }
        None => ("none".into(), String::new(), String::new()),
    }
}

impl ReferralForm {
    fn from_settings(s: &ReferralSettings) -> ReferralForm {
        let (referrer_kind, referrer_points, referrer_voucher) = reward_fields(&s.referrer_reward);
        let (friend_kind, friend_points, friend_voucher) = reward_fields(&s.friend_reward);
        ReferralForm {
            csrf: String::new(),
            enabled: s.enabled.then(|| "on".into()),
            referrer_kind,
            referrer_points,
            referrer_voucher,
            friend_kind,
            friend_points,
            friend_voucher,
            min_order: s.min_order.to_string(),
            max_per_month: s.max_per_referrer_per_month.to_string(),
            clawback_days: s.clawback_days.to_string(),
        }
    }

    /// The settings this form gives, or the fields it could not read.
    fn settings(&self, lang: super::Lang) -> Result<ReferralSettings, Vec<(String, String)>> {
        let mut e = Vec::new();
        let mut reward = |field: &str, kind: &str, points: &str, voucher: &str| match kind {
            "points" => parse_whole(&format!("{field}.points"), points, &mut e, lang)
                .map(|points| ReferralReward::Points { points }),
            "voucher" => Some(ReferralReward::Voucher {
                voucher_program_id: voucher.trim().to_string(),
            }),
            _ => None,
        };
        let referrer_reward = reward(
            "referral.referrer_reward",
            &self.referrer_kind,
            &self.referrer_points,
            &self.referrer_voucher,
        );
        let friend_reward = reward(
            "referral.friend_reward",
            &self.friend_kind,
            &self.friend_points,
            &self.friend_voucher,
        );
        let defaults = ReferralSettings::default();
        let mut number = |field: &str, text: &str, default: i64| {
            if text.trim().is_empty() {
                default
            } else {
                parse_whole(field, text, &mut e, lang).unwrap_or(default)
            }
        };
        let settings = ReferralSettings {
            enabled: self.enabled.is_some(),
            referrer_reward,
            friend_reward,
            min_order: number("referral.min_order", &self.min_order, defaults.min_order),
            max_per_referrer_per_month: number(
                "referral.max_per_referrer_per_month",
                &self.max_per_month,
                defaults.max_per_referrer_per_month,
            ),
            clawback_days: number(
                "referral.clawback_days",
                &self.clawback_days,
                defaults.clawback_days,
            ),
        };
        if e.is_empty() { Ok(settings) } else { Err(e) }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct ReferralsPage {
    c: Chrome,
    form: ReferralForm,
    errors: Vec<(String, String)>,
    saved: bool,
    can_edit: bool,
    /// Voucher programs a reward may name: (id, name).
    programs: Vec<(String, String)>,
    from: String,
    to: String,
    report: ReferralReport,
    latest: Vec<NamedReferral>,
}

impl ReferralsPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    fn status_key(&self, status: &str) -> &'static str {
        match status {
            "completed" => "referrals.status_completed",
            "reversed" => "referrals.status_reversed",
            _ => "referrals.status_pending",
        }
    }
}

async fn page(
    app: &App,
    staff: &Staff,
    form: Option<ReferralForm>,
    errors: Vec<(String, String)>,
    query: ReportQuery,
) -> UiResult {
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let app_error = |e| UiError::App(lang, e);
    let info = app.tenant(ctx).await.map_err(app_error)?;
    let day = |text: &Option<String>| {
        text.as_deref()
            .and_then(|t| t.trim().parse::<jiff::civil::Date>().ok())
    };
    let (from, to) = (day(&query.from), day(&query.to));
    let report = app
        .referral_report(ctx, from, to)
        .await
        .map_err(app_error)?;
    let latest = app.referrals_named(ctx).await.map_err(app_error)?;
    let all = Page {
        after: None,
        limit: 500,
    };
    let programs = app
        .voucher_programs(ctx, all)
        .await
        .map_err(app_error)?
        .items
        .into_iter()
        .map(|p| (p.id.to_string(), p.name))
        .collect();
    let today = app.now().to_zoned_datetime(info.zone.clone()).date();
    let status = super::form_status(&errors);
    let page = ReferralsPage {
        c: Chrome::for_staff(app, staff, "referrals.title", "referrals", "/referrals").await,
        form: form.unwrap_or_else(|| ReferralForm::from_settings(&info.program.referral)),
        errors,
        saved: query.saved.is_some(),
        can_edit: staff.may(Permission::EditProgram),
        programs,
        from: from.unwrap_or_else(|| today.first_of_month()).to_string(),
        to: to.unwrap_or(today).to_string(),
        report,
        latest,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn show(
    State(app): State<App>,
    staff: Staff,
    Query(query): Query<ReportQuery>,
) -> UiResult {
    staff.require(Permission::ViewReports)?;
    page(&app, &staff, None, vec![], query).await
}

pub async fn save(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<ReferralForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let settings = match form.settings(lang) {
        Ok(settings) => settings,
        Err(errors) => return page(&app, &staff, Some(form), errors, ReportQuery::default()).await,
    };
    let mut program = app
        .tenant(ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?
        .program
        .clone();
    program.referral = settings;
    match app.set_program(ctx, program).await {
        Ok(_) => Ok(Redirect::to("/referrals?saved=1").into_response()),
        Err(error @ AppError::Invalid(_)) => {
            let errors = field_errors(&error, lang);
            page(&app, &staff, Some(form), errors, ReportQuery::default()).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}
