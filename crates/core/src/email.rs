//! E-mail addresses, checked for the shape a mail server will accept and lower-cased so that
//! `An@Example.vn` and `an@example.vn` are one member.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("e-mail address is empty")]
    Empty,
    #[error("e-mail address must look like name@example.vn")]
    Shape,
    #[error("e-mail address is longer than 254 characters")]
    TooLong,
    #[error("e-mail domain '{0}' is not a valid domain name")]
    Domain(String),
}

impl crate::error::Coded for EmailError {
    fn code(&self) -> &'static str {
        match self {
            EmailError::Empty => "email.empty",
            EmailError::Shape => "email.shape",
            EmailError::TooLong => "email.too_long",
            EmailError::Domain(_) => "email.bad_domain",
        }
    }
}

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or(EmailError::Shape)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !local_ok {
            return Err(EmailError::Shape);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(char::is_alphabetic));
        if !domain_ok {
            return Err(EmailError::Domain(domain.to_string()));
        }
        Ok(Email(trimmed.to_lowercase()))
    }

    pub fn from_normalised_unchecked(value: String) -> Email {
        Email(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  An.Nguyen@Example.VN ").unwrap().as_str(),
            "an.nguyen@example.vn"
        );
        assert!(Email::parse("a+tag@mail.co.uk").is_ok());
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "plain",
            "@example.vn",
            "a@",
            "a@b",
            "a b@example.vn",
            "a@exa mple.vn",
            "a..b@example.vn",
            ".a@example.vn",
            "a@-x.vn",
            "a@x.v1",
            "a@@x.vn",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
