//! Earning rules (bonuses on top of the base rate): the list, and a new rule with its
//! conditions (the API's JSON tree), effect and caps, previewed on past orders before saving.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use jiff::SignedDuration;
use loyalty_app::rules::{RuleInput, RulePreview};
use loyalty_app::{App, AppError};
use loyalty_core::rules::{Caps, EarnRule};
use loyalty_core::tenancy::Permission;
use serde::Deserialize;
use serde_json::{Value, json};

use super::condition_vocabulary::{Grammar, vocabulary};
use super::session::Staff;
use super::{Chrome, CsrfOnly, UiError, UiResult, error_for, field_errors, parse_whole, render};

#[derive(Template)]
#[template(path = "rules.html")]
struct ListPage {
    c: Chrome,
    rules: Vec<EarnRule>,
    can_edit: bool,
}

impl ListPage {
    fn effect(&self, rule: &EarnRule) -> String {
        rule.effect.to_json().to_string()
    }
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::ViewReports)?;
    let rules = app
        .earn_rules(&staff.session.ctx)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let page = ListPage {
        c: Chrome::for_staff(&app, &staff, "rules.title", "rules", "/rules").await,
        rules,
        can_edit: staff.may(Permission::EditProgram),
    };
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    conditions: String,
    /// `multiplier`, `bonus_points` or `points_per_item`.
    #[serde(default)]
    effect: String,
    #[serde(default)]
    effect_value: String,
    #[serde(default)]
    per_order: String,
    #[serde(default)]
    per_member_per_day: String,
    #[serde(default)]
    budget_points: String,
    #[serde(default)]
    preview_days: String,
    /// `preview` or `save`.
    #[serde(default)]
    action: String,
}

impl Default for RuleForm {
    fn default() -> Self {
        RuleForm {
            csrf: String::new(),
            name: String::new(),
            // Empty: the visual builder starts from nothing (the JSON hint shows an example).
            conditions: "{\"all\": []}".into(),
            effect: "multiplier".into(),
            effect_value: "2".into(),
            per_order: String::new(),
            per_member_per_day: String::new(),
            budget_points: String::new(),
            preview_days: "30".into(),
            action: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "rule_new.html")]
struct NewPage {
    c: Chrome,
    /// The rule being changed; `None`: a new rule.
    editing: Option<String>,
    form: RuleForm,
    errors: Vec<(String, String)>,
    preview: Option<RulePreview>,
    /// The condition builder's fields and words.
    vocabulary: String,
}

impl NewPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    fn action(&self) -> String {
        match &self.editing {
            Some(id) => format!("/rules/{id}"),
            None => "/rules/new".to_string(),
        }
    }
}

async fn new_page(
    app: &App,
    staff: &Staff,
    editing: Option<String>,
    form: RuleForm,
    errors: Vec<(String, String)>,
    preview: Option<RulePreview>,
) -> UiResult {
    let status = super::form_status(&errors);
    let title = if editing.is_some() {
        "rules.edit"
    } else {
        "rules.new"
    };
    let page = NewPage {
        c: Chrome::for_staff(app, staff, title, "rules", "/rules").await,
        editing,
        form,
        errors,
        preview,
        vocabulary: vocabulary(app, staff, Grammar::Rule).await?,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn new_form(State(app): State<App>, staff: Staff) -> UiResult {
    staff.require(Permission::EditProgram)?;
    new_page(&app, &staff, None, RuleForm::default(), vec![], None).await
}

/// The form filled with a rule, to change it (and preview the change) before saving.
pub async fn edit_form(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let rule = app
        .earn_rule(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let effect = rule.effect.to_json();
    let (kind, value) = effect
        .as_object()
        .and_then(|o| o.iter().next())
        .map(|(k, v)| (k.clone(), v.to_string()))
        .unwrap_or_default();
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let form = RuleForm {
        name: rule.name.clone(),
        conditions: serde_json::to_string_pretty(&rule.conditions_json).unwrap_or_default(),
        effect: kind,
        effect_value: value,
        per_order: number(rule.caps.per_order),
        per_member_per_day: number(rule.caps.per_member_per_day),
        budget_points: number(rule.caps.budget_points),
        ..RuleForm::default()
    };
    new_page(&app, &staff, Some(id), form, vec![], None).await
}

pub async fn update(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<RuleForm>,
) -> UiResult {
    submit(app, staff, Some(id), form).await
}

/// The rule as the API would receive it, or the fields that could not be read.
fn input(form: &RuleForm, lang: super::Lang) -> Result<RuleInput, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let conditions: Option<Value> = match serde_json::from_str(&form.conditions) {
        Ok(tree) => Some(tree),
        Err(e) => {
            let why = super::i18n::text(lang, "segments.bad_json");
            errors.push(("conditions".to_string(), format!("{why}: {e}")));
            None
        }
    };
    let value = form.effect_value.trim().replace(',', ".");
    let effect_value: Option<Value> = match value.parse::<i64>() {
        Ok(n) => Some(json!(n)),
        Err(_) => match value.parse::<f64>() {
            Ok(x) => Some(json!(x)),
            Err(_) => {
                let why = super::i18n::text(lang, "form.not_a_number");
                errors.push(("effect".to_string(), why.to_string()));
                None
            }
        },
    };
    let caps = Caps {
        per_order: parse_whole("caps.per_order", &form.per_order, &mut errors, lang),
        per_member_per_day: parse_whole(
            "caps.per_member_per_day",
            &form.per_member_per_day,
            &mut errors,
            lang,
        ),
        budget_points: parse_whole("caps.budget_points", &form.budget_points, &mut errors, lang),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let kind = match form.effect.as_str() {
        "bonus_points" | "points_per_item" => form.effect.as_str(),
        _ => "multiplier",
    };
    Ok(RuleInput {
        name: Some(form.name.clone()),
        active: Some(true),
        starts_at: None,
        ends_at: None,
        conditions,
        effect: Some(json!({ kind: effect_value })),
        caps: Some(caps),
    })
}

/// The new-rule form: `preview` replays it on past orders, `save` creates it.
pub async fn create(State(app): State<App>, staff: Staff, Form(form): Form<RuleForm>) -> UiResult {
    submit(app, staff, None, form).await
}

/// The rule form: `preview` replays the rule on past orders, `save` creates it (`editing`
/// None) or changes it.
async fn submit(app: App, staff: Staff, editing: Option<String>, form: RuleForm) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let mut rule = match input(&form, lang) {
        Ok(rule) => rule,
        Err(errors) => return new_page(&app, &staff, editing, form, errors, None).await,
    };
    if form.action == "save" {
        let saved = match &editing {
            Some(id) => {
                // A change keeps the rule running or paused as it is.
                rule.active = None;
                app.update_earn_rule(ctx, id.clone(), rule).await
            }
            None => app.create_earn_rule(ctx, rule).await,
        };
        return match saved {
            Ok(_) => Ok(Redirect::to("/rules").into_response()),
            Err(error @ AppError::Invalid(_)) => {
                new_page(
                    &app,
                    &staff,
                    editing,
                    form,
                    field_errors(&error, staff.lang),
                    None,
                )
                .await
            }
            Err(error) => Err(UiError::App(lang, error)),
        };
    }
    let days = form
        .preview_days
        .trim()
        .parse::<i64>()
        .unwrap_or(30)
        .clamp(1, 366);
    let to = app.now();
    let from = to - SignedDuration::from_hours(24 * days);
    match app.preview_earn_rule(ctx, rule, from, to).await {
        Ok(preview) => new_page(&app, &staff, editing, form, vec![], Some(preview)).await,
        Err(error @ AppError::Invalid(_)) => {
            new_page(
                &app,
                &staff,
                editing,
                form,
                field_errors(&error, staff.lang),
                None,
            )
            .await
        }
        Err(error) => Err(UiError::App(lang, error)),
    }
}

/// Pauses an active rule or resumes a paused one.
pub async fn toggle(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let lang = staff.lang;
    let ctx = &staff.session.ctx;
    let rule = app
        .earn_rule(ctx, id.clone())
        .await
        .map_err(|e| UiError::App(lang, e))?;
    let change = RuleInput {
        active: Some(!rule.active),
        ..RuleInput::default()
    };
    app.update_earn_rule(ctx, id, change)
        .await
        .map_err(|e| UiError::App(lang, e))?;
    Ok(Redirect::to("/rules").into_response())
}
