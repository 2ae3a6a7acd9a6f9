//! Vietnamese phone numbers, normalised to E.164 (`+84901234567`).
//!
//! A member is found at the till by phone, so the same person typed as `0901234567`,
//! `84901234567`, `+84 90 123 4567` or by their pre-2018 eleven-digit number must land on one
//! record. Numbers from other countries (tourists, overseas Vietnamese) are accepted in E.164
//! form with their `+` and kept as given.

use std::fmt;

/// The mobile network a prefix was allocated to. Numbers have been portable since 2018, so this
/// is for validation and display only, never for routing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Viettel,
    MobiFone,
    VinaPhone,
    Vietnamobile,
    Gmobile,
    Itel,
    Wintel,
}

/// Current 10-digit mobile prefixes (the first three digits of the national form).
pub const MOBILE_PREFIXES: &[(&str, Carrier)] = &[
    ("032", Carrier::Viettel),
    ("033", Carrier::Viettel),
    ("034", Carrier::Viettel),
    ("035", Carrier::Viettel),
    ("036", Carrier::Viettel),
    ("037", Carrier::Viettel),
    ("038", Carrier::Viettel),
    ("039", Carrier::Viettel),
    ("086", Carrier::Viettel),
    ("096", Carrier::Viettel),
    ("097", Carrier::Viettel),
    ("098", Carrier::Viettel),
    ("070", Carrier::MobiFone),
    ("076", Carrier::MobiFone),
    ("077", Carrier::MobiFone),
    ("078", Carrier::MobiFone),
    ("079", Carrier::MobiFone),
    ("089", Carrier::MobiFone),
    ("090", Carrier::MobiFone),
    ("093", Carrier::MobiFone),
    ("081", Carrier::VinaPhone),
    ("082", Carrier::VinaPhone),
    ("083", Carrier::VinaPhone),
    ("084", Carrier::VinaPhone),
    ("085", Carrier::VinaPhone),
    ("088", Carrier::VinaPhone),
    ("091", Carrier::VinaPhone),
    ("094", Carrier::VinaPhone),
    ("052", Carrier::Vietnamobile),
    ("056", Carrier::Vietnamobile),
    ("058", Carrier::Vietnamobile),
    ("092", Carrier::Vietnamobile),
    ("059", Carrier::Gmobile),
    ("099", Carrier::Gmobile),
    ("087", Carrier::Itel),
    ("055", Carrier::Wintel),
];

/// The 2018 conversion of 11-digit mobile numbers to 10 digits (2018-09-15 to 2019-06-30): the
/// old four-digit prefix became a three-digit one and the last seven digits stayed the same.
/// Members imported from old systems still carry the old numbers.
pub const OLD_MOBILE_PREFIXES: &[(&str, &str)] = &[
    // Viettel
    ("0162", "032"),
    ("0163", "033"),
    ("0164", "034"),
    ("0165", "035"),
    ("0166", "036"),
    ("0167", "037"),
    ("0168", "038"),
    ("0169", "039"),
    // MobiFone
    ("0120", "070"),
    ("0121", "079"),
    ("0122", "077"),
    ("0126", "076"),
    ("0128", "078"),
    // VinaPhone
    ("0123", "083"),
    ("0124", "084"),
    ("0125", "085"),
    ("0127", "081"),
    ("0129", "082"),
    // Vietnamobile
    ("0186", "056"),
    ("0188", "058"),
    // Gmobile
    ("0199", "059"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneKind {
    Mobile(Carrier),
    /// A Vietnamese landline (`02x…`): valid, but it cannot receive SMS or Zalo messages.
    FixedLine,
    /// A number with another country code, kept as given.
    International,
}

/// A phone number in E.164 form. Only [`Phone::parse`] makes one, so inside the product a
/// `Phone` is always normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number may contain only digits, spaces, '.', '-', '(', ')' and a leading '+'")]
    BadCharacters,
    #[error("not a Vietnamese phone number: expected 10 digits such as 0901234567")]
    BadLength,
    #[error("prefix {0} is not a Vietnamese mobile or landline prefix")]
    UnknownPrefix(String),
    #[error("international numbers need 8 to 15 digits after '+'")]
    BadInternational,
}

impl crate::error::Coded for PhoneError {
    fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "phone.empty",
            PhoneError::BadCharacters => "phone.bad_characters",
            PhoneError::BadLength => "phone.not_vietnamese",
            PhoneError::UnknownPrefix(_) => "phone.unknown_prefix",
            PhoneError::BadInternational => "phone.bad_international",
        }
    }
}

impl Phone {
    /// Normalises any usual way of writing a Vietnamese number (or an international one with `+`).
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let plus = trimmed.starts_with('+');
        let mut digits = String::with_capacity(trimmed.len());
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' | '(' | ')' => {}
                '+' if i == 0 => {}
                _ => return Err(PhoneError::BadCharacters),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        let national = if plus {
            match digits.strip_prefix("84") {
                Some(rest) => format!("0{}", rest.strip_prefix('0').unwrap_or(rest)),
                None => return Self::international(digits),
            }
        } else if let Some(rest) = digits.strip_prefix("0084") {
            format!("0{rest}")
        } else if digits.starts_with("84") && (digits.len() == 11 || digits.len() == 12) {
            // 84 + 9 digits (current) or 84 + 10 digits (an old 11-digit mobile or a landline).
            format!("0{}", &digits[2..])
        } else if !digits.starts_with('0') && (digits.len() == 9 || digits.len() == 10) {
            // Written without the trunk zero, as people copy it from "+84 90…".
            format!("0{digits}")
        } else {
            digits
        };
        Self::from_national(&national)
    }

    fn international(digits: String) -> Result<Phone, PhoneError> {
        if (8..=15).contains(&digits.len()) {
            Ok(Phone(format!("+{digits}")))
        } else {
            Err(PhoneError::BadInternational)
        }
    }

    fn from_national(national: &str) -> Result<Phone, PhoneError> {
        match national.len() {
            10 => {
                let prefix = &national[..3];
                if mobile_carrier(prefix).is_some() {
                    Ok(Phone(format!("+84{}", &national[1..])))
                } else {
                    Err(PhoneError::UnknownPrefix(prefix.to_string()))
                }
            }
            11 if national.starts_with("01") => {
                let old = &national[..4];
                match OLD_MOBILE_PREFIXES.iter().find(|(o, _)| *o == old) {
                    Some((_, new)) => Ok(Phone(format!("+84{}{}", &new[1..], &national[4..]))),
                    None => Err(PhoneError::UnknownPrefix(old.to_string())),
                }
            }
            // Landlines: 0 + a two- or three-digit area code starting with 2 + subscriber = 11.
            11 if national.starts_with("02") => Ok(Phone(format!("+84{}", &national[1..]))),
            _ => Err(PhoneError::BadLength),
        }
    }

    /// Wraps a value that was normalised before (read back from the database).
    pub fn from_e164_unchecked(e164: String) -> Phone {
        Phone(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn kind(&self) -> PhoneKind {
        match self.0.strip_prefix("+84") {
            Some(rest) if rest.starts_with('2') => PhoneKind::FixedLine,
            Some(rest) => match mobile_carrier(&format!("0{}", &rest[..2.min(rest.len())])) {
                Some(carrier) => PhoneKind::Mobile(carrier),
                None => PhoneKind::FixedLine,
            },
            None => PhoneKind::International,
        }
    }

    /// The domestic form people write and eSMS expects: `0901234567`.
    pub fn national(&self) -> Option<String> {
        self.0.strip_prefix("+84").map(|rest| format!("0{rest}"))
    }

    /// The form Zalo ZNS and Vietguys expect: `84901234567`.
    pub fn without_plus(&self) -> &str {
        &self.0[1..]
    }
}

fn mobile_carrier(prefix: &str) -> Option<Carrier> {
    MOBILE_PREFIXES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, c)| *c)
}

impl serde::Serialize for Phone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(input: &str) -> String {
        Phone::parse(input)
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .into_string()
    }

    #[test]
    fn every_written_form_of_one_mobile_number_normalises_to_the_same_e164() {
        for form in [
            "0901234567",
            "84901234567",
            "+84901234567",
            "+84 90 123 4567",
            "+84 (0) 90 123 4567",
            "0084901234567",
            "901234567",
            "090-123-4567",
            "090.123.4567",
            " (090) 123 4567 ",
        ] {
            assert_eq!(e164(form), "+84901234567", "{form}");
        }
    }

    #[test]
    fn every_current_mobile_prefix_is_accepted_with_its_carrier() {
        for (prefix, carrier) in MOBILE_PREFIXES {
            let number = format!("{prefix}1234567");
            let phone = Phone::parse(&number).unwrap();
            assert_eq!(phone.as_str(), format!("+84{}1234567", &prefix[1..]));
            assert_eq!(phone.kind(), PhoneKind::Mobile(*carrier), "{number}");
            assert_eq!(phone.national().unwrap(), number);
        }
    }

    #[test]
    fn every_old_eleven_digit_prefix_maps_to_its_2018_replacement() {
        for (old, new) in OLD_MOBILE_PREFIXES {
            let old_number = format!("{old}7654321");
            let expected = format!("+84{}7654321", &new[1..]);
            assert_eq!(e164(&old_number), expected, "{old_number}");
            // The same old number written internationally.
            assert_eq!(e164(&format!("+84{}", &old_number[1..])), expected);
            assert_eq!(e164(&format!("84{}", &old_number[1..])), expected);
            assert!(matches!(
                Phone::parse(&old_number).unwrap().kind(),
                PhoneKind::Mobile(_)
            ));
        }
    }

    #[test]
    fn the_old_viettel_0162_number_becomes_032_keeping_the_last_seven_digits() {
        assert_eq!(e164("01621234567"), "+84321234567");
        assert_eq!(e164("0199 123 4567"), "+84591234567");
    }

    #[test]
    fn landlines_are_kept_as_fixed_lines() {
        let phone = Phone::parse("024 3825 3535").unwrap();
        assert_eq!(phone.as_str(), "+842438253535");
        assert_eq!(phone.kind(), PhoneKind::FixedLine);
        assert_eq!(e164("0283 822 1234"), "+842838221234");
    }

    #[test]
    fn international_numbers_with_a_plus_are_kept() {
        let phone = Phone::parse("+82 10 1234 5678").unwrap();
        assert_eq!(phone.as_str(), "+821012345678");
        assert_eq!(phone.kind(), PhoneKind::International);
        assert_eq!(phone.national(), None);
    }

    #[test]
    fn malformed_numbers_are_rejected_with_a_reason() {
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("  "), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("09012345a7"), Err(PhoneError::BadCharacters));
        assert_eq!(Phone::parse("090123456"), Err(PhoneError::BadLength));
        assert_eq!(Phone::parse("09012345678"), Err(PhoneError::BadLength));
        assert_eq!(
            Phone::parse("0111234567"),
            Err(PhoneError::UnknownPrefix("011".into()))
        );
        assert_eq!(
            Phone::parse("0601234567"),
            Err(PhoneError::UnknownPrefix("060".into()))
        );
        assert_eq!(
            Phone::parse("01301234567"),
            Err(PhoneError::UnknownPrefix("0130".into()))
        );
        assert_eq!(Phone::parse("+1234"), Err(PhoneError::BadInternational));
        assert_eq!(Phone::parse("12+34"), Err(PhoneError::BadCharacters));
    }

    #[test]
    fn provider_forms_are_derived_from_e164() {
        let phone = Phone::parse("0912345678").unwrap();
        assert_eq!(phone.without_plus(), "84912345678");
        assert_eq!(phone.national().as_deref(), Some("0912345678"));
    }
}
