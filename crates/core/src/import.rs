//! The member CSV format (shared by import and export) and the checks on one row.
//!
//! Columns, in the order the export writes them:
//! `phone,email,name,gender,birthday,province,district,tags,points,lifetime_spend,tier,member_since,external_id`
//! then, export only, `status,member_code,order_count,last_order_at,rfm_class,id`. An import may
//! hold any subset of these in any order; `status` is applied, the other export-only columns are
//! computed by the platform and ignored, so an export imports back unchanged. Any other column
//! is refused by name, since a misspelt header would otherwise drop a column silently.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::birthday::Birthday;
use crate::email::Email;
use crate::error::Invalid;
use crate::limits;
use crate::member::{Gender, MemberStatus, check_external_ids, check_name, check_tags};
use crate::phone::Phone;
use crate::text::fold;

/// The import columns, as in the API contract.
pub const IMPORT_COLUMNS: [&str; 13] = [
    "phone",
    "email",
    "name",
    "gender",
    "birthday",
    "province",
    "district",
    "tags",
    "points",
    "lifetime_spend",
    "tier",
    "member_since",
    "external_id",
];

/// What an export adds after the import columns.
pub const EXPORT_ONLY_COLUMNS: [&str; 6] = [
    "status",
    "member_code",
    "order_count",
    "last_order_at",
    "rfm_class",
    "id",
];

/// The `external_ids` key the `external_id` column reads and writes: the member's id in the
/// system the list came from.
pub const EXTERNAL_SYSTEM: &str = "import";

/// Which column holds what, from the header row.
#[derive(Debug, Clone, Default)]
pub struct Header {
    index: BTreeMap<&'static str, usize>,
}

/// A header row that does not fit the format: an unknown column (`file.unknown_column`), one
/// named twice (`file.column_twice`), or none of the columns the format needs
/// (`file.column_missing`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HeaderError {
    pub code: &'static str,
    pub message: String,
}

impl crate::error::Coded for HeaderError {
    fn code(&self) -> &'static str {
        self.code
    }
}

/// A CSV format: the columns it reads, those it accepts and ignores, and the columns of which
/// at least one must be present.
pub struct Format {
    pub columns: &'static [&'static str],
    pub ignored: &'static [&'static str],
    pub needs_one_of: &'static [&'static str],
}

/// Members: the contract's columns; the export's own columns come back harmlessly.
pub const MEMBERS: Format = Format {
    columns: &IMPORT_COLUMNS,
    ignored: &EXPORT_ONLY_COLUMNS,
    needs_one_of: &["phone", "email"],
};

impl Header {
    /// Reads a member file's header row.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Header, HeaderError> {
        Header::parse_as(names, &MEMBERS)
    }

    /// Reads the header row of a file in `format`. Names are matched without case or
    /// surrounding space; an unknown name is refused, since a misspelt column would otherwise
    /// be dropped silently.
    pub fn parse_as<'a>(
        names: impl IntoIterator<Item = &'a str>,
        format: &Format,
    ) -> Result<Header, HeaderError> {
        let mut index = BTreeMap::new();
        for (i, raw) in names.into_iter().enumerate() {
            let name = raw.trim().to_lowercase();
            if name.is_empty() {
                continue;
            }
            let known = format
                .columns
                .iter()
                .chain(format.ignored.iter())
                .find(|c| **c == name);
            let Some(known) = known else {
                return Err(HeaderError {
                    code: "file.unknown_column",
                    message: format!(
                        "unknown column \"{}\" (column {}); the columns are {}",
                        raw.trim(),
                        i + 1,
                        format.columns.join(",")
                    ),
                });
            };
            if index.insert(*known, i).is_some() {
                return Err(HeaderError {
                    code: "file.column_twice",
                    message: format!("column \"{name}\" appears twice"),
                });
            }
        }
        if !format.needs_one_of.iter().any(|c| index.contains_key(c)) {
            let article = |c: &str| {
                if c.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                }
            };
            let names: Vec<String> = format
                .needs_one_of
                .iter()
                .map(|c| format!("{} {c}", article(c)))
                .collect();
            return Err(HeaderError {
                code: "file.column_missing",
                message: format!("the file needs {} column", names.join(" or ")),
            });
        }
        Ok(Header { index })
    }

    /// The trimmed cell of `column`, `None` when the column is absent or the cell blank. The
    /// `'` an export puts before text that a spreadsheet would run as a formula comes off.
    pub(crate) fn cell<'a>(&self, row: &'a [&'a str], column: &str) -> Option<&'a str> {
        let i = *self.index.get(column)?;
        Some(uninert(row.get(i)?.trim())).filter(|v| !v.is_empty())
    }
}

/// What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list), with the
/// full-width forms Excel also accepts and the control characters it skips before looking.
const FORMULA_STARTS: [char; 11] = [
    '=', '+', '-', '@', '\t', '\r', '\n', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// Whether a cell needs a guard: it starts like a formula, or is already a guard (`'`)
/// before one, so that taking one `'` off on import always gives back the original.
fn needs_guard(text: &str) -> bool {
    text.starts_with(FORMULA_STARTS) || text.strip_prefix('\'').is_some_and(needs_guard)
}

/// A text cell for a CSV export that no spreadsheet runs as a formula: one `'` in front of
/// text that would start one (`=cmd|…`, `+84…`, `--05-17`), which also keeps a phone's `+`
/// in Excel. [`uninert`] (every import) takes it off again.
pub fn inert(text: &str) -> String {
    if needs_guard(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// The cell as it was before [`inert`].
pub fn uninert(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => cell,
    }
}

/// One valid row. `None` means the cell was blank: an existing member keeps that field.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<Birthday>,
    pub province: Option<String>,
    pub district: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Opening points: the member's balance from the previous program.
    pub points: Option<i64>,
    pub lifetime_spend: Option<i64>,
    /// The tier's id, resolved from its name (or id).
    pub tier_id: Option<String>,
    pub member_since: Option<Timestamp>,
    pub external_id: Option<String>,
    pub status: Option<MemberStatus>,
}

/// What a row is checked against: today in the tenant's zone and its tier ladder.
pub struct RowContext<'a> {
    pub today: Date,
    pub zone: &'a TimeZone,
    /// Tier id by lower-case name or id.
    pub tiers: &'a dyn Fn(&str) -> Option<String>,
}

const MAX_PLACE_CHARS: usize = 200;

/// Checks one data row; the errors name the column.
pub fn parse_member_row(
    header: &Header,
    row: &[&str],
    cx: &RowContext<'_>,
) -> Result<MemberRow, Invalid> {
    let mut e = Invalid::default();
    let cell = |c: &str| header.cell(row, c);
    let phone = cell("phone").and_then(|v| e.check("phone", Phone::parse(v)));
    let email = cell("email").and_then(|v| e.check("email", Email::parse(v)));
    if cell("phone").is_none() && cell("email").is_none() {
        e.push_coded(
            "phone",
            "member.contact_required",
            "a row needs a phone or an email",
        );
    }
    let name = cell("name").and_then(|v| check_name(&mut e, "name", &one_line(v)));
    let gender = cell("gender").and_then(|v| {
        let g = parse_gender(v);
        if g.is_none() {
            e.push_coded(
                "gender",
                "gender.unknown",
                "must be male, female or other (nam, nữ, khác)",
            );
        }
        g
    });
    let birthday = cell("birthday").and_then(|v| {
        let v = day_month_year(v).unwrap_or_else(|| v.to_string());
        e.check("birthday", Birthday::parse(&v, cx.today))
    });
    let place = |e: &mut Invalid, c: &str| {
        let v = cell(c)?;
        if v.chars().count() > MAX_PLACE_CHARS {
            let message = format!("must be at most {MAX_PLACE_CHARS} characters");
            e.push_bounded(c, "length", (1, MAX_PLACE_CHARS as i64), message);
            return None;
        }
        Some(one_line(v))
    };
    let province = place(&mut e, "province");
    let district = place(&mut e, "district");
    let tags = cell("tags").map(|v| {
        let tags: Vec<String> = v.split('|').map(str::to_string).collect();
        check_tags(&mut e, "tags", &tags)
    });
    let points = cell("points").and_then(|v| whole(&mut e, "points", v, limits::MAX_POINTS));
    let lifetime_spend = cell("lifetime_spend").and_then(|v| amount(&mut e, "lifetime_spend", v));
    let tier_id = cell("tier").and_then(|v| {
        let id = (cx.tiers)(&v.to_lowercase());
        if id.is_none() {
            e.push_coded(
                "tier",
                "tier.not_found",
                format!("no tier is named \"{v}\""),
            );
        }
        id
    });
    let member_since = cell("member_since").and_then(|v| {
        let parsed = instant(v, cx.zone);
        match parsed {
            Some(t) if t.to_zoned_datetime(cx.zone.clone()).date() > cx.today => {
                e.push_coded("member_since", "member_since.in_future", "is in the future");
                None
            }
            Some(t) => Some(t),
            None => {
                e.push_coded(
                    "member_since",
                    "member_since.format",
                    "must be a date (YYYY-MM-DD or DD/MM/YYYY) or an RFC 3339 time",
                );
                None
            }
        }
    });
    let external_id = cell("external_id").map(str::to_string);
    if let Some(id) = &external_id {
        let ids = BTreeMap::from([(EXTERNAL_SYSTEM.to_string(), id.clone())]);
        let before = e.0.len();
        check_external_ids(&mut e, "external_id", &ids);
        if e.0.len() > before {
            e.0.truncate(before);
            e.push_bounded(
                "external_id",
                "length",
                (1, crate::member::MAX_EXTERNAL_ID_CHARS as i64),
                "must have at most 100 characters",
            );
        }
    }
    let status = cell("status").and_then(|v| {
        // A merge makes a tombstone; an import cannot.
        let s = MemberStatus::parse(&v.to_lowercase()).filter(|s| *s != MemberStatus::Merged);
        if s.is_none() {
            e.push_coded(
                "status",
                "member_status.unknown",
                "must be customer, member or blocked",
            );
        }
        s
    });
    e.into_result(|| MemberRow {
        phone,
        email,
        name,
        gender,
        birthday,
        province,
        district,
        tags,
        points,
        lifetime_spend,
        tier_id,
        member_since,
        external_id,
        status,
    })
}

/// A cell written on several lines in a spreadsheet (Alt+Enter) as one line.
fn one_line(v: &str) -> String {
    if v.contains(['\r', '\n', '\t']) {
        v.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        v.to_string()
    }
}

fn parse_gender(v: &str) -> Option<Gender> {
    match fold(v).as_str() {
        "male" | "nam" | "m" => Some(Gender::Male),
        "female" | "nu" | "f" => Some(Gender::Female),
        "other" | "khac" => Some(Gender::Other),
        _ => None,
    }
}

/// An amount of VND, 0 to [`limits::MAX_AMOUNT`], as the API takes it. Thousands separators
/// (`1.250.000`, `1,250,000`) are what Vietnamese spreadsheets write, so they are read.
pub(crate) fn amount(e: &mut Invalid, field: &str, v: &str) -> Option<i64> {
    whole(e, field, v, limits::MAX_AMOUNT)
}

/// A whole number from 0 to `max`, thousands separators allowed.
pub(crate) fn whole(e: &mut Invalid, field: &str, v: &str, max: i64) -> Option<i64> {
    match crate::text::grouped_whole(v) {
        Some(n) if n < 0 => {
            e.push_bounded(field, "out_of_range", (0, max), "must not be negative");
            None
        }
        Some(n) if n <= max => Some(n),
        Some(_) => {
            e.push_bounded(
                field,
                "out_of_range",
                (0, max),
                format!("must be at most {max}"),
            );
            None
        }
        None => {
            e.push_coded(field, "number.format", "must be a whole number, 0 or more");
            None
        }
    }
}

/// `DD/MM/YYYY` (how Vietnamese spreadsheets show dates) to `YYYY-MM-DD`.
fn day_month_year(v: &str) -> Option<String> {
    let mut parts = v.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !all_digits(d) || !all_digits(m) || !all_digits(y) {
        return None;
    }
    if d.len() > 2 || m.len() > 2 || y.len() != 4 {
        return None;
    }
    Some(format!("{y}-{m:0>2}-{d:0>2}"))
}

/// A date (the start of that day in the tenant's zone), a local date and time
/// (`YYYY-MM-DD HH:MM[:SS]`, `DD/MM/YYYY HH:MM[:SS]`) or an RFC 3339 instant.
pub(crate) fn instant(v: &str, zone: &TimeZone) -> Option<Timestamp> {
    if let Ok(t) = v.parse::<Timestamp>() {
        return Some(t);
    }
    let (day, time) = match v.split_once([' ', 'T']) {
        Some((day, time)) => (day, Some(time.trim())),
        None => (v, None),
    };
    let iso = day_month_year(day).unwrap_or_else(|| day.to_string());
    let date: Date = iso.parse().ok()?;
    let time: jiff::civil::Time = match time {
        Some(t) => t.parse().ok()?,
        None => jiff::civil::Time::midnight(),
    };
    date.to_datetime(time)
        .to_zoned_datetime(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_guarded_cell_comes_back_as_it_was_and_never_starts_a_formula(text in "['=+@\\-\t\r\u{FF1D}a-z0-9 ]{0,8}") {
            let cell = inert(&text);
            prop_assert_eq!(uninert(&cell), text.as_str());
            prop_assert!(!cell.starts_with(FORMULA_STARTS));
        }
    }

    #[test]
    fn formulas_phones_and_yearless_birthdays_are_guarded() {
        for (text, cell) in [
            (
                "+cmd|'/Ccalc'!A0@example.vn",
                "'+cmd|'/Ccalc'!A0@example.vn",
            ),
            ("+84901234567", "'+84901234567"),
            ("--05-17", "'--05-17"),
            ("\u{FF1D}1+1", "'\u{FF1D}1+1"),
            ("\tx", "'\tx"),
            ("'=x", "''=x"),
            ("Nguyễn Văn A", "Nguyễn Văn A"),
            ("'ok", "'ok"),
        ] {
            assert_eq!(inert(text), cell);
            assert_eq!(uninert(cell), text);
        }
    }

    fn context(zone: &TimeZone) -> RowContext<'_> {
        RowContext {
            today: jiff::civil::date(2026, 11, 25),
            zone,
            tiers: &|name| (name == "vàng").then(|| "tie_gold".to_string()),
        }
    }

    fn header(line: &str) -> Header {
        Header::parse(line.split(',')).unwrap()
    }

    #[test]
    fn a_full_row_reads_every_column() {
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let h = header(&IMPORT_COLUMNS.join(","));
        let row = [
            "0901234567",
            "A@Example.vn",
            "Nguyễn Văn A",
            "Nữ",
            "17/05/1990",
            "Hà Nội",
            "Cầu Giấy",
            "vip|cafe",
            "1.250",
            "3,500,000",
            "Vàng",
            "2024-01-02",
            "KV-001",
        ];
        let m = parse_member_row(&h, &row, &context(&zone)).unwrap();
        assert_eq!(m.phone.unwrap().as_str(), "+84901234567");
        assert_eq!(m.email.unwrap().as_str(), "a@example.vn");
        assert_eq!(m.gender, Some(Gender::Female));
        assert_eq!(m.birthday.unwrap().to_string(), "1990-05-17");
        assert_eq!(m.tags.unwrap(), ["vip", "cafe"]);
        assert_eq!((m.points, m.lifetime_spend), (Some(1250), Some(3_500_000)));
        assert_eq!(m.tier_id.as_deref(), Some("tie_gold"));
        assert_eq!(
            m.member_since.unwrap().to_string(),
            "2024-01-01T17:00:00Z",
            "a date is the start of that day in Vietnam"
        );
        assert_eq!(m.external_id.as_deref(), Some("KV-001"));
    }

    #[test]
    fn each_bad_cell_is_named() {
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let h = header("phone,birthday,points,tier,gender,member_since");
        let row = ["012", "31/02/1990", "-5", "Kim Cương", "x", "2030-01-01"];
        let errors = parse_member_row(&h, &row, &context(&zone)).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "phone",
                "gender",
                "birthday",
                "points",
                "tier",
                "member_since"
            ]
        );
        assert_eq!(errors.0[3].message, "must not be negative");
    }

    #[test]
    fn headers_are_checked_by_name() {
        assert!(Header::parse(["Phone ", "NAME"]).is_ok());
        assert!(
            Header::parse(["phnoe", "name"])
                .unwrap_err()
                .message
                .contains("unknown column \"phnoe\"")
        );
        assert!(
            Header::parse(["name"])
                .unwrap_err()
                .message
                .contains("phone or an email")
        );
        assert!(Header::parse(["phone", "phone"]).is_err());
        let export: Vec<&str> = IMPORT_COLUMNS
            .iter()
            .chain(EXPORT_ONLY_COLUMNS.iter())
            .copied()
            .collect();
        assert!(Header::parse(export).is_ok(), "an export imports back");
    }

    #[test]
    fn blank_cells_mean_keep() {
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let h = header("phone,name,points");
        let m = parse_member_row(&h, &["0901234567", " ", ""], &context(&zone)).unwrap();
        assert_eq!((m.name, m.points), (None, None));
        let errors = parse_member_row(&h, &["", "A", "1"], &context(&zone)).unwrap_err();
        assert_eq!(errors.0[0].field, "phone");
    }
}
