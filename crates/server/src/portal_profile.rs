//! The member's profile in the portal (`/m/{slug}/profile`): their name, their birthday (set
//! once: it brings a birthday gift) and their marketing consent per channel. A withdrawal is
//! recorded in the consent history with the source `portal`, as every change the member makes
//! there is (`App::portal_update_me`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyalty_app::portal::MePatch;
use loyalty_app::{App, AppError};
use loyalty_core::input::member::ConsentIn;
use loyalty_core::member::Member;
use serde::Deserialize;

use crate::portal_pages::{
    Shell, csrf_of, posted_form, problem_page, shell, signed_in, with_cookie,
};
use crate::ui::render;

#[derive(Template)]
#[template(path = "portal_profile.html")]
struct ProfilePage {
    s: Shell,
    member: Member,
    saved: bool,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProfileQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub async fn show(
    State(app): State<App>,
    Path(slug): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ProfileQuery>,
    headers: HeaderMap,
) -> Response {
    let (csrf, set) = csrf_of(&headers);
    let s = match shell(&app, &slug, &headers, &csrf).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(who) = signed_in(&app, &slug, &headers).await else {
        return Redirect::to(&format!("/m/{slug}")).into_response();
    };
    match app.member(&who.ctx, who.member_id.clone()).await {
        Ok(member) => {
            let page = ProfilePage {
                s,
                member,
                saved: query.saved.is_some(),
                error: None,
            };
            with_cookie(render(&page), set)
        }
        Err(error) => problem_page(s.c.lang, error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birthday: String,
    #[serde(default)]
    zalo: Option<String>,
    #[serde(default)]
    sms: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

pub async fn save(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ProfileForm>,
) -> Response {
    let s = match posted_form(&app, &slug, &headers, &form.csrf).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(who) = signed_in(&app, &slug, &headers).await else {
        return Redirect::to(&format!("/m/{slug}")).into_response();
    };
    let lang = s.c.lang;
    let current = match app.member(&who.ctx, who.member_id.clone()).await {
        Ok(member) => member,
        Err(error) => return problem_page(lang, error),
    };
    let name = form.name.trim();
    let birthday = form.birthday.trim();
    let patch = MePatch {
        name: (!name.is_empty() && current.profile.name.as_deref() != Some(name))
            .then(|| name.to_string()),
        // The birthday is given once; the page shows it read-only after that.
        birthday: (current.profile.birthday.is_none() && !birthday.is_empty())
            .then(|| birthday.to_string()),
        consent: Some(ConsentIn {
            email: Some(form.email.is_some()),
            sms: Some(form.sms.is_some()),
            zalo: Some(form.zalo.is_some()),
        }),
    };
    match app.portal_update_me(&who, patch).await {
        Ok(_) => Redirect::to(&format!("/m/{slug}/profile?saved=1")).into_response(),
        Err(error @ AppError::Invalid(_)) => {
            let message = crate::ui::field_errors(&error, lang)
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join(" ");
            let page = ProfilePage {
                s,
                member: current,
                saved: false,
                error: Some(message),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
        Err(error) => problem_page(lang, error),
    }
}
