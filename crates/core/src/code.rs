//! Short codes that people read aloud, type at a till or scan: member codes, voucher codes and
//! the random part of API keys. The alphabet leaves out characters that look alike on a receipt
//! or a phone screen (0/O, 1/I/L), so a code read from paper is typed right the first time.

use rand::Rng;

/// 31 symbols: digits 2–9 and the Latin capitals without I, L and O.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Length of a member code; 31^8 ≈ 8.5 × 10^11 codes, so collisions are rare and retried.
pub const MEMBER_CODE_LEN: usize = 8;

/// A random code of `len` symbols from [`ALPHABET`], drawn from a cryptographically secure
/// generator so codes cannot be guessed from one another.
pub fn random_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether two secrets (or their hashes) are equal, comparing every byte whatever the first
/// difference, so the time taken does not reveal how much of a guess was right.
pub fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Brings a code typed by a person to its stored form: upper case, without spaces or dashes.
/// Returns `None` when a character cannot be part of any code.
pub fn normalise_code(input: &str) -> Option<String> {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            ' ' | '-' => {}
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            _ => return None,
        }
    }
    Some(out)
}

/// Whether `code` uses only symbols of [`ALPHABET`].
pub fn is_code(code: &str) -> bool {
    !code.is_empty() && code.bytes().all(|b| ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_has_no_look_alikes() {
        for c in b"01ILO" {
            assert!(!ALPHABET.contains(c), "{}", *c as char);
        }
        assert_eq!(ALPHABET.len(), 31);
    }

    #[test]
    fn random_codes_use_only_the_alphabet_and_differ() {
        let a = random_code(MEMBER_CODE_LEN);
        let b = random_code(MEMBER_CODE_LEN);
        assert!(is_code(&a) && is_code(&b));
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
    }

    #[test]
    fn typed_codes_are_normalised_case_insensitively() {
        assert_eq!(normalise_code("k7q3-m9p2").as_deref(), Some("K7Q3M9P2"));
        assert_eq!(normalise_code("k7q3 m9p2!"), None);
    }
}
