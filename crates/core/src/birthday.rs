//! Birthdays, with or without the year: many customers give only day and month, which is all a
//! birthday offer needs. Written `YYYY-MM-DD` or `--MM-DD` (the ISO 8601 form without a year).

use std::fmt;

use jiff::civil::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birthday {
    pub year: Option<i16>,
    pub month: i8,
    pub day: i8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthdayError {
    #[error("birthday must be YYYY-MM-DD, or --MM-DD when the year is unknown")]
    Format,
    #[error("{0} is not a date in the calendar")]
    NoSuchDate(String),
    #[error("birthday year must be between 1900 and this year")]
    Year,
    #[error("birthday is in the future")]
    Future,
}

impl crate::error::Coded for BirthdayError {
    fn code(&self) -> &'static str {
        match self {
            BirthdayError::Format => "birthday.format",
            BirthdayError::NoSuchDate(_) => "birthday.no_such_date",
            BirthdayError::Year => "birthday.year",
            BirthdayError::Future => "birthday.in_future",
        }
    }
}

impl Birthday {
    /// Parses and checks against `today` (in the tenant's time zone): no birthdays in the future.
    pub fn parse(input: &str, today: Date) -> Result<Birthday, BirthdayError> {
        let input = input.trim();
        let (year, rest) = if let Some(rest) = input.strip_prefix("--") {
            (None, rest)
        } else {
            let (year, rest) = input.split_once('-').ok_or(BirthdayError::Format)?;
            if year.len() != 4 {
                return Err(BirthdayError::Format);
            }
            (Some(parse_digits(year)? as i16), rest)
        };
        let (month, day) = rest.split_once('-').ok_or(BirthdayError::Format)?;
        if month.len() != 2 || day.len() != 2 {
            return Err(BirthdayError::Format);
        }
        let (month, day) = (parse_digits(month)? as i8, parse_digits(day)? as i8);
        // A year-less date is checked in a leap year so that 29 February is allowed.
        let check_year = year.unwrap_or(2000);
        let date = Date::new(check_year, month, day)
            .map_err(|_| BirthdayError::NoSuchDate(input.to_string()))?;
        if let Some(y) = year {
            if y < 1900 || y > today.year() {
                return Err(BirthdayError::Year);
            }
            if date > today {
                return Err(BirthdayError::Future);
            }
        }
        Ok(Birthday { year, month, day })
    }

    /// Reads back a birthday stored by this program (no "future" check: time has moved on).
    pub fn from_stored(input: &str) -> Option<Birthday> {
        Birthday::parse(input, jiff::civil::date(9999, 12, 31)).ok()
    }

    /// Age in whole years on `today`, when the year is known.
    pub fn age_on(&self, today: Date) -> Option<i32> {
        let year = i32::from(self.year?);
        let had_birthday = (today.month(), today.day()) >= (self.month, self.day);
        Some(i32::from(today.year()) - year - i32::from(!had_birthday))
    }
}

fn parse_digits(s: &str) -> Result<u32, BirthdayError> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().map_err(|_| BirthdayError::Format)
    } else {
        Err(BirthdayError::Format)
    }
}

impl serde::Serialize for Birthday {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Birthday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(year) => write!(f, "{year:04}-{:02}-{:02}", self.month, self.day),
            None => write!(f, "--{:02}-{:02}", self.month, self.day),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const TODAY: Date = date(2026, 11, 25);

    #[test]
    fn full_and_year_less_birthdays_round_trip() {
        for s in [
            "1990-05-17",
            "--05-17",
            "--02-29",
            "2000-02-29",
            "1900-01-01",
        ] {
            assert_eq!(Birthday::parse(s, TODAY).unwrap().to_string(), s);
        }
    }

    #[test]
    fn impossible_or_future_birthdays_are_rejected() {
        assert_eq!(
            Birthday::parse("1990-02-30", TODAY),
            Err(BirthdayError::NoSuchDate("1990-02-30".into()))
        );
        assert!(matches!(
            Birthday::parse("1991-02-29", TODAY),
            Err(BirthdayError::NoSuchDate(_))
        ));
        assert!(matches!(
            Birthday::parse("--13-01", TODAY),
            Err(BirthdayError::NoSuchDate(_))
        ));
        assert_eq!(
            Birthday::parse("2026-11-26", TODAY),
            Err(BirthdayError::Future)
        );
        assert_eq!(
            Birthday::parse("1899-12-31", TODAY),
            Err(BirthdayError::Year)
        );
        for bad in [
            "17/05/1990",
            "1990-5-17",
            "90-05-17",
            "--5-17",
            "",
            "1990-05-17T00:00",
            "abcd-01-01",
        ] {
            assert!(Birthday::parse(bad, TODAY).is_err(), "{bad}");
        }
    }

    #[test]
    fn age_counts_whole_years_and_turns_on_the_birthday() {
        let b = Birthday::parse("1990-11-25", TODAY).unwrap();
        assert_eq!(b.age_on(TODAY), Some(36));
        assert_eq!(b.age_on(date(2026, 11, 24)), Some(35));
        assert_eq!(
            Birthday::parse("--11-25", TODAY).unwrap().age_on(TODAY),
            None
        );
    }
}
