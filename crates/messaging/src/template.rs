//! Templates: text with `{{ … }}` variables in a sandboxed language (minijinja: no file
//! access, no way out of the values given, execution bounded by fuel), with API.md's filters
//! `vnd` (`1.250.000 ₫`) and `date` (`dd/mm/yyyy` in the shop's time zone). A template is
//! rendered for a sample member when it is saved, so that a mistake is reported then, naming
//! the field, and not when a campaign sends it.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use loyalty_core::Invalid;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use crate::sms;

/// Steps a render may take: far more than any message needs, few enough that a loop written
/// to run for ever stops at once.
const FUEL: u64 = 20_000;
/// The longest text a template may produce.
pub const MAX_RENDERED_CHARS: usize = 100_000;

/// Renders templates for one shop.
pub struct Renderer {
    env: Environment<'static>,
    /// The same, escaping every value for HTML (an e-mail's HTML body: a member named
    /// `<b>` stays text).
    html: Environment<'static>,
}

impl Renderer {
    /// A renderer whose `date` filter reads times in `zone` (the shop's).
    pub fn new(zone: TimeZone) -> Renderer {
        let environment = |escape: minijinja::AutoEscape| {
            let mut env = Environment::new();
            // A variable that is not there is a mistake to report, not an empty string to send.
            env.set_undefined_behavior(UndefinedBehavior::Strict);
            env.set_fuel(Some(FUEL));
            env.add_filter("vnd", vnd);
            let zone = zone.clone();
            env.add_filter("date", move |value: Value| date(&zone, value));
            env.set_auto_escape_callback(move |_| escape);
            env
        };
        Renderer {
            env: environment(minijinja::AutoEscape::None),
            html: environment(minijinja::AutoEscape::Html),
        }
    }

    /// `source` rendered with `context` (the member, voucher, shop and links of API.md).
    pub fn render(&self, source: &str, context: &serde_json::Value) -> Result<String, String> {
        self.render_in(&self.env, source, context)
    }

    /// `source` rendered as HTML: every value escaped.
    pub fn render_html(&self, source: &str, context: &serde_json::Value) -> Result<String, String> {
        self.render_in(&self.html, source, context)
    }

    fn render_in(
        &self,
        env: &Environment<'static>,
        source: &str,
        context: &serde_json::Value,
    ) -> Result<String, String> {
        let rendered = env
            .render_str(source, Value::from_serialize(context))
            .map_err(|e| describe(&e))?;
        if rendered.chars().count() > MAX_RENDERED_CHARS {
            return Err(format!(
                "renders to more than {MAX_RENDERED_CHARS} characters"
            ));
        }
        Ok(rendered)
    }
}

/// A rendering error in a line a marketer can act on.
fn describe(error: &Error) -> String {
    let what = match error.kind() {
        ErrorKind::UndefinedError => "uses a variable that does not exist",
        ErrorKind::SyntaxError => "is not a valid template",
        ErrorKind::UnknownFilter => "uses a filter that does not exist",
        ErrorKind::OutOfFuel => "takes too long to render",
        _ => "cannot be rendered",
    };
    match error.detail() {
        Some(detail) => format!("{what}: {detail}"),
        None => what.to_string(),
    }
}

/// `1250000 | vnd` → `1.250.000 ₫`.
fn vnd(value: Value) -> Result<String, Error> {
    let dong = i64::try_from(value.clone()).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("vnd needs a whole number of đồng, not {value}"),
        )
    })?;
    let digits = dong.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if dong < 0 { "-" } else { "" };
    Ok(format!("{sign}{grouped} ₫"))
}

/// A date (`2026-12-24`) or a time (`2026-12-24T03:00:00Z`, read in the shop's zone) as
/// `24/12/2026`.
fn date(zone: &TimeZone, value: Value) -> Result<String, Error> {
    let text = value.as_str().map(str::to_string).unwrap_or_default();
    let day = text
        .parse::<jiff::Timestamp>()
        .map(|t| t.to_zoned_datetime(zone.clone()).date())
        .or_else(|_| text.parse::<jiff::civil::Date>())
        .map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("date needs a date or a time, not {value}"),
            )
        })?;
    Ok(day.strftime("%d/%m/%Y").to_string())
}

/// An e-mail template: subject, HTML body, and a text body (derived by the mail client when
/// absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    pub subject: String,
    pub html: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// An SMS template; `unaccented` strips tone marks, as many brandname routes require.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsTemplate {
    pub text: String,
    #[serde(default)]
    pub unaccented: bool,
}

/// A Zalo ZNS template: the template Zalo approved, and its parameters as templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZnsTemplate {
    pub template_id: String,
    pub params: BTreeMap<String, String>,
}

/// A message rendered for one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Rendered {
    Email {
        subject: String,
        html: String,
        text: Option<String>,
    },
    Sms {
        text: String,
        length: sms::Length,
    },
    Zns {
        template_id: String,
        params: BTreeMap<String, String>,
    },
}

/// Renders each field, collecting every field's error (named under `prefix`).
fn field(
    renderer: &Renderer,
    errors: &mut Invalid,
    name: String,
    source: &str,
    context: &serde_json::Value,
) -> String {
    let rendered = if name.ends_with(".html") {
        renderer.render_html(source, context)
    } else {
        renderer.render(source, context)
    };
    match rendered {
        Ok(text) => text,
        Err(why) => {
            errors.push_coded(name, "template", why);
            String::new()
        }
    }
}

impl EmailTemplate {
    pub fn render(
        &self,
        renderer: &Renderer,
        context: &serde_json::Value,
        prefix: &str,
    ) -> Result<Rendered, Invalid> {
        let mut errors = Invalid::default();
        let subject = field(
            renderer,
            &mut errors,
            format!("{prefix}.subject"),
            &self.subject,
            context,
        );
        if subject.trim().is_empty() && errors.0.is_empty() {
            errors.push_coded(format!("{prefix}.subject"), "required", "renders empty");
        }
        let html = field(
            renderer,
            &mut errors,
            format!("{prefix}.html"),
            &self.html,
            context,
        );
        let text = self.text.as_deref().map(|source| {
            field(
                renderer,
                &mut errors,
                format!("{prefix}.text"),
                source,
                context,
            )
        });
        errors.into_result(|| Rendered::Email {
            subject,
            html,
            text,
        })
    }
}

impl SmsTemplate {
    pub fn render(
        &self,
        renderer: &Renderer,
        context: &serde_json::Value,
        prefix: &str,
    ) -> Result<Rendered, Invalid> {
        let mut errors = Invalid::default();
        let mut text = field(
            renderer,
            &mut errors,
            format!("{prefix}.text"),
            &self.text,
            context,
        );
        if self.unaccented {
            text = sms::unaccented(&text);
        }
        if text.trim().is_empty() && errors.0.is_empty() {
            errors.push_coded(format!("{prefix}.text"), "required", "renders empty");
        }
        let length = sms::length(&text);
        errors.into_result(|| Rendered::Sms { text, length })
    }
}

impl ZnsTemplate {
    /// Checked locally, with no call to Zalo: the template id is there and every parameter
    /// renders, non-empty, for the member.
    pub fn render(
        &self,
        renderer: &Renderer,
        context: &serde_json::Value,
        prefix: &str,
    ) -> Result<Rendered, Invalid> {
        let mut errors = Invalid::default();
        if self.template_id.trim().is_empty() {
            errors.required(format!("{prefix}.template_id"));
        }
        let mut params = BTreeMap::new();
        for (name, source) in &self.params {
            let at = format!("{prefix}.params.{name}");
            let value = field(renderer, &mut errors, at.clone(), source, context);
            if value.trim().is_empty() && !errors.0.iter().any(|e| e.field == at) {
                errors.push_coded(
                    at,
                    "required",
                    "renders empty: Zalo refuses an empty parameter",
                );
            }
            params.insert(name.clone(), value);
        }
        errors.into_result(|| Rendered::Zns {
            template_id: self.template_id.clone(),
            params,
        })
    }
}

/// A channel's template, by the kind of channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Template {
    Email(EmailTemplate),
    Sms(SmsTemplate),
    Zns(ZnsTemplate),
}

impl Template {
    /// The template of `value` for a channel of `kind` (fields named under `prefix`).
    pub fn parse(
        kind: loyalty_core::messaging::ChannelKind,
        value: &serde_json::Value,
        prefix: &str,
    ) -> Result<Template, Invalid> {
        use loyalty_core::messaging::ChannelKind;
        let parsed = match kind {
            ChannelKind::Email => serde_json::from_value(value.clone()).map(Template::Email),
            ChannelKind::Sms => serde_json::from_value(value.clone()).map(Template::Sms),
            ChannelKind::Zalo => serde_json::from_value(value.clone()).map(Template::Zns),
        };
        parsed.map_err(|e| {
            let expected = match kind {
                ChannelKind::Email => "{\"subject\", \"html\", \"text\"}",
                ChannelKind::Sms => "{\"text\", \"unaccented\"}",
                ChannelKind::Zalo => "{\"template_id\", \"params\"}",
            };
            Invalid::one(prefix, "invalid", format!("expected {expected}: {e}"))
        })
    }

    pub fn render(
        &self,
        renderer: &Renderer,
        context: &serde_json::Value,
        prefix: &str,
    ) -> Result<Rendered, Invalid> {
        match self {
            Template::Email(t) => t.render(renderer, context, prefix),
            Template::Sms(t) => t.render(renderer, context, prefix),
            Template::Zns(t) => t.render(renderer, context, prefix),
        }
    }
}

impl Rendered {
    /// The message as sent for `purpose`: an advertising SMS carries the `QC` label Vietnam's
    /// anti-spam rules require (measured again with it).
    pub fn for_purpose(self, purpose: loyalty_core::messaging::Purpose) -> Rendered {
        match self {
            Rendered::Sms { text, .. }
                if purpose == loyalty_core::messaging::Purpose::Advertising =>
            {
                let text = sms::labelled_advertising(&text);
                Rendered::Sms {
                    length: sms::length(&text),
                    text,
                }
            }
            other => other,
        }
    }
}

/// `text` safe inside HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn renderer() -> Renderer {
        Renderer::new(TimeZone::get("Asia/Ho_Chi_Minh").unwrap())
    }

    fn member() -> serde_json::Value {
        json!({
            "member": {"name": "Nguyễn Thị Lan", "first_name": "Lan", "points": 1250,
                       "tier": "Vàng", "member_code": "AB12CD34", "points_expiring": 300,
                       "points_expiring_at": "2026-12-31T16:59:59Z"},
            "voucher": {"code": "TRIAN-7KQ2", "valid_until": "2026-12-24"},
            "shop": {"name": "Cà Phê Sáng"},
            "spent": 1250000,
            "portal_url": "https://loyalty.example.vn/m/ca-phe-sang",
            "unsubscribe_url": "https://loyalty.example.vn/u/abc"
        })
    }

    #[test]
    fn variables_and_filters_render_the_vietnamese_way() {
        let r = renderer();
        let text = r
            .render(
                "Chào {{ member.first_name }}, {{ shop.name }} tặng mã {{ voucher.code }} đến {{ voucher.valid_until | date }}; {{ member.points_expiring }} điểm hết hạn ngày {{ member.points_expiring_at | date }}. Đã mua {{ spent | vnd }}.",
                &member(),
            )
            .unwrap();
        // (16:59:59 UTC on the 31st is 23:59:59 that day in Hồ Chí Minh City.)
        assert_eq!(
            text,
            "Chào Lan, Cà Phê Sáng tặng mã TRIAN-7KQ2 đến 24/12/2026; 300 điểm hết hạn ngày 31/12/2026. Đã mua 1.250.000 ₫."
        );
        assert_eq!(r.render("{{ 0 | vnd }}", &member()).unwrap(), "0 ₫");
        assert_eq!(
            r.render("{{ -5000 | vnd }}", &member()).unwrap(),
            "-5.000 ₫"
        );
    }

    #[test]
    fn an_html_body_escapes_the_members_values_and_a_text_body_does_not() {
        let context = serde_json::json!({"member": {"name": "<b>Lan</b> & co"}});
        let email = EmailTemplate {
            subject: "Chào {{ member.name }}".into(),
            html: "<p>{{ member.name }}</p>".into(),
            text: Some("{{ member.name }}".into()),
        };
        let Rendered::Email {
            subject,
            html,
            text,
        } = email.render(&renderer(), &context, "t").unwrap()
        else {
            panic!("an e-mail")
        };
        assert_eq!(html, "<p>&lt;b&gt;Lan&lt;&#x2f;b&gt; &amp; co</p>");
        assert_eq!(subject, "Chào <b>Lan</b> & co");
        assert_eq!(text.as_deref(), Some("<b>Lan</b> & co"));
    }

    #[test]
    fn mistakes_are_named_at_save_time() {
        let r = renderer();
        let unknown = r.render("{{ member.nmae }}", &member()).unwrap_err();
        assert!(unknown.contains("does not exist"), "{unknown}");
        assert!(
            r.render("{{ member.name ", &member())
                .unwrap_err()
                .contains("not a valid template")
        );
        assert!(
            r.render("{{ member.name | shout }}", &member())
                .unwrap_err()
                .contains("filter")
        );
        assert!(r.render("{{ member.name | vnd }}", &member()).is_err());
        // A loop that would run for ever stops at once.
        let endless = r
            .render(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                &member(),
            )
            .unwrap_err();
        assert!(endless.contains("too long"), "{endless}");

        let email = EmailTemplate {
            subject: "Quà cho {{ member.first_name }}".into(),
            html: "<p>{{ voucher.cdoe }}</p>".into(),
            text: Some("{{ shop.nam }}".into()),
        };
        let invalid = email
            .render(&r, &member(), "channels[0].template")
            .unwrap_err();
        let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["channels[0].template.html", "channels[0].template.text"]
        );
    }

    #[test]
    fn an_sms_is_measured_after_its_marks_are_stripped() {
        let r = renderer();
        let sms = SmsTemplate {
            text: "Cảm ơn {{ member.first_name }} đã ghé {{ shop.name }}".into(),
            unaccented: true,
        };
        let Rendered::Sms { text, length } = sms.render(&r, &member(), "template").unwrap() else {
            panic!("an SMS");
        };
        assert_eq!(text, "Cam on Lan da ghe Ca Phe Sang");
        assert_eq!(length.encoding, sms::Encoding::Gsm7);
        assert_eq!(length.segments, 1);
    }

    #[test]
    fn a_zns_template_needs_its_id_and_every_parameter() {
        let r = renderer();
        let mut zns = ZnsTemplate {
            template_id: "231677".into(),
            params: BTreeMap::from([
                ("customer_name".into(), "{{ member.name }}".into()),
                ("point".into(), "{{ member.points }}".into()),
            ]),
        };
        let rendered = zns.render(&r, &member(), "template").unwrap();
        assert_eq!(
            rendered,
            Rendered::Zns {
                template_id: "231677".into(),
                params: BTreeMap::from([
                    ("customer_name".into(), "Nguyễn Thị Lan".into()),
                    ("point".into(), "1250".into()),
                ]),
            }
        );
        zns.template_id = " ".into();
        zns.params.insert("note".into(), "{{ '' }}".into());
        let invalid = zns.render(&r, &member(), "template").unwrap_err();
        let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["template.template_id", "template.params.note"]);
    }
}
