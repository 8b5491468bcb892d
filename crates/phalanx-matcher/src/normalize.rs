//! Normal forms of indicator and telemetry values, so that one comparison of
//! bytes decides equality: domains lowercased and IDNA-encoded, URLs in the
//! WHATWG canonical form, hashes as bytes, IP addresses as integers.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The normal form of a domain name: ASCII lowercase, IDNA A-labels, no
/// trailing dot. `None` when the text is not a domain name (empty, a label
/// over 63 bytes, spaces, ...).
///
/// The common case (ASCII, already lowercase, no trailing dot) borrows.
pub fn domain(text: &str) -> Option<Cow<'_, str>> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() || trimmed.len() > 253 {
        return None;
    }
    let bytes = trimmed.as_bytes();
    // One pass over the common case: lowercase ASCII labels of 1 to 63 bytes (the last may be empty).
    let (mut label, mut plain, mut bad) = (0usize, true, false);
    for &b in bytes {
        match b {
            b'.' => {
                bad |= label == 0;
                label = 0;
            }
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {
                label += 1;
                bad |= label > 63;
            }
            _ => {
                plain = false;
                break;
            }
        }
    }
    if plain {
        return (!bad).then_some(Cow::Borrowed(trimmed));
    }
    if bytes.iter().all(u8::is_ascii) {
        if bytes.iter().any(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')) {
            return None;
        }
        let lower = trimmed.to_ascii_lowercase();
        return match domain(&lower)? {
            Cow::Borrowed(_) => Some(Cow::Owned(lower)),
            Cow::Owned(o) => Some(Cow::Owned(o)),
        };
    }
    // Unicode: IDNA (UTS 46) to A-labels; refuses what is not a host name.
    let ascii = idna::domain_to_ascii(trimmed).ok()?;
    if ascii.is_empty() || ascii.len() > 253 || ascii.bytes().any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')) {
        return None;
    }
    Some(Cow::Owned(ascii))
}

/// The canonical form of a URL (WHATWG URL Standard, as the `url` crate
/// serialises it): scheme and host lowercased, host IDNA-encoded, default
/// port dropped, `.`/`..` path segments resolved, an empty path written `/`.
/// `None` when the text is not an absolute URL.
pub fn url(text: &str) -> Option<String> {
    let parsed = url::Url::parse(text.trim()).ok()?;
    let mut s = String::from(parsed);
    // A fragment never reaches the server: it is not part of what is matched.
    if let Some(hash) = s.find('#') {
        s.truncate(hash);
    }
    Some(s)
}

/// An e-mail address: trimmed, the domain part normalised like [`domain`]
/// and the local part lowercased (mail systems treat it case-insensitively
/// in practice). `None` without exactly one `@`.
pub fn email(text: &str) -> Option<String> {
    let text = text.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, host) = text.rsplit_once('@')?;
    if local.is_empty() || local.contains('@') {
        return None;
    }
    let host = domain(host)?;
    Some(format!("{}@{}", local.to_lowercase(), host))
}

/// A hash value given in hexadecimal (either case, optional `:` separators
/// as in Suricata's TLS fingerprints), as bytes. `None` if not hex.
pub fn hex_hash(text: &str) -> Option<Vec<u8>> {
    let digits: Cow<'_, str> = if text.contains(':') { Cow::Owned(text.replace(':', "")) } else { Cow::Borrowed(text) };
    let b = digits.as_bytes();
    if b.is_empty() || b.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        out.push((hex_digit(pair[0])? << 4) | hex_digit(pair[1])?);
    }
    Some(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// An IP address (v4 dotted quad or v6), `None` otherwise. An IPv4-mapped
/// IPv6 address (`::ffff:1.2.3.4`) is read as the IPv4 address.
pub fn ip(text: &str) -> Option<IpAddr> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() > 45 {
        return None;
    }
    if let Some(v4) = parse_ipv4(b) {
        return Some(IpAddr::V4(v4));
    }
    // Every IPv6 address has a colon; a domain name (the common other value) has none.
    if !b.contains(&b':') {
        return None;
    }
    let v6: Ipv6Addr = text.parse().ok()?;
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    })
}

/// A fast dotted-quad parser (the hot path of telemetry IP fields); `None`
/// for anything else, at the first byte that is neither a digit nor a dot.
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut part = 0usize;
    let mut value: u32 = 0;
    let mut digits = 0;
    for &c in b {
        if c == b'.' {
            if digits == 0 || part == 3 {
                return None;
            }
            octets[part] = value as u8;
            part += 1;
            value = 0;
            digits = 0;
        } else {
            if !c.is_ascii_digit() {
                return None;
            }
            // Leading zeros are refused, as std does (they are ambiguous: octal?).
            if digits > 0 && value == 0 {
                return None;
            }
            value = value * 10 + u32::from(c - b'0');
            digits += 1;
            if value > 255 || digits > 3 {
                return None;
            }
        }
    }
    if part != 3 || digits == 0 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

/// An address range `addr/len` (or a bare address, as its /32 or /128).
/// Host bits are cleared. `None` when not a CIDR block.
pub fn cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr = ip(addr.trim())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len: u8 = match len {
        Some(l) => l.trim().parse().ok().filter(|&l| l <= max)?,
        None => max,
    };
    Some((mask(addr, len), len))
}

/// `addr` with all but the first `len` bits cleared.
pub fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// Whether `addr` lies in the block `net/len`.
pub fn in_block(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    addr.is_ipv4() == net.is_ipv4() && mask(addr, len) == net
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_idna_encoded_and_lose_the_trailing_dot() {
        assert_eq!(domain("Example.COM.").as_deref(), Some("example.com"));
        assert_eq!(domain("bücher.example").as_deref(), Some("xn--bcher-kva.example"));
        assert!(matches!(domain("plain.example.org"), Some(Cow::Borrowed(_))));
        assert_eq!(domain(""), None);
        assert_eq!(domain("a..b"), None);
        assert_eq!(domain("has space.com"), None);
        assert_eq!(domain(&format!("{}.com", "a".repeat(64))), None);
    }

    #[test]
    fn urls_are_canonical() {
        assert_eq!(url("HTTP://Example.COM:80/a/../b?x=1#frag").as_deref(), Some("http://example.com/b?x=1"));
        assert_eq!(url("https://example.com").as_deref(), Some("https://example.com/"));
        assert_eq!(url("not a url"), None);
    }

    #[test]
    fn hashes_compare_as_bytes_whatever_the_case() {
        assert_eq!(hex_hash("ABcd"), Some(vec![0xab, 0xcd]));
        assert_eq!(hex_hash("ab:cd"), Some(vec![0xab, 0xcd]));
        assert_eq!(hex_hash("abc"), None);
        assert_eq!(hex_hash("zz"), None);
    }

    #[test]
    fn ip_parsing_refuses_what_is_not_an_address() {
        assert_eq!(ip("10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(ip("::ffff:10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(ip("2001:DB8::1"), Some("2001:db8::1".parse().unwrap()));
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4.", "example.com"] {
            assert_eq!(ip(bad), None, "{bad}");
        }
        for n in ["0.0.0.0", "255.255.255.255", "1.20.255.3"] {
            assert_eq!(ip(n), n.parse::<Ipv4Addr>().ok().map(IpAddr::V4));
        }
    }

    /// [`domain`] as it was before its one-pass check of the common case.
    fn domain_reference(text: &str) -> Option<Cow<'_, str>> {
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        if trimmed.is_empty() || trimmed.len() > 253 {
            return None;
        }
        let bytes = trimmed.as_bytes();
        if bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_') {
            if bytes[0] == b'.' || bytes.windows(2).any(|w| w == b"..") || trimmed.split('.').any(|label| label.len() > 63) {
                return None;
            }
            return Some(Cow::Borrowed(trimmed));
        }
        domain(text)
    }

    proptest::proptest! {
        /// The one-pass check gives what the three passes gave.
        #[test]
        fn domain_reads_what_the_reference_reads(text in "[a-z0-9._-]{0,12}|([a-z.]{0,3}[a-z]{60,66}[a-z.]{0,3}){1,4}|[a-zA-Z0-9.ü -]{0,20}") {
            proptest::prop_assert_eq!(domain(&text), domain_reference(&text), "{}", text);
        }

        /// The dotted-quad fast path and the colon shortcut read exactly what std reads.
        #[test]
        fn ip_reads_what_std_reads(text in "[0-9.:a-fA-Fx%]{0,46}|[0-9]{1,4}(\\.[0-9]{1,4}){0,4}\\.?|::ffff:[0-9.]{7,15}") {
            let std = text.parse::<IpAddr>().ok().map(|a| match a {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                v4 => v4,
            });
            proptest::prop_assert_eq!(ip(&text), std.filter(|_| text.len() <= 45), "{}", text);
        }
    }

    #[test]
    fn cidr_blocks_clear_host_bits() {
        assert_eq!(cidr("10.1.2.3/8"), Some(("10.0.0.0".parse().unwrap(), 8)));
        assert_eq!(cidr("2001:db8::1/32"), Some(("2001:db8::".parse().unwrap(), 32)));
        assert_eq!(cidr("10.0.0.1"), Some(("10.0.0.1".parse().unwrap(), 32)));
        assert_eq!(cidr("10.0.0.0/33"), None);
        assert!(in_block("10.9.9.9".parse().unwrap(), "10.0.0.0".parse().unwrap(), 8));
        assert!(!in_block("11.0.0.1".parse().unwrap(), "10.0.0.0".parse().unwrap(), 8));
        assert!(in_block("1.2.3.4".parse().unwrap(), "0.0.0.0".parse().unwrap(), 0));
    }

    #[test]
    fn email_domains_are_normalised() {
        assert_eq!(email("Bob@Example.COM").as_deref(), Some("bob@example.com"));
        assert_eq!(email("<a@b.org>").as_deref(), Some("a@b.org"));
        assert_eq!(email("nobody"), None);
    }
}
