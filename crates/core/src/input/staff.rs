//! Staff accounts and a new tenant as they are asked for, and their checks.

use jiff::tz::TimeZone;

use crate::email::Email;
use crate::error::Invalid;
use crate::member::check_name;
use crate::tenancy::{DEFAULT_TIMEZONE, Role};

pub const MIN_PASSWORD_CHARS: usize = 8;

/// A password long enough to resist guessing, short enough to hash cheaply.
pub fn check_password(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Longer than any passphrase a person types; bounds the hashing work an attacker can ask for.
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("must have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

impl crate::error::Coded for PasswordError {
    fn code(&self) -> &'static str {
        match self {
            PasswordError::TooShort => "password.too_short",
            PasswordError::TooLong => "password.too_long",
        }
    }
}

/// Checks a password under `field` (`password`, `new_password`, `owner_password`).
pub fn validate_password(field: &str, password: &str) -> Result<(), Invalid> {
    let mut errors = Invalid::default();
    errors.check(field, check_password(password));
    errors.into_result(|| ())
}

#[derive(Debug, Clone)]
pub struct NewStaff {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub password: String,
}

impl NewStaff {
    /// The account's e-mail and name, once every field is checked.
    pub fn validate(&self) -> Result<(Email, Option<String>), Invalid> {
        let mut errors = Invalid::default();
        let email = errors.check("email", Email::parse(&self.email));
        errors.check("password", check_password(&self.password));
        let name = self
            .name
            .as_deref()
            .and_then(|n| check_name(&mut errors, "name", n).filter(|n| !n.is_empty()));
        errors.into_result(|| (email.expect("checked"), name))
    }
}

/// A change to a staff account; what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct StaffChange {
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

impl StaffChange {
    /// The new name, checked: `Some(None)` clears it, `None` keeps it.
    pub fn validate_name(&self) -> Result<Option<Option<String>>, Invalid> {
        let mut errors = Invalid::default();
        let name = match &self.name {
            Some(Some(n)) => Some(check_name(&mut errors, "name", n).filter(|n| !n.is_empty())),
            Some(None) => Some(None),
            None => None,
        };
        errors.into_result(|| name)
    }
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub owner_email: String,
    pub owner_password: String,
    pub timezone: Option<String>,
}

/// A new tenant's checked fields.
#[derive(Debug, Clone)]
pub struct TenantFields {
    pub name: String,
    pub owner_email: Email,
    pub timezone: String,
}

impl NewTenant {
    pub fn validate(&self) -> Result<TenantFields, Invalid> {
        let mut errors = Invalid::default();
        let name = errors.label("name", &self.name);
        let email = errors.check("owner_email", Email::parse(&self.owner_email));
        errors.check("owner_password", check_password(&self.owner_password));
        let timezone = self
            .timezone
            .clone()
            .unwrap_or_else(|| DEFAULT_TIMEZONE.to_string());
        if TimeZone::get(&timezone).is_err() {
            errors.push_coded(
                "timezone",
                "timezone.unknown",
                format!("{timezone} is not an IANA time zone"),
            );
        }
        errors.into_result(|| TenantFields {
            name,
            owner_email: email.expect("checked"),
            timezone,
        })
    }
}

/// The most requests per second a key may be allowed.
pub const MAX_RATE_PER_S: i64 = 1_000_000;

/// A new API key's fields: its label (trimmed), its scopes (sorted, once each) and its rate.
pub fn validate_new_key(
    name: &str,
    scopes: &[crate::tenancy::Scope],
    rate_limit_per_s: Option<i64>,
) -> Result<(String, Vec<crate::tenancy::Scope>), Invalid> {
    let mut errors = Invalid::default();
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push_bounded("name", "length", (1, 100), "must have 1 to 100 characters");
    }
    if scopes.is_empty() {
        errors.push_coded(
            "scopes",
            "required",
            "give at least one of admin, pos, read",
        );
    }
    if let Some(rate) = rate_limit_per_s {
        crate::limits::within(&mut errors, "rate_limit_per_s", rate, 1, MAX_RATE_PER_S);
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    errors.into_result(|| (name, scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_tenant_reports_every_broken_rule() {
        let invalid = NewTenant {
            name: " ".into(),
            owner_email: "not-an-email".into(),
            owner_password: "short".into(),
            timezone: Some("Mars/Olympus".into()),
        }
        .validate()
        .unwrap_err();
        let fields: Vec<_> = invalid.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "owner_email", "owner_password", "timezone"]
        );
    }
}
