//! Amounts as platforms write them — decimal strings ("952.38") or JSON numbers — in whole dong.

use serde_json::Value;

/// The largest amount we read (10^15 dong): past any real order, far from overflow.
const MAX: i64 = 1_000_000_000_000_000;

/// Whole dong, rounded half away from zero (VND has no smaller unit in use). `None` for
/// anything that is not an amount.
pub fn dong(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => decimal(text.trim()),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(|f| decimal(&format!("{f}")))),
        _ => None,
    }
    .filter(|v| v.unsigned_abs() <= MAX.unsigned_abs())
}

/// Reads a plain decimal exactly (no float): sign, digits, an optional fraction.
fn decimal(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) || whole.len() > 16 {
        return None;
    }
    let mut value: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    if fraction.as_bytes().first().is_some_and(|d| *d >= b'5') {
        value = value.checked_add(1)?;
    }
    Some(if negative { -value } else { value })
}

/// A field that must be an amount when present: absent or null is zero.
pub fn dong_or_zero(value: Option<&Value>) -> Option<i64> {
    match value {
        None | Some(Value::Null) => Some(0),
        Some(v) => dong(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimal_strings_become_whole_dong() {
        assert_eq!(dong(&json!("70000.00")), Some(70_000));
        assert_eq!(dong(&json!("952.38")), Some(952));
        assert_eq!(dong(&json!("952.5")), Some(953));
        assert_eq!(dong(&json!("0.49")), Some(0));
        assert_eq!(dong(&json!("-1000.00")), Some(-1000));
        assert_eq!(dong(&json!(35000)), Some(35_000));
        assert_eq!(dong(&json!(35000.6)), Some(35_001));
        assert_eq!(dong(&json!("12,000")), None);
        assert_eq!(dong(&json!("")), None);
        assert_eq!(dong(&json!("1e9")), None);
        assert_eq!(dong(&json!("99999999999999999999")), None);
        assert_eq!(dong(&json!(null)), None);
        assert_eq!(dong(&json!(i64::MIN)), None);
    }
}
