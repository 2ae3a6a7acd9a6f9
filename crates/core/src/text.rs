//! Text folding for search: a cashier types "nguyen" or "tuyet" without tone marks and still finds
//! "Nguyễn Thị Ánh Tuyết". Stored names keep exactly the bytes that were given; only the search
//! key is folded.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

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
