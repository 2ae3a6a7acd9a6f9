//! Text folding for search: a cashier types "nguyen" or "tuyet" without tone marks and still finds
//! "Nguyễn Thị Ánh Tuyết". Stored names keep exactly the bytes that were given; only the search
//! key is folded.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A whole number as people type it: plain digits, or digits grouped by thousands with one
/// separator used throughout (`1.250.000`, `1,250,000`, `1 250 000`), with an optional minus.
/// `1.5` is not a whole number (rather than fifteen), nor is `1.25.000`; `None` for anything
/// else, and for a number beyond `i64`.
pub fn grouped_whole(input: &str) -> Option<i64> {
    let text = input.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let separator = digits.chars().find(|c| matches!(c, '.' | ',' | ' '));
    let groups: Vec<&str> = match separator {
        Some(sep) => digits.split(sep).collect(),
        None => vec![digits],
    };
    let well_formed = groups.iter().enumerate().all(|(i, g)| {
        let len_ok = match (separator, i) {
            (None, _) => !g.is_empty(),
            (Some(_), 0) => (1..=3).contains(&g.len()),
            (Some(_), _) => g.len() == 3,
        };
        len_ok && g.bytes().all(|b| b.is_ascii_digit())
    });
    if !well_formed {
        return None;
    }
    let n: i64 = groups.concat().parse().ok()?;
    Some(if negative { -n } else { n })
}

/// Lower case, without diacritics, `đ` as `d`, runs of whitespace as one space.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut space = false;
    for c in input.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        match c {
            'đ' | 'Đ' => out.push('d'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_read_with_thousands_separators_but_not_decimals() {
        assert_eq!(grouped_whole("1.250.000"), Some(1_250_000));
        assert_eq!(grouped_whole(" 1,250,000 "), Some(1_250_000));
        assert_eq!(grouped_whole("1 250 000"), Some(1_250_000));
        assert_eq!(grouped_whole("35000"), Some(35_000));
        assert_eq!(grouped_whole("-50"), Some(-50));
        assert_eq!(grouped_whole("1.5"), None);
        assert_eq!(grouped_whole("1.25.000"), None);
        assert_eq!(grouped_whole("1.250,000"), None);
        assert_eq!(grouped_whole("12a"), None);
        assert_eq!(grouped_whole(""), None);
        assert_eq!(grouped_whole("99999999999999999999"), None);
    }

    #[test]
    fn vietnamese_names_fold_to_plain_lower_case() {
        assert_eq!(fold("Nguyễn Thị Ánh Tuyết"), "nguyen thi anh tuyet");
        assert_eq!(fold("  ĐẶNG   Văn Đức "), "dang van duc");
        assert_eq!(fold("Hoà"), fold("Hòa"));
    }

    #[test]
    fn decomposed_input_folds_like_precomposed() {
        let nfd: String = "Tuyết".nfd().collect();
        assert_eq!(fold(&nfd), "tuyet");
    }
}
