//! The length of an SMS as gateways bill it: GSM-7 (160 characters in one message, 153 a part
//! when split; `^{}\[~]|€` take two) unless a character is outside that alphabet — then UCS-2
//! (70, and 67 a part). Vietnamese with tone marks is UCS-2; many brandname routes ask for the
//! text without them (`unaccented`), which brings it back to GSM-7 at more than twice the room.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// What a text costs as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Length {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Messages billed.
    pub segments: usize,
}

/// The GSM 03.38 basic alphabet.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table: each takes an escape and itself.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The length of `text` as an SMS.
pub fn length(text: &str) -> Length {
    let septets: Option<usize> = text
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (encoding, units, single, part) = match septets {
        Some(units) => (Encoding::Gsm7, units, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = match units {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(part),
    };
    Length {
        encoding,
        units,
        segments,
    }
}

/// The text without Vietnamese tone and vowel marks (`đ` as `d`), case kept: "Cảm ơn bạn" →
/// "Cam on ban".
pub fn unaccented(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c => c,
        })
        .collect()
}

/// An advertising SMS starts with the `QC` label Vietnam's anti-spam rules (Decree 91/2020)
/// require; a text that has it already is left as it is.
pub fn labelled_advertising(text: &str) -> String {
    if text.starts_with("QC ") || text.starts_with("[QC]") {
        text.to_string()
    } else {
        format!("QC {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_gsm7_and_splits_at_153() {
        let one = "a".repeat(160);
        assert_eq!(
            length(&one),
            Length {
                encoding: Encoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        assert_eq!(length(&"a".repeat(161)).segments, 2);
        assert_eq!(length(&"a".repeat(306)).segments, 2);
        assert_eq!(length(&"a".repeat(307)).segments, 3);
        assert_eq!(length("").segments, 0);
        // The extension table takes two septets.
        assert_eq!(length("{€}").units, 6);
    }

    #[test]
    fn vietnamese_with_marks_is_ucs2_and_unaccented_brings_it_back() {
        let text = "Cảm ơn chị Lan đã mua hàng tại Cà Phê Sáng";
        let marked = length(text);
        assert_eq!(marked.encoding, Encoding::Ucs2);
        assert_eq!(marked.units, text.chars().count());
        assert_eq!(length(&"ạ".repeat(70)).segments, 1);
        assert_eq!(length(&"ạ".repeat(71)).segments, 2);
        assert_eq!(length(&"ạ".repeat(135)).segments, 3);
        let plain = unaccented(text);
        assert_eq!(plain, "Cam on chi Lan da mua hang tai Ca Phe Sang");
        assert_eq!(length(&plain).encoding, Encoding::Gsm7);
        assert_eq!(unaccented("ĐẶNG Thị Ánh"), "DANG Thi Anh");
    }

    #[test]
    fn advertising_carries_the_qc_label_once() {
        assert_eq!(labelled_advertising("Giảm 20%"), "QC Giảm 20%");
        assert_eq!(labelled_advertising("QC Giảm 20%"), "QC Giảm 20%");
    }
}
