//! The rewards catalogue (quà đổi điểm): what points buy, and spending a member's points on a
//! reward at the counter (from the member's profile).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use loyalty_app::rewards::RewardInput;
use loyalty_app::{App, AppError};
use loyalty_core::id::MemberId;
use loyalty_core::records::Reward;
use loyalty_core::tenancy::Permission;
use loyalty_core::voucher::VoucherProgram;
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, error_for, field_errors, parse_whole, render};

#[derive(Debug, Default, Deserialize)]
pub struct RewardForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    points_cost: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    voucher_program_id: String,
    #[serde(default)]
    stock: String,
    #[serde(default)]
    per_member_limit: String,
}

#[derive(Template)]
#[template(path = "rewards.html")]
struct RewardsPage {
    c: Chrome,
    rewards: Vec<Reward>,
    programs: Vec<VoucherProgram>,
    can_edit: bool,
    form: RewardForm,
    errors: Vec<(String, String)>,
    /// Why an edit of a listed reward was refused, in the page's language.
    edit_error: String,
}

impl RewardsPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    fn kind_key(&self, reward: &Reward) -> &'static str {
        if reward.kind == "voucher" {
            "rewards.kind_voucher"
        } else {
            "rewards.kind_gift"
        }
    }
}

async fn page(
    app: &App,
    staff: &Staff,
    form: RewardForm,
    errors: Vec<(String, String)>,
) -> UiResult {
    page_with(app, staff, form, errors, String::new()).await
}

async fn page_with(
    app: &App,
    staff: &Staff,
    form: RewardForm,
    errors: Vec<(String, String)>,
    edit_error: String,
) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let rewards = app.rewards(ctx).await.map_err(fail)?;
    let all = super::whole_list();
    let programs = app.voucher_programs(ctx, all).await.map_err(fail)?.items;
    let status = super::form_status(&errors);
    let page = RewardsPage {
        c: Chrome::for_staff(app, staff, "rewards.title", "rewards", "/rewards").await,
        rewards,
        programs,
        can_edit: staff.may(Permission::EditProgram),
        form,
        errors,
        edit_error,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    points_cost: String,
    #[serde(default)]
    stock: String,
    #[serde(default)]
    per_member_limit: String,
    #[serde(default)]
    active: Option<String>,
}

/// Saves a listed reward's name, cost, stock, per-member limit and whether it is on offer (a
/// reward with redemptions is taken off offer rather than deleted: its history stays).
pub async fn update(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let mut errors = Vec::new();
    let points_cost = parse_whole("points_cost", &form.points_cost, &mut errors, lang);
    let stock = parse_whole("stock", &form.stock, &mut errors, lang);
    let limit = parse_whole(
        "per_member_limit",
        &form.per_member_limit,
        &mut errors,
        lang,
    );
    if !errors.is_empty() {
        let message = errors
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("; ");
        return edit_refused(&app, &staff, message).await;
    }
    let input = RewardInput {
        name: Some(form.name.trim().to_string()),
        points_cost,
        stock: Some(stock),
        per_member_limit: Some(limit),
        active: Some(form.active.is_some()),
        ..RewardInput::default()
    };
    match app.update_reward(&staff.session.ctx, id, input).await {
        Ok(_) => Ok(Redirect::to("/rewards").into_response()),
        Err(
            error @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::Rejected { .. }),
        ) => edit_refused(&app, &staff, super::said(&error, lang)).await,
        Err(error) => Err(UiError::App(lang, error)),
    }
}

/// The rewards page again with why an edit was refused.
async fn edit_refused(app: &App, staff: &Staff, message: String) -> UiResult {
    let response = page_with(app, staff, RewardForm::default(), vec![], message).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, response).into_response())
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    page(&app, &staff, RewardForm::default(), vec![]).await
}

pub async fn create(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<RewardForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let mut errors = Vec::new();
    let points_cost = parse_whole("points_cost", &form.points_cost, &mut errors, lang);
    let stock = parse_whole("stock", &form.stock, &mut errors, lang);
    let per_member_limit = parse_whole(
        "per_member_limit",
        &form.per_member_limit,
        &mut errors,
        lang,
    );
    if !errors.is_empty() {
        return page(&app, &staff, form, errors).await;
    }
    let kind = if form.kind == "voucher" {
        "voucher"
    } else {
        "gift"
    };
    let input = RewardInput {
        name: Some(form.name.clone()),
        points_cost,
        kind: Some(kind.to_string()),
        voucher_program_id: Some(
            Some(form.voucher_program_id.clone()).filter(|id| kind == "voucher" && !id.is_empty()),
        ),
        stock: Some(stock),
        per_member_limit: Some(per_member_limit),
        tiers: None,
        active: Some(true),
        starts_at: None,
        ends_at: None,
    };
    match app.create_reward(&staff.session.ctx, input).await {
        Ok(_) => Ok(Redirect::to("/rewards").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            page(&app, &staff, form, errors).await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

#[derive(Debug, Deserialize)]
pub struct RedeemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reward_id: String,
}

/// Spends the member's points on a reward; the profile then shows the voucher issued (its
/// code is in the member's vouchers) or the gift to hand over. Refusals (not enough points,
/// out of stock, limit reached) are shown on the profile.
pub async fn redeem(
    State(app): State<App>,
    staff: Staff,
    Path(member_id): Path<MemberId>,
    Form(form): Form<RedeemForm>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    match app
        .redeem_reward(&staff.session.ctx, member_id.clone(), form.reward_id)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/members/{member_id}")).into_response()),
        Err(
            error @ (AppError::Conflict { .. } | AppError::Invalid(_) | AppError::Rejected { .. }),
        ) => {
            let page = super::members::profile_page(
                &app,
                &staff,
                member_id,
                super::said(&error, staff.lang),
            )
            .await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}
