//! A member's fields as a client sends them (`POST`/`PATCH /api/v1/members`, the admin UI's
//! forms), and the check that turns them into a [`Profile`] or a [`ProfilePatch`]: every rule
//! a member's data must follow, in one place, run by the use-case before anything is read or
//! written.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::birthday::Birthday;
use crate::email::Email;
use crate::error::Invalid;
use crate::member::{
    Consent, ConsentPatch, Gender, Profile, ProfilePatch, check_attributes, check_external_ids,
    check_name, check_tags,
};
use crate::phone::Phone;

/// A new member (or customer). At least one of `phone` and `email` is required.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    /// Any usual Vietnamese form (`0901234567`, `+84 90 123 4567`, old 11-digit numbers) or an
    /// international number with `+`; stored as E.164.
    #[cfg_attr(feature = "openapi", schema(example = "0901234567"))]
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "a@example.vn"))]
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "Nguyễn Văn A"))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "female"))]
    pub gender: Option<Gender>,
    /// `YYYY-MM-DD`, or `--MM-DD` when the year is unknown.
    #[cfg_attr(feature = "openapi", schema(example = "1990-05-17"))]
    pub birthday: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "Hà Nội"))]
    pub province: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "Cầu Giấy"))]
    pub district: Option<String>,
    pub address: Option<String>,
    pub tags: Option<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub attributes: Option<Map<String, Value>>,
    pub consent: Option<ConsentIn>,
    /// Ids of this person in other systems, e.g. `{"haravan": "1002"}`.
    pub external_ids: Option<BTreeMap<String, String>>,
    /// Where the record comes from (`pos`, `web`, `api`…); `api` when absent.
    pub source: Option<String>,
    /// The referral code or the phone number of the member who referred this new customer
    /// (API.md "Referral").
    #[cfg_attr(feature = "openapi", schema(example = "K7M2Q9XA"))]
    pub referred_by: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    pub email: Option<bool>,
    pub sms: Option<bool>,
    pub zalo: Option<bool>,
}

/// A partial update: absent fields stay, `null` clears, `attributes` and `external_ids` merge
/// key by key (a `null` value removes the key).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberPatchIn {
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub gender: Option<Option<Gender>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub birthday: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub province: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub district: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub address: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub attributes: Option<Map<String, Value>>,
    pub consent: Option<ConsentIn>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub external_ids: Option<BTreeMap<String, Option<String>>>,
}

/// Blank strings from forms mean "not given".
pub fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

const MAX_PLACE_CHARS: usize = 200;

fn place(errors: &mut Invalid, field: &str, value: Option<String>) -> Option<String> {
    let value = given(value)?.trim().to_string();
    if value.chars().count() > MAX_PLACE_CHARS {
        errors.push_bounded(
            field,
            "length",
            (1, MAX_PLACE_CHARS as i64),
            format!("must be at most {MAX_PLACE_CHARS} characters"),
        );
        return None;
    }
    Some(value)
}

fn check_source(errors: &mut Invalid, source: Option<String>) -> Option<String> {
    let source = given(source)?.trim().to_string();
    if source.len() > 50 {
        errors.push_bounded("source", "length", (1, 50), "must be at most 50 characters");
    }
    Some(source)
}

impl MemberIn {
    pub fn validate(self, today: Date) -> Result<(Profile, Option<String>), Invalid> {
        let mut e = Invalid::default();
        let phone = given(self.phone).and_then(|v| e.check("phone", Phone::parse(&v)));
        let email = given(self.email).and_then(|v| e.check("email", Email::parse(&v)));
        let name = given(self.name).and_then(|v| check_name(&mut e, "name", &v));
        let birthday =
            given(self.birthday).and_then(|v| e.check("birthday", Birthday::parse(&v, today)));
        let province = place(&mut e, "province", self.province);
        let district = place(&mut e, "district", self.district);
        let address = place(&mut e, "address", self.address);
        let tags = self
            .tags
            .map(|t| check_tags(&mut e, "tags", &t))
            .unwrap_or_default();
        let attributes = self.attributes.unwrap_or_default();
        check_attributes(&mut e, "attributes", &attributes);
        let external_ids = self.external_ids.unwrap_or_default();
        check_external_ids(&mut e, "external_ids", &external_ids);
        let consent = self.consent.unwrap_or_default();
        let source = check_source(&mut e, self.source);
        e.into_result(|| {
            let profile = Profile {
                phone,
                email,
                name,
                gender: self.gender,
                birthday,
                province,
                district,
                address,
                tags,
                attributes,
                consent: Consent {
                    email: consent.email.unwrap_or(false),
                    sms: consent.sms.unwrap_or(false),
                    zalo: consent.zalo.unwrap_or(false),
                },
                external_ids,
            };
            (profile, source)
        })
    }
}

impl MemberPatchIn {
    pub fn validate(self, today: Date) -> Result<ProfilePatch, Invalid> {
        let mut e = Invalid::default();
        // `Some(None)` and a blank string both clear the field; a parse error is recorded in
        // `e` and rejects the whole patch.
        fn change<T>(
            e: &mut Invalid,
            value: Option<Option<String>>,
            parse: impl FnOnce(&mut Invalid, &str) -> Option<T>,
        ) -> Option<Option<T>> {
            match value.map(given) {
                None => None,
                Some(None) => Some(None),
                Some(Some(v)) => parse(e, &v).map(Some),
            }
        }
        let phone = change(&mut e, self.phone, |e, v| e.check("phone", Phone::parse(v)));
        let email = change(&mut e, self.email, |e, v| e.check("email", Email::parse(v)));
        let name = change(&mut e, self.name, |e, v| check_name(e, "name", v));
        let birthday = change(&mut e, self.birthday, |e, v| {
            e.check("birthday", Birthday::parse(v, today))
        });
        let place_change = |e: &mut Invalid, field: &str, value: Option<Option<String>>| {
            value.map(|v| place(e, field, v))
        };
        let province = place_change(&mut e, "province", self.province);
        let district = place_change(&mut e, "district", self.district);
        let address = place_change(&mut e, "address", self.address);
        let tags = self.tags.map(|t| check_tags(&mut e, "tags", &t));
        let attributes = self.attributes.unwrap_or_default();
        check_attributes(&mut e, "attributes", &attributes);
        let external_ids = self.external_ids.unwrap_or_default();
        let present: BTreeMap<String, String> = external_ids
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect();
        check_external_ids(&mut e, "external_ids", &present);
        let consent = self.consent.unwrap_or_default();
        e.into_result(|| ProfilePatch {
            phone,
            email,
            name,
            gender: self.gender,
            birthday,
            province,
            district,
            address,
            tags,
            attributes,
            consent: ConsentPatch {
                email: consent.email,
                sms: consent.sms,
                zalo: consent.zalo,
            },
            external_ids,
        })
    }
}
