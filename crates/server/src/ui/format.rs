//! Numbers, money and dates the way a Vietnamese shop writes them: `1.250.000 ₫`,
//! `25/11/2026`, in the tenant's time zone. English pages group with commas.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::i18n::Lang;

pub fn number(lang: Lang, n: i64) -> String {
    let separator = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// Đồng have no minor unit: amounts are whole đồng.
pub fn money(lang: Lang, dong: i64) -> String {
    format!("{} ₫", number(lang, dong))
}

pub fn date(zone: &TimeZone, at: Timestamp) -> String {
    at.to_zoned_datetime(zone.clone())
        .strftime("%d/%m/%Y")
        .to_string()
}

pub fn date_time(zone: &TimeZone, at: Timestamp) -> String {
    at.to_zoned_datetime(zone.clone())
        .strftime("%d/%m/%Y %H:%M")
        .to_string()
}

pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0%".to_string();
    }
    // In i128: revenue in đồng times 100 could pass i64.
    let (part, whole) = (i128::from(part), i128::from(whole));
    format!("{}%", (part * 100 + whole / 2) / whole)
}

/// The start of the day `days_later` days after the date `text` (2026-11-20) in `zone`;
/// `None` for text that is not a date.
pub fn day_start(text: &str, zone: &TimeZone, days_later: i64) -> Option<Timestamp> {
    let date: jiff::civil::Date = text.trim().parse().ok()?;
    let date = date.checked_add(jiff::Span::new().days(days_later)).ok()?;
    date.to_zoned_datetime(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_by_thousands_in_dong() {
        assert_eq!(money(Lang::Vi, 1_250_000), "1.250.000 ₫");
        assert_eq!(money(Lang::En, 1_250_000), "1,250,000 ₫");
        assert_eq!(money(Lang::Vi, 0), "0 ₫");
        assert_eq!(money(Lang::Vi, 999), "999 ₫");
        assert_eq!(money(Lang::Vi, -1_000), "-1.000 ₫");
        assert_eq!(number(Lang::Vi, i64::MIN), "-9.223.372.036.854.775.808");
    }

    #[test]
    fn dates_are_day_first_in_the_tenant_zone() {
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        // 17:30 UTC on the 30th is 00:30 on the 1st in Việt Nam.
        let at: Timestamp = "2026-11-30T17:30:00Z".parse().unwrap();
        assert_eq!(date(&zone, at), "01/12/2026");
        assert_eq!(date_time(&zone, at), "01/12/2026 00:30");
    }

    #[test]
    fn percent_rounds_and_survives_an_empty_whole() {
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(2, 3), "67%");
        assert_eq!(percent(5, 0), "0%");
    }
}
