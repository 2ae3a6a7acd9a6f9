//! Merging two records of one person from the back office: from a member's profile (the other
//! record named by phone, e-mail, member code or id) and from the suggested duplicates, each
//! pair merged either way round. The kept record's profile opens afterwards.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use loyalty_app::{App, AppError, Ctx};
use loyalty_core::id::MemberId;
use loyalty_core::member::Member;
use loyalty_core::records::{MemberFilter, Page};
use loyalty_core::tenancy::Permission;
use serde::Deserialize;

use super::members::profile_page;
use super::session::Staff;
use super::{Chrome, UiError, UiResult, render};

#[derive(Template)]
#[template(path = "duplicates.html")]
struct DuplicatesPage {
    c: Chrome,
    pairs: Vec<(&'static str, Member, Member)>,
    can_merge: bool,
}

impl DuplicatesPage {
    fn reason_key(&self, reason: &str) -> &'static str {
        match reason {
            "same_name_birthday" => "duplicates.same_name_birthday",
            "same_name_phone_suffix" => "duplicates.same_name_phone_suffix",
            _ => "duplicates.email_variant",
        }
    }
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let lang = staff.lang;
    let pairs = app
        .duplicate_pairs(&staff.session.ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?;
    let page = DuplicatesPage {
        c: Chrome::for_staff(
            &app,
            &staff,
            "duplicates.title",
            "members",
            "/members/duplicates",
        )
        .await,
        pairs,
        can_merge: staff.may(Permission::EditProgram),
    };
    Ok(render(&page).into_response())
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    /// The other record: a phone, an e-mail, a member code or a member id.
    #[serde(default)]
    other: String,
}

pub async fn merge(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<MemberId>,
    Form(form): Form<MergeForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let ctx = &staff.session.ctx;
    let refused = |message: String| async {
        let page = profile_page(&app, &staff, id.clone(), message).await?;
        Ok::<_, UiError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let Some(other) = find(&app, ctx, &form.other)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?
    else {
        let message = super::i18n::text(staff.lang, "member.merge_not_found").to_string();
        return refused(message).await;
    };
    match app.merge_members(ctx, id.clone(), other).await {
        Ok(kept) => Ok(Redirect::to(&format!("/members/{}", kept.id)).into_response()),
        Err(
            error @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::Rejected { .. }),
        ) => refused(super::messages(&error, staff.lang)).await,
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

/// The member a counter clerk names: by phone (in any usual form), e-mail, member code, or id.
async fn find(app: &App, ctx: &Ctx, text: &str) -> Result<Option<MemberId>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let filter = if let Ok(phone) = loyalty_core::phone::Phone::parse(text) {
        MemberFilter {
            phone: Some(phone.as_str().to_string()),
            ..MemberFilter::default()
        }
    } else if let Ok(email) = loyalty_core::email::Email::parse(text) {
        MemberFilter {
            email: Some(email.as_str().to_string()),
            ..MemberFilter::default()
        }
    } else if text.starts_with("mem_") {
        return Ok(Some(MemberId::from(text)));
    } else {
        MemberFilter {
            member_code: Some(text.to_ascii_uppercase()),
            ..MemberFilter::default()
        }
    };
    let first = Page {
        after: None,
        limit: 1,
    };
    let found = app.members(ctx, filter, first).await?;
    Ok(found.items.into_iter().next().map(|m| m.id))
}
