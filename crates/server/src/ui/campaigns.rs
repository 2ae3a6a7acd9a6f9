//! Campaigns (chiến dịch) and the channels they send through: the channels with a test send,
//! the campaigns list, a new campaign (audience, up to two channels in fallback order with their
//! templates, voucher, purpose, schedule), and a campaign's page — its message rendered for a
//! real member of the audience, a test send ("tin nháp"), launch, cancel, progress and report.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::campaign_audience::Preview;
use loyalty_app::campaign_results::CampaignReport;
use loyalty_app::campaigns::{CampaignIn, CampaignTestIn, CampaignView};
use loyalty_app::channels::{ChannelIn, ChannelView, TestIn};
use loyalty_app::{App, AppError};
use loyalty_core::campaign::{Audience, CampaignChannel, CampaignStatus};
use loyalty_core::records::SavedSegment;
use loyalty_core::tenancy::Permission;
use loyalty_core::voucher::VoucherProgram;
use loyalty_messaging::provider::ChannelType;
use loyalty_messaging::template::Rendered;
use serde::Deserialize;
use serde_json::{Value, json};

use super::charts::{Bar, rows};
use super::message_form::Fields;
use super::session::Staff;
use super::{Chrome, UiError, UiResult, error_for, field_errors, form_status, render};

/// The channel types a shop can add, in the order Vietnamese shops use them.
const TYPES: [(&str, &str); 6] = [
    ("zalo_zns", "Zalo ZNS"),
    ("sms_esms", "SMS eSMS"),
    ("sms_vietguys", "SMS Vietguys"),
    ("email_smtp", "E-mail SMTP"),
    ("email_sendgrid", "E-mail SendGrid"),
    ("email_mailgun", "E-mail Mailgun"),
];

/// Settings fields of the channel form, by name.
const SETTINGS: [&str; 11] = [
    "host",
    "port",
    "tls",
    "from",
    "brandname",
    "sms_type",
    "domain",
    "app_id",
    "oa_id",
    "api_base",
    "oauth_base",
];
const SECRETS: [&str; 10] = [
    "username",
    "password",
    "api_key",
    "secret_key",
    "access_token",
    "refresh_token",
    "app_secret",
    "oa_secret",
    "webhook_signing_key",
    "webhook_verification_key",
];

#[derive(Debug, Default, Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "type")]
    channel_type: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    price_per_message: String,
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    c: Chrome,
    campaigns: Vec<CampaignView>,
    channels: Vec<ChannelView>,
    types: Vec<(&'static str, &'static str)>,
    settings: Vec<&'static str>,
    secrets: Vec<&'static str>,
    form: ChannelForm,
    errors: Vec<(String, String)>,
    notice: Option<String>,
}

impl CampaignsPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    fn field(&self, name: &str) -> &str {
        self.form.fields.get(name).map(String::as_str).unwrap_or("")
    }

    /// The channel types a form field belongs to (`sms_esms zalo_zns`), for the script that
    /// shows only the chosen type's fields.
    fn types_of(&self, field: &str) -> String {
        TYPES
            .iter()
            .filter_map(|(code, _)| ChannelType::parse(code))
            .filter(|t| t.setting_names().contains(&field) || t.secret_names().contains(&field))
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

async fn list_page(
    app: &App,
    staff: &Staff,
    form: ChannelForm,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let fail = |e| UiError::App(staff.lang, e);
    let ctx = &staff.session.ctx;
    let campaigns = app
        .campaigns(ctx, super::whole_list())
        .await
        .map_err(fail)?
        .items;
    let channels = app.channels(ctx).await.map_err(fail)?;
    let status = form_status(&errors);
    let page = CampaignsPage {
        c: Chrome::for_staff(app, staff, "campaigns.title", "campaigns", "/campaigns").await,
        campaigns,
        channels,
        types: TYPES.to_vec(),
        settings: SETTINGS.to_vec(),
        secrets: SECRETS.to_vec(),
        form,
        errors,
        notice,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    list_page(&app, &staff, ChannelForm::default(), vec![], None).await
}

pub async fn create_channel(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<ChannelForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let mut settings = serde_json::Map::new();
    let mut secrets = BTreeMap::new();
    for (name, value) in &form.fields {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if SETTINGS.contains(&name.as_str()) {
            let typed = match name.as_str() {
                "port" => value
                    .parse::<u16>()
                    .map(|p| json!(p))
                    .unwrap_or(json!(value)),
                _ => json!(value),
            };
            settings.insert(name.clone(), typed);
        } else if SECRETS.contains(&name.as_str()) {
            secrets.insert(name.clone(), value.to_string());
        }
    }
    if let Some(grouped) = loyalty_core::text::grouped_whole(&form.price_per_message) {
        settings.insert("price_per_message".into(), json!(grouped));
    }
    let input = ChannelIn {
        channel_type: form.channel_type.clone(),
        name: form.name.clone(),
        settings: Value::Object(settings),
        secrets,
    };
    match app.create_channel(&staff.session.ctx, input).await {
        Ok(_) => Ok(Redirect::to("/campaigns").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            list_page(&app, &staff, form, errors, None).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

pub async fn test_channel(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let input = TestIn {
        to: form.to.trim().to_string(),
        template: None,
    };
    let notice = match app.test_channel(&staff.session.ctx, id, input).await {
        Ok(sent) => match sent.error {
            None => format!(
                "{} {}",
                super::i18n::text(staff.lang, "campaigns.test_sent"),
                form.to.trim()
            ),
            Some(why) => format!(
                "{}: {why}",
                super::i18n::text(staff.lang, "campaigns.test_failed")
            ),
        },
        Err(error @ AppError::Invalid(_)) => field_errors(&error, staff.lang)
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("; "),
        Err(error) => return Err(UiError::App(staff.lang, error)),
    };
    list_page(&app, &staff, ChannelForm::default(), vec![], Some(notice)).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CampaignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// A saved segment's id, or empty for every member.
    #[serde(default)]
    segment: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    voucher_program: String,
    #[serde(default)]
    attribution_days: String,
    #[serde(default)]
    channel_1: String,
    #[serde(default)]
    channel_2: String,
    /// `2026-12-24T09:00` in the shop's time zone, or empty to send at launch.
    #[serde(default)]
    send_at: String,
    #[serde(default)]
    track_email: String,
    #[serde(flatten)]
    templates: Fields,
}

#[derive(Template)]
#[template(path = "campaign_new.html")]
struct NewCampaignPage {
    c: Chrome,
    channels: Vec<ChannelView>,
    segments: Vec<SavedSegment>,
    programs: Vec<VoucherProgram>,
    form: CampaignForm,
    errors: Vec<(String, String)>,
}

impl NewCampaignPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    /// Errors of the templates, all together (their fields are named per channel).
    fn template_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| f.starts_with("channels"))
            .map(|(f, m)| format!("{f}: {m}"))
            .collect()
    }
}

async fn new_page(
    app: &App,
    staff: &Staff,
    form: CampaignForm,
    errors: Vec<(String, String)>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let fail = |e| UiError::App(staff.lang, e);
    let ctx = &staff.session.ctx;
    let channels = app.channels(ctx).await.map_err(fail)?;
    let segments = app.segments(ctx).await.map_err(fail)?;
    let programs = app
        .voucher_programs(ctx, super::whole_list())
        .await
        .map_err(fail)?
        .items;
    let status = form_status(&errors);
    let page = NewCampaignPage {
        c: Chrome::for_staff(app, staff, "campaigns.new", "campaigns", "/campaigns/new").await,
        channels,
        segments,
        programs,
        form,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn new_form(State(app): State<App>, staff: Staff) -> UiResult {
    let form = CampaignForm {
        purpose: "advertising".into(),
        attribution_days: "7".into(),
        ..CampaignForm::default()
    };
    new_page(&app, &staff, form, vec![]).await
}

pub async fn create(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<CampaignForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let ctx = &staff.session.ctx;
    let channels = app
        .channels(ctx)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let mut chosen = Vec::new();
    for (n, id) in [(1u8, &form.channel_1), (2u8, &form.channel_2)] {
        if let Some(channel) = channels.iter().find(|c| &c.id == id) {
            chosen.push(CampaignChannel {
                channel_id: channel.id.clone(),
                template: form
                    .templates
                    .template(&format!("t{n}"), &channel.channel_type),
            });
        }
    }
    let audience = if form.segment.is_empty() {
        Audience::Conditions {
            conditions: json!({"all": []}),
        }
    } else {
        Audience::Segment {
            segment_id: form.segment.clone(),
        }
    };
    let send_at = match form.send_at.trim() {
        "" => None,
        local => {
            let zone = app
                .tenant(ctx)
                .await
                .map_err(|e| UiError::App(staff.lang, e))?
                .zone
                .clone();
            match local
                .parse::<jiff::civil::DateTime>()
                .ok()
                .and_then(|at| zone.to_ambiguous_timestamp(at).compatible().ok())
            {
                Some(at) => Some(at),
                None => {
                    let why = super::i18n::text(staff.lang, "campaigns.send_at_invalid");
                    return new_page(&app, &staff, form, vec![("send_at".into(), why.into())])
                        .await;
                }
            }
        }
    };
    let input = CampaignIn {
        name: form.name.clone(),
        audience,
        channels: chosen,
        voucher_program_id: Some(form.voucher_program.clone()).filter(|p| !p.is_empty()),
        send_at,
        attribution_days: form.attribution_days.trim().parse().ok(),
        purpose: Some(form.purpose.clone()).filter(|p| !p.is_empty()),
        track_email: Some(form.track_email == "on"),
    };
    match app.create_campaign(ctx, input).await {
        Ok(created) => Ok(Redirect::to(&format!("/campaigns/{}", created.id)).into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            new_page(&app, &staff, form, errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    c: Chrome,
    campaign: CampaignView,
    report: CampaignReport,
    preview: Preview,
    chart: String,
    notice: Option<String>,
}

impl CampaignPage {
    fn draft(&self) -> bool {
        self.campaign.status == CampaignStatus::Draft
    }

    fn open(&self) -> bool {
        matches!(
            self.campaign.status,
            CampaignStatus::Draft | CampaignStatus::Scheduled | CampaignStatus::Sending
        )
    }

    fn sending(&self) -> bool {
        self.campaign.status == CampaignStatus::Sending
    }
}

/// What a rendered message shows in the preview.
pub fn shown(rendered: &Rendered) -> String {
    match rendered {
        Rendered::Email {
            subject,
            text,
            html,
        } => {
            format!(
                "{subject}\n\n{}",
                text.clone().unwrap_or_else(|| html.clone())
            )
        }
        Rendered::Sms { text, length } => format!(
            "{text}\n\n({} · {} SMS · {})",
            text.chars().count(),
            length.segments,
            match length.encoding {
                loyalty_messaging::sms::Encoding::Gsm7 => "GSM-7",
                loyalty_messaging::sms::Encoding::Ucs2 => "UCS-2",
            }
        ),
        Rendered::Zns {
            template_id,
            params,
        } => {
            let mut out = format!("ZNS {template_id}");
            for (k, v) in params {
                out.push_str(&format!("\n{k}: {v}"));
            }
            out
        }
    }
}

async fn campaign_page(app: &App, staff: &Staff, id: String, notice: Option<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let campaign = app.campaign(ctx, id.clone()).await.map_err(fail)?;
    let report = app.campaign_report(ctx, id.clone()).await.map_err(fail)?;
    let preview = app.campaign_preview(ctx, id).await.map_err(fail)?;
    let t = |key: &str| super::i18n::text(lang, key).to_string();
    let s = &report.suppressed;
    let bars = [
        ("campaigns.sent", report.sent),
        ("campaigns.delivered", report.delivered),
        ("campaigns.opened", report.opened),
        ("campaigns.clicked", report.clicked),
        ("campaigns.queued", report.queued),
        ("campaigns.failed", report.failed),
        (
            "campaigns.suppressed",
            s.no_consent + s.no_address + s.frequency_cap + s.unsubscribed + s.blocked,
        ),
    ]
    .into_iter()
    .map(|(key, value)| Bar {
        label: t(key),
        value,
        tooltip: format!("{}: {value}", t(key)),
    })
    .collect::<Vec<_>>();
    let chart = rows(&bars, &t("campaigns.report"));
    let page = CampaignPage {
        c: Chrome::for_staff(app, staff, "campaigns.title", "campaigns", "/campaigns").await,
        campaign,
        report,
        preview,
        chart,
        notice,
    };
    Ok(render(&page).into_response())
}

pub async fn show(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    campaign_page(&app, &staff, id, None).await
}

pub async fn test(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let to: Vec<String> = form
        .to
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let notice = match app
        .test_campaign(&staff.session.ctx, id.clone(), CampaignTestIn { to })
        .await
    {
        Ok(sent) => sent
            .iter()
            .map(|s| match &s.error {
                None => super::i18n::text(staff.lang, "campaigns.test_sent").to_string(),
                Some(why) => format!(
                    "{}: {why}",
                    super::i18n::text(staff.lang, "campaigns.test_failed")
                ),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(error @ AppError::Invalid(_)) => field_errors(&error, staff.lang)
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("; "),
        Err(error) => return Err(UiError::App(staff.lang, error)),
    };
    campaign_page(&app, &staff, id, Some(notice)).await
}

pub async fn launch(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<super::CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    app.launch_campaign(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to(&format!("/campaigns/{id}")).into_response())
}

pub async fn cancel(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<super::CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    app.cancel_campaign(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to(&format!("/campaigns/{id}")).into_response())
}

/// The campaign's recipients with their status, as the API's CSV.
pub async fn export(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let ctx = staff.session.ctx;
    match crate::api::messaging::export_campaign(State(app), crate::extract::Auth(ctx), Path(id))
        .await
    {
        Ok(response) => Ok(response),
        Err(crate::problem::ApiError::App(error)) => Err(UiError::App(lang, error)),
        Err(_) => Err(UiError::NotFound(lang)),
    }
}
