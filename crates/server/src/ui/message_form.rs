//! A message template as form fields, shared by the campaign form and the automation editor's
//! `send` steps: one slot's fields are `{slot}_text`, `{slot}_unaccented`, `{slot}_template_id`,
//! `{slot}_params` (one `name = value` a line), `{slot}_subject`, `{slot}_html`,
//! `{slot}_email_text`; which of them make the template depends on the channel's type.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

/// Named text fields of a form (as typed, or as a saved template shows them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Fields(pub BTreeMap<String, String>);

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }

    /// The field `{slot}_{name}`.
    pub fn slot(&self, slot: &str, name: &str) -> &str {
        self.get(&format!("{slot}_{name}"))
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// The template of `slot` for a channel of type `channel_type`.
    pub fn template(&self, slot: &str, channel_type: &str) -> Value {
        let f = |name: &str| self.slot(slot, name).to_string();
        match channel_type {
            "zalo_zns" => {
                let params: serde_json::Map<String, Value> = f("params")
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), json!(v.trim())))
                    .filter(|(k, _)| !k.is_empty())
                    .collect();
                json!({"template_id": f("template_id"), "params": params})
            }
            t if t.starts_with("sms") => {
                json!({"text": f("text"), "unaccented": f("unaccented") == "on"})
            }
            _ => {
                let text = f("email_text");
                json!({"subject": f("subject"), "html": f("html"), "text": (!text.trim().is_empty()).then_some(text)})
            }
        }
    }

    /// A saved template back into the fields of `slot` (whatever its channel's type).
    pub fn put_template(&mut self, slot: &str, template: &Value) {
        let text = |name: &str| template.get(name).and_then(Value::as_str).unwrap_or("");
        for name in ["text", "template_id", "subject", "html"] {
            self.set(format!("{slot}_{name}"), text(name));
        }
        if template.get("subject").is_some() {
            self.set(format!("{slot}_email_text"), text("text"));
            self.set(format!("{slot}_text"), "");
        }
        if template.get("unaccented").and_then(Value::as_bool) == Some(true) {
            self.set(format!("{slot}_unaccented"), "on");
        }
        if let Some(params) = template.get("params").and_then(Value::as_object) {
            let lines: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or_default()))
                .collect();
            self.set(format!("{slot}_params"), lines.join("\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_template_goes_back_into_its_fields() {
        for (channel_type, template) in [
            (
                "sms_esms",
                json!({"text": "Chào {{ member.name }}", "unaccented": true}),
            ),
            (
                "zalo_zns",
                json!({"template_id": "231", "params": {"customer_name": "{{ member.name }}"}}),
            ),
            (
                "email_smtp",
                json!({"subject": "Quà", "html": "<p>Quà</p>", "text": "Quà"}),
            ),
        ] {
            let mut fields = Fields::default();
            fields.put_template("s1_t1", &template);
            assert_eq!(fields.template("s1_t1", channel_type), template);
        }
    }
}
