//! Members and customers: the people a merchant knows.
//!
//! A *customer* is someone the shop knows by phone or e-mail; a *member* (thành viên) is a
//! customer who has been activated, automatically on their first paid order or by hand. A
//! walk-in guest (khách vãng lai) left no contact and is never a member.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Other,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Gender> {
        match s {
            "female" => Some(Gender::Female),
            "male" => Some(Gender::Male),
            "other" => Some(Gender::Other),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Known by phone or e-mail, not yet activated.
    Customer,
    /// Activated: earns and keeps points, climbs tiers.
    Member,
    /// Kept for history; cannot earn or redeem.
    Blocked,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Customer => "customer",
            MemberStatus::Member => "member",
            MemberStatus::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<MemberStatus> {
        match s {
            "customer" => Some(MemberStatus::Customer),
            "member" => Some(MemberStatus::Member),
            "blocked" => Some(MemberStatus::Blocked),
            _ => None,
        }
    }
}

/// Marketing consent per channel (Decree 13/2023 asks for it per purpose). Absent means no.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub sms: bool,
    #[serde(default)]
    pub zalo: bool,
}

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;
pub const MAX_EXTERNAL_ID_CHARS: usize = 100;

/// A name as given, without surrounding whitespace. Inner text is kept byte for byte: Vietnamese
/// names are stored exactly as typed (NFC or NFD alike).
pub fn check_name(errors: &mut Invalid, field: &str, name: &str) -> Option<String> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        errors.push(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        );
        return None;
    }
    if name.chars().any(char::is_control) {
        errors.push(field, "must not contain control characters");
        return None;
    }
    Some(name.to_string())
}

/// Tags are trimmed, kept in the order given, and duplicates dropped.
pub fn check_tags(errors: &mut Invalid, field: &str, tags: &[String]) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        errors.push(field, format!("at most {MAX_TAGS} tags"));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS || tag.contains('|') {
            errors.push(
                format!("{field}[{i}]"),
                format!("a tag has 1 to {MAX_TAG_CHARS} characters and no '|'"),
            );
        } else if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    out
}

pub fn check_attributes(
    errors: &mut Invalid,
    field: &str,
    attributes: &serde_json::Map<String, serde_json::Value>,
) {
    let size = serde_json::to_string(attributes)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_ATTRIBUTES_BYTES {
        errors.push(
            field,
            format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"),
        );
    }
}

/// External ids link a member to the same person in another system (`{"haravan": "1002"}`).
pub fn check_external_ids(errors: &mut Invalid, field: &str, ids: &BTreeMap<String, String>) {
    for (system, id) in ids {
        let ok = |s: &str| !s.trim().is_empty() && s.chars().count() <= MAX_EXTERNAL_ID_CHARS;
        if !ok(system) || !ok(id) {
            errors.push(
                format!("{field}.{system}"),
                format!("system and id must have 1 to {MAX_EXTERNAL_ID_CHARS} characters"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_bytes_but_lose_surrounding_space() {
        let mut errors = Invalid::default();
        assert_eq!(
            check_name(&mut errors, "name", " Nguyễn Thị Ánh Tuyết ").as_deref(),
            Some("Nguyễn Thị Ánh Tuyết")
        );
        assert!(check_name(&mut errors, "name", "a\u{0}b").is_none());
        assert_eq!(errors.0.len(), 1);
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated_and_bad_ones_named_by_index() {
        let mut errors = Invalid::default();
        let tags = check_tags(
            &mut errors,
            "tags",
            &["vip".into(), " vip ".into(), "".into()],
        );
        assert_eq!(tags, vec!["vip"]);
        assert_eq!(errors.0[0].field, "tags[2]");
    }
}
