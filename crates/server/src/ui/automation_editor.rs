//! The automation editor (API.md "Automations" as forms): a journey's name, trigger and steps,
//! one card per step in the order they run — no JSON needed for any trigger or step. The whole
//! journey is one form: adding, removing and moving a step re-renders it unsaved, Save checks it
//! with the API's checks and stores it. Once saved, the page also shows the journey's report and
//! its latest runs.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::automations::{
    AutomationIn, AutomationPatch, AutomationReport, AutomationView, RunView,
};
use loyalty_app::channels::ChannelView;
use loyalty_app::{App, AppError};
use loyalty_core::automation::{MAX_STEPS, Step, Trigger};
use loyalty_core::campaign::CampaignChannel;
use loyalty_core::records::SavedSegment;
use loyalty_core::tenancy::Permission;
use loyalty_core::voucher::VoucherProgram;
use serde_json::{Map, Value, json};

use super::condition_vocabulary::{Grammar, vocabulary};
use super::i18n::{self, Lang};
use super::message_form::Fields;
use super::session::Staff;
use super::{Chrome, UiError, UiResult, field_errors, form_status, render};

/// `(field, message)` pairs, as the page shows them.
type FieldErrors = Vec<(String, String)>;

/// Trigger types, in the order a marketer reaches for them.
const TRIGGERS: [&str; 9] = [
    "order_paid",
    "birthday",
    "no_purchase",
    "points_expiring",
    "tier_changed",
    "member_created",
    "member_activated",
    "segment_entered",
    "referral_completed",
];
/// Kinds of step, in the order the "add a step" list offers them.
const STEP_KINDS: [&str; 7] = [
    "send",
    "issue_voucher",
    "wait",
    "condition",
    "give_points",
    "tag",
    "webhook",
];
/// Channel slots a `send` step shows: the first and a fallback (more when the API saved more).
const SLOTS: usize = 2;

/// One step as its card shows it: the kind and its fields (`points`, `channel_1`, `t1_text` …).
#[derive(Debug, Clone, Default)]
pub struct StepCard {
    pub kind: String,
    pub fields: Fields,
}

impl StepCard {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name)
    }

    /// The channel slots of a `send` step (1-based).
    fn slots(&self) -> Vec<usize> {
        let saved = (1..=MAX_STEPS)
            .take_while(|n| !self.get(&format!("channel_{n}")).is_empty())
            .count();
        (1..=saved.max(SLOTS)).collect()
    }
}

/// A journey being edited, as the form holds it.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub name: String,
    pub active: bool,
    /// `type`, `days_before`, `days`, `min_total`, `index`, `direction`, `tier_id`, `segment_id`.
    pub trigger: Fields,
    pub steps: Vec<StepCard>,
}

/// What the form's button asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Save,
    Add(String),
    Up(usize),
    Down(usize),
    Remove(usize),
}

impl Draft {
    /// A saved journey's fields (a condition shows the saved segment it was copied from).
    fn from_view(a: &AutomationView, segments: &[SavedSegment]) -> Draft {
        let mut trigger = Fields::default();
        let saved = serde_json::to_value(&a.trigger).unwrap_or_default();
        for (key, value) in saved.as_object().into_iter().flatten() {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            trigger.set(key.as_str(), text);
        }
        let steps = a.steps.iter().map(|s| card_of(s, segments)).collect();
        Draft {
            name: a.name.clone(),
            active: a.active,
            trigger,
            steps,
        }
    }

    /// The form as posted: `name`, `active`, `trigger_{field}`, `s{i}_{field}`, `action` and
    /// `add_kind`; returns the draft, the CSRF token and what was asked for.
    fn from_form(pairs: Vec<(String, String)>) -> (Draft, String, Action) {
        let mut draft = Draft::default();
        let (mut csrf, mut action, mut add_kind) = (String::new(), String::new(), String::new());
        let mut steps: BTreeMap<usize, StepCard> = BTreeMap::new();
        for (key, value) in pairs {
            match key.as_str() {
                "csrf" => csrf = value,
                "name" => draft.name = value,
                "active" => draft.active = value == "on",
                "action" => action = value,
                "add_kind" => add_kind = value,
                _ => {
                    if let Some(field) = key.strip_prefix("trigger_") {
                        draft.trigger.set(field, value);
                    } else if let Some((i, field)) = key
                        .strip_prefix('s')
                        .and_then(|rest| rest.split_once('_'))
                        .and_then(|(i, field)| Some((i.parse::<usize>().ok()?, field)))
                        // A hostile index does not make a huge journey: the check refuses more
                        // than MAX_STEPS anyway.
                        .filter(|(i, _)| *i <= MAX_STEPS)
                    {
                        let card = steps.entry(i).or_default();
                        if field == "kind" {
                            card.kind = value;
                        } else {
                            card.fields.set(field, value);
                        }
                    }
                }
            }
        }
        draft.steps = steps.into_values().collect();
        let at = |prefix: &str| action.strip_prefix(prefix).and_then(|i| i.parse().ok());
        let action = if action == "add" {
            Action::Add(add_kind)
        } else if let Some(i) = at("up:") {
            Action::Up(i)
        } else if let Some(i) = at("down:") {
            Action::Down(i)
        } else if let Some(i) = at("remove:") {
            Action::Remove(i)
        } else {
            Action::Save
        };
        (draft, csrf, action)
    }

    /// Adds, moves or removes a step (nothing when the step or kind does not exist).
    fn apply(&mut self, action: &Action) {
        let n = self.steps.len();
        match action {
            Action::Save => {}
            Action::Add(kind) if STEP_KINDS.contains(&kind.as_str()) && n < MAX_STEPS => {
                self.steps.push(new_card(kind));
            }
            Action::Add(_) => {}
            Action::Up(i) if (1..n).contains(i) => self.steps.swap(*i, i - 1),
            Action::Down(i) if i + 1 < n => self.steps.swap(*i, i + 1),
            Action::Remove(i) if *i < n => {
                self.steps.remove(*i);
            }
            Action::Up(_) | Action::Down(_) | Action::Remove(_) => {}
        }
    }

    /// The trigger and steps the fields make, or the fields that make none (named as the API
    /// names them, so that the API's own refusals land on the same fields).
    fn build(
        &self,
        channels: &[ChannelView],
        segments: &[SavedSegment],
        lang: Lang,
    ) -> Result<(Trigger, Vec<Step>), FieldErrors> {
        let mut errors = Vec::new();
        let trigger = trigger_of(&self.trigger, lang, &mut errors);
        let steps: Vec<Option<Step>> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, card)| step_of(card, i, channels, segments, lang, &mut errors))
            .collect();
        match (trigger, errors.is_empty()) {
            (Some(trigger), true) => Ok((trigger, steps.into_iter().flatten().collect())),
            _ => Err(errors),
        }
    }
}

/// An empty step of a kind, as "add a step" makes it.
fn new_card(kind: &str) -> StepCard {
    let mut card = StepCard {
        kind: kind.to_string(),
        fields: Fields::default(),
    };
    match kind {
        "wait" => {
            card.fields.set("amount", "1");
            card.fields.set("unit", "days");
        }
        "send" => card.fields.set("purpose", "customer_care"),
        _ => {}
    }
    card
}

fn card_of(step: &Step, segments: &[SavedSegment]) -> StepCard {
    let kind = serde_json::to_value(step)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let mut card = new_card(&kind);
    let f = &mut card.fields;
    match step {
        Step::Send { channels, purpose } => {
            f.set(
                "purpose",
                purpose.clone().unwrap_or_else(|| "advertising".into()),
            );
            for (n, channel) in channels.iter().enumerate() {
                f.set(format!("channel_{}", n + 1), channel.channel_id.as_str());
                f.put_template(&format!("t{}", n + 1), &channel.template);
            }
        }
        Step::IssueVoucher { voucher_program_id } => f.set("program", voucher_program_id.as_str()),
        Step::GivePoints { points, reason } => {
            f.set("points", points.to_string());
            f.set("reason", reason.clone().unwrap_or_default());
        }
        Step::Tag { add, remove } => {
            f.set("add", add.join(", "));
            f.set("remove", remove.join(", "));
        }
        Step::Wait { duration } => {
            let (amount, unit) = wait_fields(duration);
            f.set("amount", amount);
            f.set("unit", unit);
        }
        Step::Condition { conditions } => {
            let from = segments.iter().find(|s| &s.conditions == conditions);
            f.set("segment", from.map(|s| s.id.clone()).unwrap_or_default());
            f.set(
                "conditions",
                serde_json::to_string_pretty(conditions).unwrap_or_default(),
            );
        }
        Step::Webhook { url } => f.set("url", url.as_str()),
    }
    card
}

/// A wait's duration as an amount and a unit (`PT2H` → 2 hours); one the form cannot say so
/// is shown as written (`iso`).
fn wait_fields(duration: &str) -> (String, &'static str) {
    let d = duration.trim().to_ascii_uppercase();
    let whole = |s: Option<&str>| {
        s.filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
    };
    if let Some(n) = whole(d.strip_prefix("PT").and_then(|r| r.strip_suffix('M'))) {
        (n, "minutes")
    } else if let Some(n) = whole(d.strip_prefix("PT").and_then(|r| r.strip_suffix('H'))) {
        (n, "hours")
    } else if let Some(n) = whole(d.strip_prefix('P').and_then(|r| r.strip_suffix('D'))) {
        (n, "days")
    } else {
        (duration.to_string(), "iso")
    }
}

/// A whole number as a shop types it (`100.000`), none when empty.
fn whole_number(
    text: &str,
    field: &str,
    lang: Lang,
    errors: &mut Vec<(String, String)>,
) -> Option<i64> {
    super::parse_whole(field, text, errors, lang)
}

fn required(field: &str, lang: Lang, errors: &mut Vec<(String, String)>) {
    errors.push((field.into(), i18n::text(lang, "form.required").into()));
}

fn trigger_of(fields: &Fields, lang: Lang, errors: &mut Vec<(String, String)>) -> Option<Trigger> {
    let kind = fields.get("type");
    let mut json = Map::new();
    json.insert("type".into(), json!(kind));
    let numbers: &[&str] = match kind {
        "birthday" | "points_expiring" => &["days_before"],
        "no_purchase" => &["days"],
        "order_paid" => &["min_total", "index"],
        _ => &[],
    };
    for &name in numbers {
        let field = format!("trigger.{name}");
        if let Some(n) = whole_number(fields.get(name), &field, lang, errors) {
            json.insert(name.into(), json!(n));
        } else if name == "days" && fields.get(name).trim().is_empty() {
            required(&field, lang, errors);
        }
    }
    let texts: &[&str] = match kind {
        "tier_changed" => &["direction", "tier_id"],
        "segment_entered" => &["segment_id"],
        _ => &[],
    };
    for &name in texts {
        let value = fields.get(name).trim();
        if !value.is_empty() {
            json.insert(name.into(), json!(value));
        } else if name == "segment_id" {
            required("trigger.segment_id", lang, errors);
        }
    }
    match serde_json::from_value(Value::Object(json)) {
        Ok(trigger) => Some(trigger),
        Err(_) => {
            if errors.is_empty() {
                let said = i18n::text(lang, "automations.choose_trigger");
                errors.push(("trigger.type".into(), said.into()));
            }
            None
        }
    }
}

fn step_of(
    card: &StepCard,
    i: usize,
    channels: &[ChannelView],
    segments: &[SavedSegment],
    lang: Lang,
    errors: &mut Vec<(String, String)>,
) -> Option<Step> {
    let field = |name: &str| format!("steps[{i}].{name}");
    let text = |name: &str| card.get(name).trim().to_string();
    let list = |name: &str| -> Vec<String> {
        card.get(name)
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    Some(match card.kind.as_str() {
        "send" => {
            let chosen = card
                .slots()
                .into_iter()
                .filter_map(|n| {
                    let id = card.get(&format!("channel_{n}"));
                    let channel = channels.iter().find(|c| c.id == id)?;
                    Some(CampaignChannel {
                        channel_id: channel.id.clone(),
                        template: card
                            .fields
                            .template(&format!("t{n}"), &channel.channel_type),
                    })
                })
                .collect();
            Step::Send {
                channels: chosen,
                purpose: Some(text("purpose")).filter(|p| !p.is_empty()),
            }
        }
        "issue_voucher" => Step::IssueVoucher {
            voucher_program_id: text("program"),
        },
        "give_points" => {
            let points = whole_number(card.get("points"), &field("points"), lang, errors);
            if card.get("points").trim().is_empty() {
                required(&field("points"), lang, errors);
            }
            Step::GivePoints {
                points: points?,
                reason: Some(text("reason")).filter(|r| !r.is_empty()),
            }
        }
        "tag" => Step::Tag {
            add: list("add"),
            remove: list("remove"),
        },
        "wait" => {
            let amount = text("amount");
            let duration = match card.get("unit") {
                "iso" => amount,
                unit => {
                    let n = whole_number(&amount, &field("duration"), lang, errors);
                    if amount.is_empty() {
                        required(&field("duration"), lang, errors);
                    }
                    match (unit, n?) {
                        ("minutes", n) => format!("PT{n}M"),
                        ("hours", n) => format!("PT{n}H"),
                        (_, n) => format!("P{n}D"),
                    }
                }
            };
            Step::Wait { duration }
        }
        "condition" => {
            let chosen = segments.iter().find(|s| s.id == card.get("segment"));
            let conditions = match chosen {
                Some(segment) => segment.conditions.clone(),
                None if card.get("conditions").trim().is_empty() => {
                    required(&field("conditions"), lang, errors);
                    return None;
                }
                None => match serde_json::from_str(card.get("conditions")) {
                    Ok(tree) => tree,
                    Err(_) => {
                        let said = i18n::text(lang, "automations.not_json");
                        errors.push((field("conditions"), said.into()));
                        return None;
                    }
                },
            };
            Step::Condition { conditions }
        }
        "webhook" => Step::Webhook { url: text("url") },
        _ => {
            let said = i18n::text(lang, "automations.choose_step");
            errors.push((field("type"), said.into()));
            return None;
        }
    })
}

#[derive(Template)]
#[template(path = "automation.html")]
struct EditorPage {
    c: Chrome,
    /// Where the form posts: `/automations/new` or `/automations/{id}`.
    action: String,
    saved: Option<AutomationView>,
    draft: Draft,
    /// The form differs from what is saved (a step was added, moved or removed).
    unsaved: bool,
    errors: Vec<(String, String)>,
    report: Option<AutomationReport>,
    runs: Vec<RunView>,
    channels: Vec<ChannelView>,
    programs: Vec<VoucherProgram>,
    segments: Vec<SavedSegment>,
    tiers: Vec<(String, String)>,
    triggers: &'static [&'static str],
    step_kinds: &'static [&'static str],
    /// The condition builder's fields and words (a condition step speaks of the member).
    vocabulary: String,
}

impl EditorPage {
    fn error(&self, field: &str) -> &str {
        super::error_for(&self.errors, field)
    }

    /// The errors of step `i` (`steps[i].…`), each with what it is about.
    fn step_errors(&self, i: &usize) -> Vec<String> {
        let prefix = format!("steps[{i}]");
        self.errors
            .iter()
            .filter(|(f, _)| f.starts_with(&prefix))
            .map(|(f, m)| format!("{}: {m}", f[prefix.len()..].trim_start_matches('.')))
            .collect()
    }

    /// Errors no field of the form shows (`steps`, a refusal without a field).
    fn other_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| !f.starts_with("steps[") && !f.starts_with("trigger") && f != "name")
            .map(|(f, m)| {
                if f.is_empty() {
                    m.clone()
                } else {
                    format!("{f}: {m}")
                }
            })
            .collect()
    }

    fn last_result(&self, run: &RunView) -> String {
        last_result(&self.c, run)
    }
}

/// What a run's last step did, in the page's language (a failure's reason as the runner said
/// it).
pub(super) fn last_result(c: &Chrome, run: &RunView) -> String {
    let Some(said) = run
        .log
        .last()
        .and_then(|entry| entry.get("result"))
        .and_then(Value::as_str)
    else {
        return String::new();
    };
    if let Some(at) = said.strip_prefix("waits until ") {
        let at = at
            .parse()
            .map(|at| c.date_time(&at))
            .unwrap_or_else(|_| at.to_string());
        return format!("{} {at}", c.t("automations.result.waits"));
    }
    if let Some(why) = said.strip_prefix("failed: ") {
        return format!("{}: {why}", c.t("automations.result.failed"));
    }
    match said {
        "done" => c.t("automations.result.done").to_string(),
        "condition not met" => c.t("automations.result.condition_false").to_string(),
        "automation switched off" => c.t("automations.result.switched_off").to_string(),
        other => other.to_string(),
    }
}

struct Saved {
    view: AutomationView,
    report: AutomationReport,
    runs: Vec<RunView>,
}

async fn editor(
    app: &App,
    staff: &Staff,
    saved: Option<Saved>,
    draft: Draft,
    unsaved: bool,
    errors: Vec<(String, String)>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let fail = |e| UiError::App(staff.lang, e);
    let ctx = &staff.session.ctx;
    let channels = app.channels(ctx).await.map_err(fail)?;
    let segments = app.segments(ctx).await.map_err(fail)?;
    let programs = super::automations::unique_code_programs(app, staff).await?;
    let tiers = app
        .tiers(ctx)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|t| (t.id.to_string(), t.name.clone()))
        .collect();
    let (action, path) = match &saved {
        Some(s) => (
            format!("/automations/{}", s.view.id),
            format!("/automations/{}", s.view.id),
        ),
        None => (
            "/automations/new".to_string(),
            "/automations/new".to_string(),
        ),
    };
    let title = if saved.is_some() {
        "automations.edit"
    } else {
        "automations.new"
    };
    let (saved, report, runs) = match saved {
        Some(s) => (Some(s.view), Some(s.report), s.runs),
        None => (None, None, vec![]),
    };
    let status = form_status(&errors);
    let page = EditorPage {
        c: Chrome::for_staff(app, staff, title, "automations", &path).await,
        action,
        saved,
        draft,
        unsaved,
        errors,
        report,
        runs,
        channels,
        programs,
        segments,
        tiers,
        triggers: &TRIGGERS,
        step_kinds: &STEP_KINDS,
        vocabulary: vocabulary(app, staff, Grammar::Segment).await?,
    };
    Ok((status, render(&page)).into_response())
}

async fn load(app: &App, staff: &Staff, id: &str) -> Result<Saved, UiError> {
    let fail = |e| UiError::App(staff.lang, e);
    let ctx = &staff.session.ctx;
    let view = app.automation(ctx, id.to_string()).await.map_err(fail)?;
    let report = app
        .automation_report(ctx, id.to_string())
        .await
        .map_err(fail)?;
    let runs = app
        .automation_runs(ctx, id.to_string(), None)
        .await
        .map_err(fail)?;
    Ok(Saved { view, report, runs })
}

pub async fn new_form(State(app): State<App>, staff: Staff) -> UiResult {
    let mut draft = Draft {
        active: true,
        ..Draft::default()
    };
    draft.trigger.set("type", "order_paid");
    draft.steps.push(new_card("send"));
    editor(&app, &staff, None, draft, false, vec![]).await
}

pub async fn show(State(app): State<App>, staff: Staff, Path(id): Path<String>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let saved = load(&app, &staff, &id).await?;
    let segments = app
        .segments(&staff.session.ctx)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let draft = Draft::from_view(&saved.view, &segments);
    editor(&app, &staff, Some(saved), draft, false, vec![]).await
}

pub async fn create(
    State(app): State<App>,
    staff: Staff,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult {
    submit(&app, &staff, None, pairs).await
}

pub async fn update(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult {
    submit(&app, &staff, Some(id), pairs).await
}

async fn submit(
    app: &App,
    staff: &Staff,
    id: Option<String>,
    pairs: Vec<(String, String)>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    let (mut draft, csrf, action) = Draft::from_form(pairs);
    staff.check_csrf(&csrf)?;
    let saved = match &id {
        Some(id) => Some(load(app, staff, id).await?),
        None => None,
    };
    if action != Action::Save {
        draft.apply(&action);
        return editor(app, staff, saved, draft, true, vec![]).await;
    }
    let fail = |e| UiError::App(staff.lang, e);
    let ctx = &staff.session.ctx;
    let channels = app.channels(ctx).await.map_err(fail)?;
    let segments = app.segments(ctx).await.map_err(fail)?;
    let (trigger, steps) = match draft.build(&channels, &segments, staff.lang) {
        Ok(built) => built,
        Err(errors) => return editor(app, staff, saved, draft, true, errors).await,
    };
    let done = match &id {
        None => {
            let input = AutomationIn {
                name: draft.name.clone(),
                active: Some(draft.active),
                trigger,
                steps,
            };
            app.create_automation(ctx, input).await
        }
        Some(id) => {
            let patch = AutomationPatch {
                name: Some(draft.name.clone()),
                active: Some(draft.active),
                trigger: Some(trigger),
                steps: Some(steps),
            };
            app.update_automation(ctx, id.clone(), patch).await
        }
    };
    match done {
        Ok(view) => Ok(Redirect::to(&format!("/automations/{}", view.id)).into_response()),
        Err(error @ AppError::Invalid(_)) => {
            let errors = field_errors(&error, staff.lang);
            editor(app, staff, saved, draft, true, errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_posted_form_becomes_a_draft_and_its_buttons_edit_the_steps() {
        let (mut draft, csrf, action) = Draft::from_form(pairs(&[
            ("csrf", "x"),
            ("name", "Cảm ơn"),
            ("trigger_type", "order_paid"),
            ("s0_kind", "wait"),
            ("s0_amount", "2"),
            ("s0_unit", "hours"),
            ("s1_kind", "give_points"),
            ("s1_points", "1.000"),
            ("s99999999999_kind", "tag"),
            ("action", "up:1"),
        ]));
        assert_eq!((csrf.as_str(), &action), ("x", &Action::Up(1)));
        assert_eq!(draft.steps.len(), 2, "an absurd step index is ignored");
        draft.apply(&action);
        assert_eq!(draft.steps[0].kind, "give_points");
        draft.apply(&Action::Remove(7));
        draft.apply(&Action::Add("no_such_kind".into()));
        assert_eq!(draft.steps.len(), 2);
        let (trigger, steps) = draft.build(&[], &[], Lang::Vi).unwrap();
        assert_eq!(trigger.type_name(), "order_paid");
        assert_eq!(
            steps,
            vec![
                Step::GivePoints {
                    points: 1000,
                    reason: None
                },
                Step::Wait {
                    duration: "PT2H".into()
                }
            ]
        );
    }

    #[test]
    fn what_cannot_become_a_step_names_its_field() {
        let (draft, _, _) = Draft::from_form(pairs(&[
            ("trigger_type", "no_purchase"),
            ("s0_kind", "give_points"),
            ("s0_points", "mười"),
            ("s1_kind", "condition"),
            ("s1_conditions", "{not json"),
        ]));
        let errors = draft.build(&[], &[], Lang::En).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["trigger.days", "steps[0].points", "steps[1].conditions"]
        );
    }

    #[test]
    fn waits_read_back_as_an_amount_and_a_unit() {
        assert_eq!(wait_fields("PT2H"), ("2".into(), "hours"));
        assert_eq!(wait_fields("p3d"), ("3".into(), "days"));
        assert_eq!(wait_fields("PT90M"), ("90".into(), "minutes"));
        assert_eq!(wait_fields("P1DT2H"), ("P1DT2H".into(), "iso"));
    }
}
