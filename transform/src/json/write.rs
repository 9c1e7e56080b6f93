//! Writing JSON by hand for the hot path: the document line of every `Ok` record.
//!
//! Output is byte for byte what `serde_json::to_vec` makes of the same value (compact,
//! `"`/`\`/control characters escaped as serde_json escapes them, nothing else escaped);
//! `document::tests` and `tests/fast_paths.rs` hold the two side by side.

use super::escape::{needs_escape, next_special};

/// Appends `s` as a JSON string.
#[inline]
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if needs_escape(bytes) {
        return escaped(out, bytes);
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    append(out, bytes);
    out.push(b'"');
}

/// Appends `bytes`. Up to 32 bytes (most of a document's strings) are copied as two
/// fixed-size pieces, the second written over the first's end where they overlap, instead
/// of a call to `memcpy` for a variable length.
#[inline(always)]
fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    fn pieces<const N: usize>(out: &mut Vec<u8>, head: &[u8; N], tail: &[u8; N], n: usize) {
        let start = out.len();
        out.extend_from_slice(head);
        out.extend_from_slice(tail);
        // n is between N and 2N: the tail belongs at n - N.
        out[start + n - N..start + n].copy_from_slice(tail);
        out.truncate(start + n);
    }
    let n = bytes.len();
    if n <= 16 {
        if let (Some(head), Some(tail)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            return pieces(out, head, tail, n);
        }
        if let (Some(head), Some(tail)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
            return pieces(out, head, tail, n);
        }
        for &b in bytes {
            out.push(b);
        }
        return;
    }
    if n <= 32 {
        if let (Some(head), Some(tail)) = (bytes.first_chunk::<16>(), bytes.last_chunk::<16>()) {
            return pieces(out, head, tail, n);
        }
    }
    out.extend_from_slice(bytes);
}

/// Appends `bytes`, which need escapes, as a JSON string.
#[cold]
#[inline(never)]
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 8);
    out.push(b'"');
    let mut from = 0;
    while let Some(at) = next_special(bytes, from) {
        out.extend_from_slice(&bytes[from..at]);
        escape(out, bytes[at]);
        from = at + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

fn escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
    }
}

/// Appends an unsigned integer. The digits are made at the start of a 20-byte buffer
/// whose whole length is copied (a fixed-size copy, a few vector moves) and the extra
/// cut off: no call to `memcpy` for a variable length.
#[inline]
pub(crate) fn uint(out: &mut Vec<u8>, n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    let digits = n.ilog10() as usize + 1;
    let mut buf = [0u8; 20];
    let mut rest = n;
    for digit in buf[..digits].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let len = out.len();
    out.extend_from_slice(&buf);
    out.truncate(len + digits);
}

/// Appends `true` or `false`.
#[inline]
pub(crate) fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Appends a string or `null`.
#[inline]
pub(crate) fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends an integer or `null`.
#[inline(always)]
pub(crate) fn opt_uint(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => uint(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends an array of strings.
pub(crate) fn strings<S: AsRef<str>>(out: &mut Vec<u8>, items: &[S]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, item.as_ref());
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        for s in [
            "",
            "plain",
            "a \"quoted\" \\ back/slash",
            "é 🐱 مرحبا 日本語",
            every_ascii.as_str(),
            "\u{7f}\u{2028}\u{2029}",
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut samples = vec![0, 9, 10, 99, 100, 380, 180_056, u64::MAX - 1, u64::MAX];
        samples.extend((0..64).map(|p| 1u64 << p));
        samples.extend((1..20).flat_map(|p| [10u64.pow(p) - 1, 10u64.pow(p)]));
        for n in samples {
            let mut out = b"x".to_vec();
            uint(&mut out, n);
            assert_eq!(out, format!("x{n}").as_bytes(), "{n}");
        }
    }

    #[test]
    fn appends_every_length_as_it_is() {
        for n in 0..80u8 {
            let bytes: Vec<u8> = (1..=n).collect();
            let mut out = b"ab".to_vec();
            append(&mut out, &bytes);
            assert_eq!(&out[..2], b"ab");
            assert_eq!(&out[2..], &bytes[..], "{n}");
        }
    }

    #[test]
    fn numbers_and_lists() {
        let mut out = Vec::new();
        uint(&mut out, u64::MAX);
        opt_uint(&mut out, None);
        boolean(&mut out, true);
        strings(&mut out, &["a", "b\n"]);
        opt_string(&mut out, Some("x"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "18446744073709551615nulltrue[\"a\",\"b\\n\"]\"x\""
        );
    }
}
