//! A hand adjustment of a member's points as staff ask for it, and its check.

use crate::error::Invalid;
use crate::limits;

/// The longest reason staff may give for an adjustment.
pub const MAX_REASON_CHARS: usize = 500;

/// The points (signed, never 0) and the trimmed reason of an adjustment.
pub fn validate_adjustment(points: i64, reason: &str) -> Result<(i64, String), Invalid> {
    let mut errors = Invalid::default();
    if points == 0 {
        errors.push_coded("points", "points.zero", "must not be 0");
    } else {
        limits::within(
            &mut errors,
            "points",
            points,
            -limits::MAX_POINTS,
            limits::MAX_POINTS,
        );
    }
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        errors.required("reason");
    } else if reason.chars().count() > MAX_REASON_CHARS {
        errors.push_bounded(
            "reason",
            "length",
            (1, MAX_REASON_CHARS as i64),
            format!("must have at most {MAX_REASON_CHARS} characters"),
        );
    }
    errors.into_result(|| (points, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjustment_needs_points_and_a_reason() {
        let invalid = validate_adjustment(0, "  ").unwrap_err();
        let codes: Vec<_> = invalid.0.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["points.zero", "required"]);
        assert_eq!(
            validate_adjustment(-50, " trả hàng ").unwrap(),
            (-50, "trả hàng".to_string())
        );
    }
}
