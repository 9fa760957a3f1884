//! Ids and id fragments the status site derives: a group's id from its
//! name (Statuspage gives groups ids; Levee's view names them only), a
//! webhook update's id, and ids made safe to put in a URL fragment or a URN.
//!
//! Everything here is a pure function of its input, the same on every
//! build and machine, so a document rendered twice says the same thing.

use std::fmt::Write as _;

/// A group's id: `grp_` and 13 base-36 digits of the name's FNV-1a hash,
/// the same for the same name on every build and every machine.
pub(crate) fn group_id(name: &str) -> String {
    format!("grp_{}", base36(fnv1a(name.as_bytes())))
}

/// 64-bit FNV-1a: small, stable, and not for anything adversarial (a
/// collision only merges two groups' ids; names are the operator's).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `n` in 13 lowercase base-36 digits (enough for any u64).
pub(crate) fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = [b'0'; 13];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

/// `s` percent-encoded except for RFC 3986's unreserved characters
/// (letters, digits, `-`, `.`, `_`, `~`): safe in a URL fragment, a path
/// segment or a URN part.
pub(crate) fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_are_stable_and_distinct() {
        assert_eq!(group_id("Regions"), group_id("Regions"));
        assert_ne!(group_id("Regions"), group_id("regions"));
        assert_eq!(group_id("").len(), "grp_".len() + 13);
        assert_eq!(base36(u64::MAX), "3w5e11264sgsf");
        assert_eq!(base36(0), "0000000000000");
    }

    #[test]
    fn percent_keeps_only_unreserved() {
        assert_eq!(percent("inc_01-a.b~c"), "inc_01-a.b~c");
        assert_eq!(percent("a b/ü#"), "a%20b%2F%C3%BC%23");
    }
}
