//! Members and customers: the people a merchant knows.
//!
//! A *customer* is someone the shop knows by phone or e-mail; a *member* (thành viên) is a
//! customer who has been activated, automatically on their first paid order or by hand. A
//! walk-in guest (khách vãng lai) left no contact and is never a member.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::birthday::Birthday;
use crate::email::Email;
use crate::error::Invalid;
use crate::phone::Phone;
use crate::text::fold;

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
    /// Merged into another record (its `merged_into`): a tombstone the store follows, so the
    /// app never works on one.
    Merged,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Customer => "customer",
            MemberStatus::Member => "member",
            MemberStatus::Blocked => "blocked",
            MemberStatus::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<MemberStatus> {
        match s {
            "customer" => Some(MemberStatus::Customer),
            "member" => Some(MemberStatus::Member),
            "blocked" => Some(MemberStatus::Blocked),
            "merged" => Some(MemberStatus::Merged),
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
        errors.push_bounded(
            field,
            "length",
            (1, MAX_NAME_CHARS as i64),
            format!("must be at most {MAX_NAME_CHARS} characters"),
        );
        return None;
    }
    if name.chars().any(char::is_control) {
        errors.push_coded(
            field,
            "text.control_characters",
            "must not contain control characters",
        );
        return None;
    }
    Some(name.to_string())
}

/// Tags are trimmed, kept in the order given, and duplicates dropped.
pub fn check_tags(errors: &mut Invalid, field: &str, tags: &[String]) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        errors.push_bounded(
            field,
            "tags.too_many",
            (0, MAX_TAGS as i64),
            format!("at most {MAX_TAGS} tags"),
        );
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS || tag.contains('|') {
            errors.push_bounded(
                format!("{field}[{i}]"),
                "tag.format",
                (1, MAX_TAG_CHARS as i64),
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
        errors.push_bounded(
            field,
            "attributes.too_large",
            (0, MAX_ATTRIBUTES_BYTES as i64),
            format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"),
        );
    }
}

/// External ids link a member to the same person in another system (`{"haravan": "1002"}`).
pub fn check_external_ids(errors: &mut Invalid, field: &str, ids: &BTreeMap<String, String>) {
    for (system, id) in ids {
        let ok = |s: &str| !s.trim().is_empty() && s.chars().count() <= MAX_EXTERNAL_ID_CHARS;
        if !ok(system) || !ok(id) {
            errors.push_bounded(
                format!("{field}.{system}"),
                "length",
                (1, MAX_EXTERNAL_ID_CHARS as i64),
                format!("system and id must have 1 to {MAX_EXTERNAL_ID_CHARS} characters"),
            );
        }
    }
}

/// What a person tells the shop about themselves: the editable part of a member.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Profile {
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<Birthday>,
    pub province: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub tags: Vec<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub consent: Consent,
    pub external_ids: BTreeMap<String, String>,
}

impl Profile {
    /// A member needs a way to be found again and contacted: a phone or an e-mail.
    pub fn has_contact(&self) -> bool {
        self.phone.is_some() || self.email.is_some()
    }

    /// The 2025 province code of the written province, for reports that group old and new names.
    pub fn province_code(&self) -> Option<&'static str> {
        self.province.as_deref().and_then(crate::geo::province_code)
    }

    /// What "contains" search matches: the folded name, the phone in E.164 and domestic form,
    /// and the e-mail.
    pub fn search_text(&self) -> String {
        let mut parts = Vec::with_capacity(4);
        if let Some(name) = &self.name {
            parts.push(fold(name));
        }
        if let Some(phone) = &self.phone {
            parts.push(phone.as_str().to_string());
            if let Some(national) = phone.national() {
                parts.push(national);
            }
        }
        if let Some(email) = &self.email {
            parts.push(email.as_str().to_string());
        }
        parts.join(" ")
    }

    /// Applies a partial update: absent fields stay, `null` clears, objects merge key by key
    /// (RFC 7396), so an integration can change one attribute without knowing the others.
    pub fn apply(&mut self, patch: ProfilePatch) {
        fn set<T>(field: &mut Option<T>, change: Option<Option<T>>) {
            if let Some(value) = change {
                *field = value;
            }
        }
        set(&mut self.phone, patch.phone);
        set(&mut self.email, patch.email);
        set(&mut self.name, patch.name);
        set(&mut self.gender, patch.gender);
        set(&mut self.birthday, patch.birthday);
        set(&mut self.province, patch.province);
        set(&mut self.district, patch.district);
        set(&mut self.address, patch.address);
        if let Some(tags) = patch.tags {
            self.tags = tags;
        }
        for (key, value) in patch.attributes {
            match value {
                serde_json::Value::Null => {
                    self.attributes.remove(&key);
                }
                value => {
                    self.attributes.insert(key, value);
                }
            }
        }
        if let Some(email) = patch.consent.email {
            self.consent.email = email;
        }
        if let Some(sms) = patch.consent.sms {
            self.consent.sms = sms;
        }
        if let Some(zalo) = patch.consent.zalo {
            self.consent.zalo = zalo;
        }
        for (system, id) in patch.external_ids {
            match id {
                Some(id) => {
                    self.external_ids.insert(system, id);
                }
                None => {
                    self.external_ids.remove(&system);
                }
            }
        }
    }
}

/// A validated partial update of a [`Profile`]: `None` keeps a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub phone: Option<Option<Phone>>,
    pub email: Option<Option<Email>>,
    pub name: Option<Option<String>>,
    pub gender: Option<Option<Gender>>,
    pub birthday: Option<Option<Birthday>>,
    pub province: Option<Option<String>>,
    pub district: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    /// Merged into the attributes; a `null` value removes the key.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub consent: ConsentPatch,
    /// Merged into the external ids; `None` removes the system's id.
    pub external_ids: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ConsentPatch {
    pub email: Option<bool>,
    pub sms: Option<bool>,
    pub zalo: Option<bool>,
}

/// A member (or not-yet-activated customer) as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub id: crate::id::MemberId,
    pub member_code: String,
    pub status: MemberStatus,
    #[serde(flatten)]
    pub profile: Profile,
    pub source: Option<String>,
    pub tier_id: Option<String>,
    /// When the member reached their tier (upgrade, override or import).
    pub tier_reached_at: Option<Timestamp>,
    /// When their tier is next reviewed (with `downgrade: at_review`).
    pub tier_review_at: Option<Timestamp>,
    /// A manual override holds the tier until `tier_override_until` (or indefinitely).
    pub tier_overridden: bool,
    pub tier_override_until: Option<Timestamp>,
    /// Reset cycles: where the current cycle began and what was carried into it.
    pub tier_cycle_start: Option<Timestamp>,
    pub tier_carry: i64,
    pub points_available: i64,
    pub points_pending: i64,
    /// Points reversed after they had been spent; paid off by the next credits.
    pub points_debt: i64,
    /// When the stored balances next change by themselves (pending points becoming available,
    /// points expiring); until then they are exact.
    pub next_change_at: Option<Timestamp>,
    pub lifetime_points: i64,
    pub lifetime_spend: i64,
    pub order_count: i64,
    pub last_order_at: Option<Timestamp>,
    pub member_since: Option<Timestamp>,
    /// The nightly RFM class (`Champions`, `Loyal`…; see `rfm`) and its three scores, e.g. `545`.
    pub rfm_class: Option<String>,
    pub rfm_score: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Member {
    /// A new member with nothing yet: no tier, no points, no orders.
    /// The status an unblocked member returns to: member when they were ever activated,
    /// else customer. (A member who is not blocked keeps theirs.)
    pub fn unblocked_status(&self) -> MemberStatus {
        match self.status {
            MemberStatus::Blocked if self.member_since.is_some() => MemberStatus::Member,
            MemberStatus::Blocked => MemberStatus::Customer,
            other => other,
        }
    }

    pub fn new(
        member_code: String,
        status: MemberStatus,
        profile: Profile,
        source: Option<String>,
        now: Timestamp,
    ) -> Member {
        Member {
            id: crate::id::MemberId::new(),
            member_code,
            status,
            profile,
            source,
            tier_id: None,
            tier_reached_at: None,
            tier_review_at: None,
            tier_overridden: false,
            tier_override_until: None,
            tier_cycle_start: None,
            tier_carry: 0,
            points_available: 0,
            points_pending: 0,
            points_debt: 0,
            next_change_at: None,
            lifetime_points: 0,
            lifetime_spend: 0,
            order_count: 0,
            last_order_at: None,
            member_since: None,
            rfm_class: None,
            rfm_score: None,
            created_at: now,
            updated_at: now,
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

    #[test]
    fn a_patch_keeps_absent_fields_clears_nulls_and_merges_objects() {
        let mut profile = Profile {
            phone: Some(Phone::parse("0901234567").unwrap()),
            name: Some("An".into()),
            consent: Consent {
                email: true,
                sms: true,
                zalo: false,
            },
            ..Profile::default()
        };
        profile
            .attributes
            .insert("favourite".into(), "trà sữa".into());
        profile.attributes.insert("size".into(), "M".into());
        profile.external_ids.insert("haravan".into(), "1002".into());
        let mut patch = ProfilePatch {
            name: Some(None),
            ..ProfilePatch::default()
        };
        patch
            .attributes
            .insert("size".into(), serde_json::Value::Null);
        patch.attributes.insert("shop".into(), "HN01".into());
        patch.consent.sms = Some(false);
        patch
            .external_ids
            .insert("shopify".into(), Some("77".into()));
        profile.apply(patch);
        assert_eq!(profile.name, None);
        assert!(profile.phone.is_some());
        assert_eq!(profile.attributes.len(), 2);
        assert_eq!(profile.attributes["shop"], "HN01");
        assert_eq!(
            profile.consent,
            Consent {
                email: true,
                sms: false,
                zalo: false
            }
        );
        assert_eq!(profile.external_ids.len(), 2);
    }

    #[test]
    fn search_text_folds_the_name_and_lists_both_phone_forms() {
        let profile = Profile {
            phone: Some(Phone::parse("0901234567").unwrap()),
            email: Some(Email::parse("Tuyet@Example.vn").unwrap()),
            name: Some("Nguyễn Thị Ánh Tuyết".into()),
            ..Profile::default()
        };
        assert_eq!(
            profile.search_text(),
            "nguyen thi anh tuyet +84901234567 0901234567 tuyet@example.vn"
        );
    }
}
