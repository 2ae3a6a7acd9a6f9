//! Members: the searchable list, a new member at the counter, the profile with points, orders
//! and tier history, and adjusting points by hand.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use loyalty_app::automations::RunView;
use loyalty_app::tiers::MemberView;
use loyalty_app::vouchers::MemberVoucher;
use loyalty_app::{App, AppError};
use loyalty_core::book::EntryKind;
use loyalty_core::id::MemberId;
use loyalty_core::member::{Gender, Member, MemberStatus};
use loyalty_core::order::OrderStatus;
use loyalty_core::program::TierMetric;
use loyalty_core::records::Entry;
use loyalty_core::records::MemberFilter;
use loyalty_core::records::Page;
use loyalty_core::records::Reward;
use loyalty_core::records::TierChange;
use loyalty_core::records::{Activity, ActivityFilter};
use loyalty_core::records::{OrderFilter, OrderRow};
use loyalty_core::tenancy::Permission;
use loyalty_core::tier::Tier;
use serde::Deserialize;

use loyalty_core::input::member::{MemberIn, MemberPatchIn};

use super::session::Staff;
use super::{Chrome, CsrfOnly, UiError, UiResult, error_for, field_errors, render};

const PAGE_SIZE: i64 = 50;

fn tier_name(tiers: &[Tier], id: &Option<String>) -> String {
    id.as_ref()
        .and_then(|id| tiers.iter().find(|t| &t.id == id))
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

// ---- the list ----

pub struct Row {
    pub member: Member,
    pub tier: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct ListPage {
    c: Chrome,
    q: String,
    status: String,
    tier: String,
    tiers: Vec<Tier>,
    rows: Vec<Row>,
    next: Option<String>,
    can_create: bool,
    can_merge: bool,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tier: String,
    after: Option<String>,
}

/// Whether `q` is the member's code or phone number exactly (not a piece of a name).
fn exact_match(member: &Member, q: &str) -> bool {
    let q = q.trim();
    if q.is_empty() {
        return false;
    }
    member.member_code.eq_ignore_ascii_case(q)
        || loyalty_core::phone::Phone::parse(q)
            .ok()
            .is_some_and(|p| member.profile.phone.as_ref() == Some(&p))
}

pub async fn list(
    State(app): State<App>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let q = query.q.unwrap_or_default().trim().to_string();
    // A scanned member card: the scanner types the code and Enter; its member opens at once.
    if (4..=20).contains(&q.len()) && q.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let by_code = MemberFilter {
            member_code: Some(q.to_ascii_uppercase()),
            ..MemberFilter::default()
        };
        let first = Page {
            after: None,
            limit: 2,
        };
        let found = app.members(ctx, by_code, first).await.map_err(fail)?;
        if let [only] = found.items.as_slice() {
            return Ok(Redirect::to(&format!("/members/{}", only.id)).into_response());
        }
    }
    // A phone number opens its member, also one merged into another record (its kept one).
    if let Ok(phone) = loyalty_core::phone::Phone::parse(&q) {
        let by_phone = MemberFilter {
            phone: Some(phone.as_str().to_string()),
            ..MemberFilter::default()
        };
        let first = Page {
            after: None,
            limit: 1,
        };
        let found = app.members(ctx, by_phone, first).await.map_err(fail)?;
        if let [only] = found.items.as_slice() {
            return Ok(Redirect::to(&format!("/members/{}", only.id)).into_response());
        }
    }
    let filter = MemberFilter {
        text: (!q.is_empty()).then(|| loyalty_core::text::fold(&q)),
        status: MemberStatus::parse(&query.status),
        tier_id: Some(query.tier.clone()).filter(|t| !t.is_empty()),
        ..MemberFilter::default()
    };
    let page = Page {
        after: query.after.filter(|a| !a.is_empty()),
        limit: PAGE_SIZE,
    };
    let members = app.members(ctx, filter, page).await.map_err(fail)?;
    // A typed phone number that finds exactly its member opens the profile at once.
    if let [only] = members.items.as_slice()
        && members.next_after.is_none()
        && exact_match(only, &q)
    {
        return Ok(Redirect::to(&format!("/members/{}", only.id)).into_response());
    }
    let tiers = app.tiers(ctx).await.map_err(fail)?;
    let rows = members
        .items
        .into_iter()
        .map(|member| Row {
            tier: tier_name(&tiers, &member.tier_id),
            member,
        })
        .collect();
    let path = format!(
        "/members?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .append_pair("status", &query.status)
            .append_pair("tier", &query.tier)
            .finish()
    );
    let page = ListPage {
        c: Chrome::for_staff(&app, &staff, "members.title", "members", &path).await,
        next: members.next_after.map(|after| {
            format!(
                "{path}&after={}",
                form_urlencoded::byte_serialize(after.as_bytes()).collect::<String>()
            )
        }),
        q,
        status: query.status,
        tier: query.tier,
        tiers,
        rows,
        can_create: staff.may(Permission::EditMembers),
        can_merge: staff.may(Permission::EditProgram),
    };
    Ok(render(&page))
}

// ---- a new member ----

#[derive(Debug, Default, Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    birthday: String,
    #[serde(default)]
    gender: String,
    #[serde(default)]
    province: String,
    /// Tags, separated by commas.
    #[serde(default)]
    tags: String,
    #[serde(default)]
    consent_zalo: Option<String>,
    #[serde(default)]
    consent_sms: Option<String>,
    #[serde(default)]
    consent_email: Option<String>,
}

impl MemberForm {
    /// The tags typed, trimmed, blanks and repeats dropped.
    fn tag_list(&self) -> Vec<String> {
        let mut tags: Vec<String> = Vec::new();
        for tag in self
            .tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        }
        tags
    }

    fn consent(&self) -> loyalty_core::input::member::ConsentIn {
        loyalty_core::input::member::ConsentIn {
            zalo: Some(self.consent_zalo.is_some()),
            sms: Some(self.consent_sms.is_some()),
            email: Some(self.consent_email.is_some()),
        }
    }
}

/// The member form, for a new member or for editing one.
#[derive(Template)]
#[template(path = "member_form.html")]
struct MemberFormPage {
    c: Chrome,
    /// The catalogue key of the heading.
    heading: &'static str,
    action: String,
    form: MemberForm,
    errors: Vec<(String, String)>,
}

impl MemberFormPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }
}

/// The form's gender choice (blank: not given).
fn gender(value: &str) -> Option<Gender> {
    match value {
        "female" => Some(Gender::Female),
        "male" => Some(Gender::Male),
        "other" => Some(Gender::Other),
        _ => None,
    }
}

async fn form_page(
    app: &App,
    staff: &Staff,
    id: Option<&str>,
    form: MemberForm,
    errors: Vec<(String, String)>,
) -> UiResult {
    let (heading, action) = match id {
        Some(id) => ("member.edit", format!("/members/{id}/edit")),
        None => ("members.new", "/members/new".to_string()),
    };
    let page = MemberFormPage {
        c: Chrome::for_staff(app, staff, heading, "members", &action).await,
        heading,
        action,
        form,
        errors,
    };
    Ok((super::form_status(&page.errors), render(&page)).into_response())
}

pub async fn new_form(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::EditMembers)?;
    form_page(&app, &staff, None, MemberForm::default(), vec![]).await
}

fn blank_to_none(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

pub async fn create(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<MemberForm>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    let ctx = &staff.session.ctx;
    let input = MemberIn {
        phone: blank_to_none(&form.phone),
        email: blank_to_none(&form.email),
        name: blank_to_none(&form.name),
        birthday: blank_to_none(&form.birthday),
        gender: gender(&form.gender),
        province: blank_to_none(&form.province),
        tags: Some(form.tag_list()).filter(|t| !t.is_empty()),
        consent: Some(form.consent()),
        source: Some("admin".into()),
        ..MemberIn::default()
    };
    match app.create_member(ctx, input).await {
        Ok(member) => Ok(Redirect::to(&format!("/members/{}", member.id)).into_response()),
        Err(error) => refused(&app, &staff, None, form, error).await,
    }
}

/// The form again with a refusal's errors (a clash without a field is shown at the phone).
async fn refused(
    app: &App,
    staff: &Staff,
    id: Option<&str>,
    form: MemberForm,
    error: AppError,
) -> UiResult {
    match error {
        AppError::Invalid(_) | AppError::Conflict { .. } => {
            let mut errors = field_errors(&error, staff.lang);
            if errors.iter().all(|(f, _)| f.is_empty()) {
                errors.push(("phone".into(), super::said(&error, staff.lang)));
            }
            form_page(app, staff, id, form, errors).await
        }
        error => Err(UiError::App(staff.lang, error)),
    }
}

/// The member's automation runs with their journeys' names (a shop has a handful of journeys).
async fn member_runs(
    app: &App,
    staff: &Staff,
    id: &str,
) -> Result<Vec<(RunView, String)>, UiError> {
    let fail = |e| UiError::App(staff.lang, e);
    let ctx = &staff.session.ctx;
    let runs = app
        .member_automation_runs(ctx, id.to_string())
        .await
        .map_err(fail)?;
    if runs.is_empty() {
        return Ok(vec![]);
    }
    let names: std::collections::HashMap<String, String> = app
        .automations(ctx)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    Ok(runs
        .into_iter()
        .map(|run| {
            let name = names.get(&run.automation_id).cloned().unwrap_or_default();
            (run, name)
        })
        .collect())
}

/// The page text naming a kind of ledger entry (the profile's and the member portal's history).
pub(crate) fn entry_kind_key(kind: &EntryKind) -> &'static str {
    match kind {
        EntryKind::Earn => "ledger.earn",
        EntryKind::Redeem => "ledger.redeem",
        EntryKind::Expire => "ledger.expire",
        EntryKind::Reverse => "ledger.reverse",
        EntryKind::Adjust => "ledger.adjust",
    }
}

// ---- the profile ----

#[derive(Template)]
#[template(path = "member.html")]
struct ProfilePage {
    c: Chrome,
    view: MemberView,
    tier: String,
    next_tier: Option<(String, i64)>,
    ledger: Vec<Entry>,
    orders: Vec<OrderRow>,
    history: Vec<TierChange>,
    can_adjust: bool,
    can_edit: bool,
    /// May block and unblock (the admin's).
    can_block: bool,
    problem: String,
    spend_metric: bool,
    vouchers: Vec<MemberVoucher>,
    activity: Vec<Activity>,
    rewards: Vec<Reward>,
    /// The ladder, for setting a tier by hand (empty when the role may not).
    ladder: Vec<Tier>,
    /// The automations the member went through: the run and the journey's name.
    runs: Vec<(RunView, String)>,
    /// The latest changes of their marketing consent.
    consents: Vec<loyalty_core::consent::ConsentChange>,
}

impl ProfilePage {
    fn last_result(&self, run: &RunView) -> String {
        super::automation_editor::last_result(&self.c, run)
    }

    fn source_key(&self, source: &loyalty_core::consent::ConsentSource) -> &'static str {
        use loyalty_core::consent::ConsentSource as S;
        match source {
            S::Api => "consent_source.api",
            S::Ui => "consent_source.ui",
            S::Portal => "consent_source.portal",
            S::Unsubscribe => "consent_source.unsubscribe",
            S::Import => "consent_source.import",
        }
    }

    fn status_key(&self) -> &'static str {
        match self.view.member.status {
            MemberStatus::Customer => "status.customer",
            MemberStatus::Member => "status.member",
            MemberStatus::Blocked => "status.blocked",
            MemberStatus::Merged => "status.merged",
        }
    }

    fn kind_key(&self, kind: &EntryKind) -> &'static str {
        entry_kind_key(kind)
    }

    fn reason_key(&self, reason: &str) -> &'static str {
        match reason {
            "upgrade" => "history.upgrade",
            "review" => "history.review",
            "override" => "history.override",
            _ => "history.import",
        }
    }

    fn order_status_key(&self, status: &OrderStatus) -> &'static str {
        super::orders::status_key(*status)
    }

    /// What is left to reach the next tier, in the program's metric.
    fn remaining(&self, remaining: &i64) -> String {
        if self.spend_metric {
            self.c.money(remaining)
        } else {
            self.c.num(remaining)
        }
    }
}

pub(super) async fn profile_page(
    app: &App,
    staff: &Staff,
    id: MemberId,
    problem: String,
) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let member = app.member(ctx, id.clone()).await.map_err(fail)?;
    let view = app
        .member_views(ctx, vec![member], None)
        .await
        .map_err(fail)?
        .pop()
        .ok_or(UiError::NotFound(lang))?;
    let recent = Page {
        after: None,
        limit: 20,
    };
    let ledger = app
        .ledger(ctx, id.clone(), recent.clone())
        .await
        .map_err(fail)?;
    let filter = OrderFilter {
        member_id: Some(id.to_string()),
        newest_first: true,
        ..OrderFilter::default()
    };
    let newest = Page {
        after: None,
        limit: 20,
    };
    let orders = app.orders(ctx, filter, newest).await.map_err(fail)?.items;
    let history = app
        .tier_history(ctx, id.clone(), None, None, recent.clone())
        .await
        .map_err(fail)?;
    let info = app.tenant(ctx).await.map_err(fail)?;
    let vouchers = app.member_vouchers(ctx, id.clone()).await.map_err(fail)?;
    let runs = member_runs(app, staff, &id).await?;
    let consents = app
        .consent_history(ctx, id.clone(), recent.clone())
        .await
        .map_err(fail)?
        .items;
    let about_member = ActivityFilter {
        entity: Some("member".into()),
        entity_id: Some(id.to_string()),
        ..ActivityFilter::default()
    };
    let activity = if staff.may(Permission::ViewActivity) {
        let latest = Page {
            after: None,
            limit: 20,
        };
        app.activity(ctx, about_member, latest)
            .await
            .map_err(fail)?
            .items
    } else {
        vec![]
    };
    let rewards = app
        .rewards(ctx)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|r| r.active)
        .collect();
    let ladder = if staff.may(Permission::EditProgram) {
        app.tiers(ctx).await.map_err(fail)?
    } else {
        vec![]
    };
    let page = ProfilePage {
        consents,
        runs,
        ladder,
        rewards,
        vouchers,
        activity,
        can_edit: staff.may(Permission::EditMembers),
        can_block: staff.may(Permission::EditProgram),
        spend_metric: info.program.tiers.metric == TierMetric::Spend,
        c: Chrome::for_staff(
            app,
            staff,
            "member.title",
            "members",
            &format!("/members/{id}"),
        )
        .await,
        tier: view
            .tier
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        next_tier: view.next_tier.clone(),
        view,
        ledger: ledger.items,
        orders,
        history: history.items,
        can_adjust: staff.may(Permission::AdjustPoints),
        problem,
    };
    Ok(render(&page))
}

pub async fn profile(State(app): State<App>, staff: Staff, Path(id): Path<MemberId>) -> UiResult {
    profile_page(&app, &staff, id, String::new()).await
}

#[derive(Debug, Deserialize)]
pub struct AdjustForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    points: String,
    #[serde(default)]
    reason: String,
}

pub async fn adjust_points(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<MemberId>,
    Form(form): Form<AdjustForm>,
) -> UiResult {
    staff.require(Permission::AdjustPoints)?;
    staff.check_csrf(&form.csrf)?;
    let Ok(points) = form.points.trim().parse::<i64>() else {
        let message = super::i18n::text(staff.lang, "member.adjust_not_a_number").to_string();
        let page = profile_page(&app, &staff, id, message).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    match app
        .adjust_points(&staff.session.ctx, id.clone(), points, form.reason)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/members/{id}")).into_response()),
        Err(
            error @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::Rejected { .. }),
        ) => {
            let message = super::messages(&error, staff.lang);
            let page = profile_page(&app, &staff, id, message).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

// ---- editing and activating ----

pub async fn edit_form(State(app): State<App>, staff: Staff, Path(id): Path<MemberId>) -> UiResult {
    staff.require(Permission::EditMembers)?;
    let member = app
        .member(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let p = &member.profile;
    let form = MemberForm {
        csrf: String::new(),
        name: p.name.clone().unwrap_or_default(),
        phone: p
            .phone
            .as_ref()
            .map(|p| p.national().unwrap_or_else(|| p.as_str().to_string()))
            .unwrap_or_default(),
        email: p.email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
        // Only a full date fits the date input; a birthday without a year stays as it is
        // unless the field is changed.
        birthday: p
            .birthday
            .as_ref()
            .map(|b| b.to_string())
            .filter(|b| !b.starts_with("--"))
            .unwrap_or_default(),
        gender: p.gender.map(|g| g.as_str().to_string()).unwrap_or_default(),
        province: p.province.clone().unwrap_or_default(),
        tags: p.tags.join(", "),
        consent_zalo: p.consent.zalo.then(|| "on".into()),
        consent_sms: p.consent.sms.then(|| "on".into()),
        consent_email: p.consent.email.then(|| "on".into()),
    };
    form_page(&app, &staff, Some(&id), form, vec![]).await
}

/// A blank field clears the value, except the birthday, which a blank leaves alone (a
/// birthday without a year cannot be shown in the date input).
fn change(value: &str) -> Option<Option<String>> {
    Some(blank_to_none(value))
}

pub async fn edit(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<MemberId>,
    Form(form): Form<MemberForm>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    let ctx = &staff.session.ctx;
    let patch = MemberPatchIn {
        phone: change(&form.phone),
        email: change(&form.email),
        name: change(&form.name),
        gender: Some(gender(&form.gender)),
        birthday: blank_to_none(&form.birthday).map(Some),
        province: change(&form.province),
        tags: Some(form.tag_list()),
        consent: Some(form.consent()),
        ..MemberPatchIn::default()
    };
    match app.update_member(ctx, id.clone(), patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/members/{id}")).into_response()),
        Err(error) => refused(&app, &staff, Some(&id), form, error).await,
    }
}

pub async fn activate(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<MemberId>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditMembers)?;
    staff.check_csrf(&form.csrf)?;
    app.activate_member(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to(&format!("/members/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct OverrideForm {
    #[serde(default)]
    csrf: String,
    /// A tier id, or blank to give the tier back to the program's rules.
    #[serde(default)]
    tier_id: String,
    /// `YYYY-MM-DD`: the override holds until the start of that day.
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

/// Sets a member's tier by hand (with an optional end and a reason for the activity log).
pub async fn override_tier(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<MemberId>,
    Form(form): Form<OverrideForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let zone = app
        .tenant(ctx)
        .await
        .map_err(|e| UiError::App(lang, e))?
        .zone
        .clone();
    let until = match form.until.trim() {
        "" => None,
        text => match text
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned_datetime(zone).ok())
        {
            Some(at) => Some(at.timestamp()),
            None => {
                let message = format!("until: {}", super::i18n::text(lang, "form.not_a_date"));
                let page = profile_page(&app, &staff, id, message).await?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        },
    };
    let tier_id = Some(form.tier_id.clone()).filter(|t| !t.is_empty());
    match app
        .override_tier(ctx, id.clone(), tier_id, until, form.reason)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/members/{id}")).into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let message = super::messages(&error, staff.lang);
            let page = profile_page(&app, &staff, id, message).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}
