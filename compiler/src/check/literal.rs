//! Literal values as written in policies: integers (decimal, `0x`, `0o`, `_`
//! separators), IPv4/IPv6 addresses and networks, the built-in constants' values, and
//! "did you mean" suggestions by edit distance.
//!
//! Pure functions over text; they know field widths only as numbers.

use std::net::IpAddr;

/// The value of a built-in constant (the table is
/// [`crate::check::constants::CONSTANTS`]).
pub fn constant(name: &str) -> Option<u64> {
    crate::check::constants::lookup(name).map(|constant| constant.value)
}

/// Why an integer literal is not a valid value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntError {
    /// Not a number at all (`12ab`, `0x`).
    Malformed,
    /// A minus sign: fields are unsigned.
    Negative,
    /// Does not fit in 64 bits.
    TooLarge,
}

/// Parses an integer literal: decimal, `0x` hex or `0o` octal, with optional
/// `_` separators between digits.
pub fn parse_int(text: &str) -> Result<u64, IntError> {
    if let Some(rest) = text.strip_prefix('-') {
        return match parse_int(rest) {
            Ok(0) => Ok(0),
            Ok(_) | Err(IntError::TooLarge) => Err(IntError::Negative),
            Err(error) => Err(error),
        };
    }
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if let Some(octal) = text.strip_prefix("0o").or_else(|| text.strip_prefix("0O")) {
            (octal, 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return Err(IntError::Malformed);
    }
    let mut value: u64 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        let digit = c.to_digit(radix).ok_or(IntError::Malformed)?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or(IntError::TooLarge)?;
    }
    Ok(value)
}

/// The largest value of an unsigned integer of `bits` bits.
pub fn int_max(bits: u8) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Why an IP literal is not valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpError {
    /// Not an address (the text after it says why).
    Malformed(String),
    /// Prefix longer than the address.
    PrefixTooLong { max: u8 },
    /// Bits set past the prefix; `network` is the literal with them cleared.
    HostBits { network: String },
}

/// Parses `ADDR` or `ADDR/PREFIX`. A plain address has the full prefix.
pub fn parse_ip(text: &str) -> Result<(IpAddr, u8), IpError> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| {
        IpError::Malformed(if addr_text.contains(':') {
            "not an IPv6 address".to_string()
        } else if addr_text.split('.').count() != 4 {
            "an IPv4 address has four parts".to_string()
        } else {
            "each part of an IPv4 address is 0 to 255".to_string()
        })
    })?;
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => return Err(IpError::PrefixTooLong { max }),
        },
    };
    let masked = mask(addr, prefix);
    if masked != addr {
        return Err(IpError::HostBits {
            network: format!("{masked}/{prefix}"),
        });
    }
    Ok((addr, prefix))
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
    }
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if name.len() > 64 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| candidate.len() <= 64)
        .map(|candidate| {
            // A matching last segment (`uid` for `proc.uid`) is a strong hint.
            fn last(s: &str) -> &str {
                s.rsplit('.').next().unwrap_or(s)
            }
            let distance = if last(candidate) == last(name) && name.contains('.') {
                1
            } else {
                edit_distance(name, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_base() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0x1F"), Ok(31));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_int("18446744073709551616"), Err(IntError::TooLarge));
        assert_eq!(parse_int("-1"), Err(IntError::Negative));
        assert_eq!(parse_int("-0"), Ok(0));
        for bad in ["0x", "12ab", "0o8", "1__", "_1", "0xg"] {
            assert_eq!(parse_int(bad), Err(IntError::Malformed), "{bad}");
        }
        assert_eq!(int_max(16), 65535);
        assert_eq!(int_max(64), u64::MAX);
    }

    #[test]
    fn addresses_and_networks() {
        assert_eq!(
            parse_ip("10.0.0.0/8"),
            Ok(("10.0.0.0".parse().expect("ip"), 8))
        );
        assert_eq!(parse_ip("::1"), Ok(("::1".parse().expect("ip"), 128)));
        assert_eq!(
            parse_ip("10.0.0.1/8"),
            Err(IpError::HostBits {
                network: "10.0.0.0/8".to_string()
            })
        );
        assert_eq!(
            parse_ip("fe80::1/10"),
            Err(IpError::HostBits {
                network: "fe80::/10".to_string()
            })
        );
        assert_eq!(
            parse_ip("1.2.3.4/33"),
            Err(IpError::PrefixTooLong { max: 32 })
        );
        assert_eq!(
            parse_ip("0.0.0.0/0"),
            Ok(("0.0.0.0".parse().expect("ip"), 0))
        );
        assert!(matches!(parse_ip("1.2.3"), Err(IpError::Malformed(_))));
        assert!(matches!(parse_ip("1.2.3.256"), Err(IpError::Malformed(_))));
        assert!(matches!(parse_ip("1:2:3"), Err(IpError::Malformed(_))));
    }

    #[test]
    fn suggestions() {
        let fields = ["proc.uid", "proc.pid", "exec.path", "file.path"];
        assert_eq!(closest("proc.ui", fields), Some("proc.uid"));
        assert_eq!(closest("process.uid", fields), Some("proc.uid"));
        assert_eq!(closest("exec.pth", fields), Some("exec.path"));
        assert_eq!(closest("zzz", fields), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
