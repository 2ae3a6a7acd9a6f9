//! The tier ladder (Đồng, Bạc, Vàng, Bạch Kim…) and adding a tier to it.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use loyalty_app::tiers::TierInput;
use loyalty_app::{App, AppError};
use loyalty_core::program::TierMetric;
use loyalty_core::tenancy::Permission;
use loyalty_core::tier::Tier;
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, CsrfOnly, UiError, UiResult, error_for, field_errors, parse_whole, render};

#[derive(Debug, Default, Deserialize)]
pub struct TierForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    rank: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    earn_multiplier: String,
    #[serde(default)]
    discount_percent: String,
    /// Per-brand discounts, `brand=percent` separated by commas (`cafe=10, banh=5`).
    #[serde(default)]
    brand_discounts: String,
}

#[derive(Template)]
#[template(path = "tiers.html")]
struct TiersPage {
    c: Chrome,
    tiers: Vec<Tier>,
    metric_key: &'static str,
    can_edit: bool,
    form: TierForm,
    errors: Vec<(String, String)>,
    /// The tier the form edits; `None`: the form adds one.
    editing: Option<String>,
}

impl TiersPage {
    fn action(&self) -> String {
        match &self.editing {
            Some(id) => format!("/tiers/{id}"),
            None => "/tiers".to_string(),
        }
    }

    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    /// The threshold in the program's metric: money, points or a count of orders.
    fn threshold(&self, tier: &Tier) -> String {
        match self.metric_key {
            "tiers.metric_spend" => self.c.money(&tier.threshold),
            _ => self.c.num(&tier.threshold),
        }
    }
}

async fn page(app: &App, staff: &Staff, form: TierForm, errors: Vec<(String, String)>) -> UiResult {
    ladder_page(app, staff, form, errors, None).await
}

async fn ladder_page(
    app: &App,
    staff: &Staff,
    form: TierForm,
    errors: Vec<(String, String)>,
    editing: Option<String>,
) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let tiers = app.tiers(ctx).await.map_err(|e| UiError::App(lang, e))?;
    let info = app.tenant(ctx).await.map_err(|e| UiError::App(lang, e))?;
    let metric_key = match info.program.tiers.metric {
        TierMetric::Spend => "tiers.metric_spend",
        TierMetric::PointsEarned => "tiers.metric_points",
        TierMetric::Orders => "tiers.metric_orders",
    };
    let status = super::form_status(&errors);
    let page = TiersPage {
        c: Chrome::for_staff(app, staff, "tiers.title", "tiers", "/tiers").await,
        tiers,
        metric_key,
        can_edit: staff.may(Permission::EditProgram),
        form,
        errors,
        editing,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    page(&app, &staff, TierForm::default(), vec![]).await
}

pub async fn create(State(app): State<App>, staff: Staff, Form(form): Form<TierForm>) -> UiResult {
    save(app, staff, None, form).await
}

/// The form pre-filled with a tier, posting its changes back to it.
pub async fn edit_form(
    State(app): State<App>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let tiers = app
        .tiers(&staff.session.ctx)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let tier = tiers
        .iter()
        .find(|t| t.id == id)
        .ok_or(UiError::NotFound(staff.lang))?;
    let form = TierForm {
        csrf: String::new(),
        name: tier.name.clone(),
        rank: tier.rank.to_string(),
        threshold: tier.threshold.to_string(),
        earn_multiplier: tier.earn_multiplier().to_string(),
        discount_percent: tier.discount_percent.to_string(),
        brand_discounts: tier
            .brand_discounts
            .iter()
            .map(|d| format!("{}={}", d.brand, d.discount_percent))
            .collect::<Vec<_>>()
            .join(", "),
    };
    ladder_page(&app, &staff, form, vec![], Some(id)).await
}

pub async fn update(
    State(app): State<App>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<TierForm>,
) -> UiResult {
    save(app, staff, Some(id), form).await
}

/// Adds a tier (`id` None) or changes one; the ladder's rules are the use-case's.
async fn save(app: App, staff: Staff, id: Option<String>, form: TierForm) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let mut errors = Vec::new();
    let rank = parse_whole("rank", &form.rank, &mut errors, lang);
    let threshold = parse_whole("threshold", &form.threshold, &mut errors, lang);
    let discount_percent = parse_whole(
        "discount_percent",
        &form.discount_percent,
        &mut errors,
        lang,
    );
    let earn_multiplier = match form.earn_multiplier.trim().replace(',', ".") {
        m if m.is_empty() => None,
        m => match m.parse::<f64>() {
            Ok(m) => Some(m),
            Err(_) => {
                errors.push((
                    "earn_multiplier".into(),
                    super::i18n::text(lang, "form.not_a_number").into(),
                ));
                None
            }
        },
    };
    let brand_discounts = brand_discounts(&form.brand_discounts, &mut errors, lang);
    if !errors.is_empty() {
        return ladder_page(&app, &staff, form, errors, id).await;
    }
    let input = TierInput {
        name: Some(form.name.trim().to_string()).filter(|n| !n.is_empty()),
        rank,
        threshold,
        earn_multiplier,
        discount_percent,
        brand_discounts: Some(brand_discounts),
    };
    let ctx = &staff.session.ctx;
    let saved = match &id {
        Some(id) => app.update_tier(ctx, id.clone(), input).await,
        None => app.create_tier(ctx, input).await,
    };
    match saved {
        Ok(_) => Ok(Redirect::to("/tiers").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            // The API nests the benefits (`benefits.earn_multiplier`); the form does not.
            let errors = field_errors(&error, staff.lang)
                .into_iter()
                .map(|(f, m)| (f.strip_prefix("benefits.").unwrap_or(&f).to_string(), m))
                .collect();
            ladder_page(&app, &staff, form, errors, id).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

/// Removes a tier from the ladder; its members are re-evaluated in the background.
pub async fn delete(
    State(app): State<App>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    match app.delete_tier(&staff.session.ctx, id).await {
        Ok(()) => Ok(Redirect::to("/tiers").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            page(&app, &staff, TierForm::default(), errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

/// `cafe=10, banh=5` as brand discounts; a piece that is not `brand=whole number` is named.
/// (The brands and the bounds are checked by the use-case, as for the API.)
fn brand_discounts(
    text: &str,
    errors: &mut Vec<(String, String)>,
    lang: super::Lang,
) -> Vec<loyalty_core::tier::BrandDiscount> {
    let mut out = Vec::new();
    for piece in text
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let parsed = piece
            .split_once(['=', ':'])
            .and_then(|(brand, percent)| {
                let percent = percent
                    .trim()
                    .trim_end_matches('%')
                    .trim()
                    .parse::<i64>()
                    .ok()?;
                Some((brand.trim().to_string(), percent))
            })
            .filter(|(brand, _)| !brand.is_empty());
        match parsed {
            Some((brand, discount_percent)) => out.push(loyalty_core::tier::BrandDiscount {
                brand,
                discount_percent,
            }),
            None => errors.push((
                "brand_discounts".into(),
                format!(
                    "{}: {piece}",
                    super::i18n::text(lang, "tiers.brand_discounts_format")
                ),
            )),
        }
    }
    out
}
