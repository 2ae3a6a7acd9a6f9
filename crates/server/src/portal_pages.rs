//! The member portal's pages at `/m/{slug}` (API.md "Member portal and widget"), made for a
//! phone and working without JavaScript: sign in with a code sent to the phone, then the
//! member card with the QR code of `member_code` for the till to scan, points, tier progress,
//! history, vouchers and the rewards on offer. The member's session rides in an HttpOnly cookie
//! of its own per shop; every form carries a double-submit token against cross-site posts.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use loyalty_app::portal::{PortalMember, PortalRedeemed, RewardForMember};
use loyalty_app::referrals::MyReferral;
use loyalty_app::tiers::MemberView;
use loyalty_app::vouchers::MemberVoucher;
use loyalty_app::{App, AppError};
use loyalty_core::book::EntryKind;
use loyalty_core::records::Entry;
use loyalty_core::records::Page;
use serde::Deserialize;

use crate::portal_embed::portal_cookie as set_cookie;
use crate::ui::i18n::Lang;
use crate::ui::session::{Client, cookie, lang};
use crate::ui::{Chrome, render};

const PORTAL_CSS: &str = include_str!("../static/portal.css");
const PORTAL_JS: &str = include_str!("../static/portal.js");

pub fn routes() -> Router<App> {
    Router::new()
        .route("/m/{slug}", get(home))
        .route("/m/{slug}/code", post(send_code))
        .route("/m/{slug}/session", post(sign_in))
        .route("/m/{slug}/signout", post(sign_out))
        .route(
            "/m/{slug}/profile",
            get(crate::portal_profile::show).post(crate::portal_profile::save),
        )
        .route("/m/{slug}/rewards/{reward}", get(confirm_page).post(redeem))
        .route("/m/{slug}/theme.css", get(theme))
        .route("/m/{slug}/portal.css", get(stylesheet))
        .route("/m/{slug}/portal.js", get(script))
        .route("/m/{slug}/manifest.webmanifest", get(manifest))
}

/// The member's session cookie for one shop's portal.
pub(crate) fn session_name(slug: &str) -> String {
    format!("loyalty_portal_{slug}")
}

const CSRF_COOKIE: &str = "loyalty_portal_csrf";

/// The shop's look and the page's language and token.
pub(crate) struct Shell {
    pub(crate) c: Chrome,
    pub(crate) slug: String,
    pub(crate) shop: String,
    pub(crate) logo_url: Option<String>,
    /// Tiers are reached by spending (progress in đồng) rather than points or orders.
    pub(crate) spend_metric: bool,
    /// The shop runs a referral program (the home page shows the member's link).
    pub(crate) referral_on: bool,
}

pub(crate) async fn shell(
    app: &App,
    slug: &str,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Shell, Response> {
    let lang = lang(headers);
    let tenant_id = app
        .portal_tenant(slug)
        .await
        .map_err(|e| problem_page(lang, e))?;
    let info = app
        .tenant(&loyalty_app::Ctx::cli(&tenant_id))
        .await
        .map_err(|e| problem_page(lang, e))?;
    let mut c = Chrome::anonymous(lang, "portal.title", csrf.to_string());
    c.zone = info.zone.clone();
    c.path = format!("/m/{slug}");
    Ok(Shell {
        c,
        slug: slug.to_string(),
        shop: info.tenant.name.clone(),
        logo_url: info.program.portal.logo_url.clone(),
        spend_metric: info.program.tiers.metric == loyalty_core::program::TierMetric::Spend,
        referral_on: info.program.referral.enabled,
    })
}

pub(crate) fn problem_page(lang: Lang, error: AppError) -> Response {
    crate::ui::error_page(lang, crate::ui::UiError::App(lang, error))
}

/// The page's double-submit token: the cookie's when there is one, else a new one (set by
/// the answer).
pub(crate) fn csrf_of(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, CSRF_COOKIE) {
        Some(token) if token.len() >= 20 => (token.to_string(), None),
        _ => {
            let token = loyalty_core::code::random_code(32);
            let set = set_cookie(headers, CSRF_COOKIE, &token, 60 * 60 * 24, true);
            (token, Some(set))
        }
    }
}

pub(crate) fn csrf_ok(headers: &HeaderMap, posted: &str) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|token| {
        token.len() >= 20
            && loyalty_core::code::constant_time_eq(token.as_bytes(), posted.as_bytes())
    })
}

pub(crate) fn with_cookie(response: Response, set: Option<String>) -> Response {
    match set {
        Some(value) => ([(header::SET_COOKIE, value)], response).into_response(),
        None => response,
    }
}

#[derive(Template)]
#[template(path = "portal_signin.html")]
struct SignInPage {
    s: Shell,
    /// The phone a code was asked for: the page then asks for the code.
    phone: Option<String>,
    error: Option<String>,
    /// A friend's referral code carried from the shared link to the registration.
    referral: Option<String>,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    s: Shell,
    view: MemberView,
    qr: String,
    history: Vec<Entry>,
    vouchers: Vec<MemberVoucher>,
    rewards: Vec<RewardForMember>,
    /// Just redeemed a reward (the confirmation's redirect says so).
    redeemed: bool,
    /// The member's referral code and link, when the shop runs a referral program.
    referral: Option<MyReferral>,
    /// Points that will expire: the last day to spend them, and how many.
    expiring: Vec<(jiff::civil::Date, i64)>,
}

impl HomePage {
    fn kind_key(&self, kind: &EntryKind) -> &'static str {
        crate::ui::members::entry_kind_key(kind)
    }

    fn tier(&self) -> String {
        self.view
            .tier
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default()
    }
}

/// The member's QR code as an SVG (what the till's scanner reads: the member code).
fn qr_svg(code: &str) -> String {
    match qrcode::QrCode::new(code.as_bytes()) {
        Ok(qr) => qr
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

pub(crate) async fn signed_in(app: &App, slug: &str, headers: &HeaderMap) -> Option<PortalMember> {
    let token = cookie(headers, &session_name(slug))?;
    app.portal_member(slug, token).await.ok()
}

#[derive(Debug, Default, Deserialize)]
struct HomeQuery {
    #[serde(default)]
    redeemed: Option<String>,
    /// A friend's referral code from a shared link.
    #[serde(default, rename = "ref")]
    referral: Option<String>,
}

/// A referral code as a link or a form carries it: letters and digits only, or nothing.
fn referral_code(text: Option<&str>) -> Option<String> {
    let code = text?.trim();
    (!code.is_empty() && code.len() <= 20 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| code.to_ascii_uppercase())
}

async fn home(
    State(app): State<App>,
    Path(slug): Path<String>,
    Query(query): Query<HomeQuery>,
    headers: HeaderMap,
) -> Response {
    let (csrf, set) = csrf_of(&headers);
    let s = match shell(&app, &slug, &headers, &csrf).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(who) = signed_in(&app, &slug, &headers).await else {
        let page = SignInPage {
            s,
            phone: None,
            error: None,
            referral: referral_code(query.referral.as_deref()),
        };
        return with_cookie(render(&page), set);
    };
    let lang = s.c.lang;
    match home_page(&app, s, &who, &headers).await {
        Ok(mut page) => {
            page.redeemed = query.redeemed.is_some();
            with_cookie(render(&page), set)
        }
        Err(error) => problem_page(lang, error),
    }
}

async fn home_page(
    app: &App,
    s: Shell,
    who: &PortalMember,
    headers: &HeaderMap,
) -> Result<HomePage, AppError> {
    let member = app.member(&who.ctx, who.member_id.clone()).await?;
    let qr = qr_svg(&member.member_code);
    let view = app
        .member_views(&who.ctx, vec![member], None)
        .await?
        .pop()
        .ok_or(AppError::NotFound { entity: "member" })?;
    let recent = Page {
        after: None,
        limit: 10,
    };
    let history = app
        .ledger(&who.ctx, who.member_id.clone(), recent)
        .await?
        .items;
    let vouchers = app
        .member_vouchers(&who.ctx, who.member_id.clone())
        .await?
        .into_iter()
        .filter(|v| v.status == "available")
        .collect();
    let rewards = app.portal_rewards(who).await?;
    let expiring = app.portal_expiring(who, 3).await?;
    let mut referral = match s.referral_on {
        true => Some(app.my_referral(who, &s.slug).await?),
        false => None,
    };
    if let Some(r) = &mut referral {
        r.link = absolute(headers, &r.link);
    }
    Ok(HomePage {
        s,
        view,
        qr,
        history,
        vouchers,
        rewards,
        redeemed: false,
        referral,
        expiring,
    })
}

/// Percent-encodes a query value (spaces as `%20`, which every phone's messaging app reads).
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A link a friend can open: as the server's public URL gives it, else on the host this page
/// was asked from.
fn absolute(headers: &HeaderMap, link: &str) -> String {
    if !link.starts_with('/') {
        return link.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    format!("{}://{host}{link}", if https { "https" } else { "http" })
}

impl HomePage {
    /// Facebook's share dialog for the referral link.
    fn facebook_share(&self) -> String {
        let link = self.referral.as_ref().map_or("", |r| r.link.as_str());
        format!(
            "https://www.facebook.com/sharer/sharer.php?u={}",
            encode(link)
        )
    }

    /// A text message with the invitation, for the phone's own messaging app.
    fn sms_share(&self) -> String {
        let link = self.referral.as_ref().map_or("", |r| r.link.as_str());
        let text = format!(
            "{} {link}",
            crate::ui::i18n::text(self.s.c.lang, "portal.invite_text")
        );
        format!("sms:?&body={}", encode(&text))
    }
}

#[derive(Template)]
#[template(path = "portal_redeem.html")]
struct ConfirmPage {
    s: Shell,
    reward: RewardForMember,
    points: i64,
    /// Drawn for this page: posting it twice redeems once.
    confirmation: String,
    error: Option<String>,
}

impl ConfirmPage {
    fn after(&self) -> i64 {
        self.points.saturating_sub(self.reward.points_cost)
    }
}

/// One confirmation before points are spent: what the reward costs and what is left after.
async fn confirm_page(
    State(app): State<App>,
    Path((slug, reward_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    confirm(&app, &slug, &reward_id, &headers, None).await
}

async fn confirm(
    app: &App,
    slug: &str,
    reward_id: &str,
    headers: &HeaderMap,
    error: Option<String>,
) -> Response {
    let (csrf, set) = csrf_of(headers);
    let s = match shell(app, slug, headers, &csrf).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(who) = signed_in(app, slug, headers).await else {
        return Redirect::to(&format!("/m/{slug}")).into_response();
    };
    let lang = s.c.lang;
    let found = async {
        let member = app.member(&who.ctx, who.member_id.clone()).await?;
        let reward = app
            .portal_rewards(&who)
            .await?
            .into_iter()
            .find(|r| r.id == reward_id)
            .ok_or(AppError::NotFound { entity: "reward" })?;
        Ok::<_, AppError>((member.points_available, reward))
    }
    .await;
    match found {
        Ok((points, reward)) => {
            let status = if error.is_some() {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            let page = ConfirmPage {
                s,
                reward,
                points,
                confirmation: loyalty_core::code::random_code(24),
                error,
            };
            with_cookie((status, render(&page)).into_response(), set)
        }
        Err(error) => problem_page(lang, error),
    }
}

#[derive(Debug, Default, Deserialize)]
struct RedeemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirmation: String,
}

async fn redeem(
    State(app): State<App>,
    Path((slug, reward_id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<RedeemForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(who) = signed_in(&app, &slug, &headers).await else {
        return Redirect::to(&format!("/m/{slug}")).into_response();
    };
    let lang = lang(&headers);
    match app
        .portal_redeem(&who, reward_id.clone(), &form.confirmation)
        .await
    {
        Ok(PortalRedeemed::Done(_) | PortalRedeemed::AlreadyDone) => {
            Redirect::to(&format!("/m/{slug}?redeemed=1")).into_response()
        }
        Err(AppError::Conflict { code, .. }) => {
            let said = crate::ui::i18n::lookup(lang, &format!("portal.refused.{code}"))
                .unwrap_or_else(|| crate::ui::i18n::text(lang, "portal.refused"));
            confirm(&app, &slug, &reward_id, &headers, Some(said.to_string())).await
        }
        Err(error) => problem_page(lang, error),
    }
}

#[derive(Debug, Default, Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
    #[serde(default, rename = "ref")]
    referral: String,
}

async fn send_code(
    State(app): State<App>,
    Path(slug): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let s = match posted_form(&app, &slug, &headers, &form.csrf).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let t = |key: &str| crate::ui::i18n::text(s.c.lang, key).to_string();
    match app.request_portal_code(&slug, &form.phone, &client).await {
        Ok(()) => render(&SignInPage {
            phone: Some(form.phone.trim().to_string()),
            error: None,
            referral: referral_code(Some(&form.referral)),
            s,
        }),
        Err(AppError::Invalid(_)) => {
            let error = Some(t("portal.bad_phone"));
            let page = SignInPage {
                s,
                phone: None,
                error,
                referral: referral_code(Some(&form.referral)),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
        Err(error) => problem_page(s.c.lang, error),
    }
}

/// The shell of a page answering a posted form, or the answer when the form's token is not
/// this browser's.
pub(crate) async fn posted_form(
    app: &App,
    slug: &str,
    headers: &HeaderMap,
    posted: &str,
) -> Result<Shell, Response> {
    let (csrf, _) = csrf_of(headers);
    let s = shell(app, slug, headers, &csrf).await?;
    if !csrf_ok(headers, posted) {
        return Err(expired_form(s));
    }
    Ok(s)
}

/// The sign-in page after the shop's site's customer token was refused (forged, expired, or
/// naming nobody the portal may sign in): the customer can still sign in with a code.
pub(crate) async fn refused_token_page(app: &App, slug: &str, headers: &HeaderMap) -> Response {
    let (csrf, set) = csrf_of(headers);
    let s = match shell(app, slug, headers, &csrf).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let error = Some(crate::ui::i18n::text(s.c.lang, "portal.token_refused").to_string());
    let page = SignInPage {
        s,
        phone: None,
        error,
        referral: None,
    };
    with_cookie(render(&page), set)
}

fn expired_form(s: Shell) -> Response {
    let error = Some(crate::ui::i18n::text(s.c.lang, "portal.expired_form").to_string());
    let page = SignInPage {
        s,
        phone: None,
        error,
        referral: None,
    };
    (StatusCode::FORBIDDEN, render(&page)).into_response()
}

async fn sign_in(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let s = match posted_form(&app, &slug, &headers, &form.csrf).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let referral = referral_code(Some(&form.referral));
    match app
        .portal_sign_in(&slug, &form.phone, &form.code, referral.as_deref())
        .await
    {
        Ok(session) => {
            let max_age = (session.expires_at - app.now()).as_secs();
            let set = set_cookie(
                &headers,
                &session_name(&slug),
                &session.token,
                max_age,
                false,
            );
            (
                [(header::SET_COOKIE, set)],
                Redirect::to(&format!("/m/{slug}")),
            )
                .into_response()
        }
        Err(AppError::Unauthorized(_) | AppError::Invalid(_)) => {
            let error = Some(crate::ui::i18n::text(s.c.lang, "portal.wrong_code").to_string());
            let page = SignInPage {
                phone: Some(form.phone.trim().to_string()),
                error,
                referral,
                s,
            };
            (StatusCode::UNAUTHORIZED, render(&page)).into_response()
        }
        Err(error) => problem_page(s.c.lang, error),
    }
}

async fn sign_out(
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let gone = set_cookie(&headers, &session_name(&slug), "", 0, false);
    (
        [(header::SET_COOKIE, gone)],
        Redirect::to(&format!("/m/{slug}")),
    )
        .into_response()
}

/// The shop's colour, as a stylesheet (the pages' policy allows no inline styles).
async fn theme(State(app): State<App>, Path(slug): Path<String>) -> Response {
    let color = match app.portal_tenant(&slug).await {
        Ok(tenant_id) => app
            .tenant(&loyalty_app::Ctx::cli(&tenant_id))
            .await
            .ok()
            .and_then(|info| info.program.portal.brand_color.clone()),
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    // Checked as #rrggbb when saved; anything else falls back to the default red.
    let color = color.unwrap_or_else(|| "#b4232c".into());
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        format!(":root {{ --brand: {color}; }}\n"),
    )
        .into_response()
}

/// Share and copy buttons for the referral link, where the browser can (the page works
/// without it).
async fn script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PORTAL_JS,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PORTAL_CSS,
    )
        .into_response()
}

/// Installable: the portal added to the phone's home screen opens as an app.
async fn manifest(State(app): State<App>, Path(slug): Path<String>) -> Response {
    let Ok(tenant_id) = app.portal_tenant(&slug).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(info) = app.tenant(&loyalty_app::Ctx::cli(&tenant_id)).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let color = info
        .program
        .portal
        .brand_color
        .clone()
        .unwrap_or_else(|| "#b4232c".into());
    let body = serde_json::json!({
        "name": info.tenant.name,
        "short_name": info.tenant.name,
        "start_url": format!("/m/{slug}"),
        "scope": format!("/m/{slug}"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": color,
        "lang": "vi",
    });
    (
        [(header::CONTENT_TYPE, "application/manifest+json")],
        body.to_string(),
    )
        .into_response()
}
