//! Validation errors that name the offending field, so an API client or a CSV import can point
//! at exactly what to fix.

use std::fmt;

/// One rule broken by one input field. `field` is a path such as `phone` or `lines[2].quantity`;
/// `code` names the rule, stably, dotted and lower case: a generic rule (`required`, `length`,
/// `out_of_range`), a thing that is not there (`member.not_found`, `tier.not_found`), or a rule
/// of its own (`phone.unknown_prefix`, `birthday.in_future`, `order.total_mismatch`). Every
/// error has one, so that a client or the admin UI can say it in its own language; `message`
/// says it in English. A rule about size (`out_of_range`, `length` and the `too_many` kind)
/// carries its bounds, so a translation can name them too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Bounds>,
}

/// The inclusive range a number (or a text's length in characters) had to fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bounds {
    pub min: i64,
    pub max: i64,
}

impl FieldError {
    /// `field` broke the rule `code`; `message` says so in English.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_string(),
            message: message.into(),
            bounds: None,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A parse error that knows the stable code of the rule it broke.
pub trait Coded: fmt::Display {
    fn code(&self) -> &'static str;

    /// For a size rule, the range that was allowed.
    fn bounds(&self) -> Option<(i64, i64)> {
        None
    }
}

/// Every rule an input broke, collected rather than stopping at the first, so a form can show
/// all its mistakes at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// One broken rule, with its stable code.
    pub fn one(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, code, message)])
    }

    /// One broken size rule, with its stable code and the range that was allowed.
    pub fn one_bounded(
        field: impl Into<String>,
        code: &'static str,
        bounds: (i64, i64),
        message: impl Into<String>,
    ) -> Self {
        let mut invalid = Self::default();
        invalid.push_bounded(field, code, bounds, message);
        invalid
    }

    /// Records a broken rule with its stable code.
    pub fn push_coded(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// Records a broken size rule with its stable code and the range that was allowed.
    pub fn push_bounded(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        (min, max): (i64, i64),
        message: impl Into<String>,
    ) {
        let mut error = FieldError::new(field, code, message);
        error.bounds = Some(Bounds { min, max });
        self.0.push(error);
    }

    /// `field` was required and is missing (code `required`).
    pub fn required(&mut self, field: impl Into<String>) {
        self.push_coded(field, "required", "is required");
    }

    /// Records the error of a parse under `field`, with its code, and returns the parsed
    /// value, if any.
    pub fn check<T, E: Coded>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                match error.bounds() {
                    Some(bounds) => {
                        self.push_bounded(field, error.code(), bounds, error.to_string())
                    }
                    None => self.push_coded(field, error.code(), error.to_string()),
                }
                None
            }
        }
    }

    /// A name or label: trimmed, 1 to 200 characters (an error under `field`, code `length`,
    /// otherwise).
    pub fn label(&mut self, field: &str, value: &str) -> String {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > 200 {
            self.push_bounded(field, "length", (1, 200), "must have 1 to 200 characters");
        }
        value.to_string()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Invalid> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}
