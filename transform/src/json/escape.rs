//! Finding the bytes of a JSON string that matter (`"`, `\`, control characters) a word
//! or 16 bytes at a time: the reader's string ends and the writer's escapes.

use wide::u8x16;

pub(super) const ONES: u64 = 0x0101_0101_0101_0101;
pub(super) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Per byte of `v`: the high bit set where the byte is `"`, `\` or below 0x20 (exact for
/// the lowest flagged byte, which is all the caller reads).
#[inline]
pub(super) fn specials(v: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    zero(v ^ (ONES * u64::from(b'"')))
        | zero(v ^ (ONES * u64::from(b'\\')))
        | (v.wrapping_sub(ONES * 0x20) & !v & HIGHS)
}

/// Per byte of a 16-byte block, one bit (lowest for the first byte): set where the byte is
/// `"`, `\` or below 0x20. `wide` does it with the CPU's vector unit (SSE2 on x86-64, NEON
/// on arm64).
#[inline(always)]
pub(super) fn specials16(chunk: &[u8; 16]) -> u32 {
    let v = u8x16::from(*chunk);
    let hits = v.simd_eq(u8x16::splat(b'"'))
        | v.simd_eq(u8x16::splat(b'\\'))
        | v.min(u8x16::splat(0x1f)).simd_eq(v);
    hits.to_bitmask()
}

/// Position of the first `"`, `\` or control byte in `bytes` at or after `from`: the bytes
/// a JSON string cannot hold as they are.
#[inline(always)]
pub(crate) fn next_special(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    // One slice walked by 16-byte blocks: the loop keeps one pointer and one length.
    let mut rest = bytes.get(from..)?;
    while let Some((chunk, tail)) = rest.split_first_chunk::<16>() {
        let hits = specials16(chunk);
        if hits != 0 {
            return Some(i + hits.trailing_zeros() as usize);
        }
        i += 16;
        rest = tail;
    }
    if let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let hits = specials(u64::from_le_bytes(word));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i >= bytes.len() {
        return None;
    }
    // Fewer than 8 bytes left. When the word that ends at the end of `bytes` starts at or
    // after `from`, its first bytes were checked above and hold nothing, so one look at it
    // finds the answer.
    if let Some(last) = bytes.len().checked_sub(8).filter(|&at| at >= from) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[last..]);
        let hits = specials(u64::from_le_bytes(word));
        return (hits != 0).then(|| last + (hits.trailing_zeros() / 8) as usize);
    }
    bytes[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|at| i + at)
}

/// Whether `bytes` holds a `"`, `\\` or control byte anywhere: whole blocks, then one
/// last block that overlaps the ones already checked (a short string is one or two
/// overlapping words), so no byte is looked at one at a time.
#[inline]
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some((chunk, tail)) = rest.split_first_chunk::<16>() {
        if specials16(chunk) != 0 {
            return true;
        }
        rest = tail;
    }
    if rest.is_empty() {
        return false;
    }
    if let Some(last) = bytes.last_chunk::<16>() {
        return specials16(last) != 0;
    }
    // Fewer than 16 bytes in all.
    let word = |chunk: &[u8; 8]| specials(u64::from_le_bytes(*chunk));
    if let (Some(first), Some(last)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        return word(first) | word(last) != 0;
    }
    // Fewer than 8: two overlapping 4-byte words (padded with spaces, which need no
    // escape), or the bytes one by one.
    if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let pad = |half: &[u8; 4]| {
            let mut w = [b' '; 8];
            w[..4].copy_from_slice(half);
            w
        };
        return word(&pad(first)) | word(&pad(last)) != 0;
    }
    bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Whether `text` holds a `&` (an HTML entity to decode), and its length in characters
/// (bytes that do not continue a UTF-8 sequence): one vector pass for both, counts kept
/// per lane and added once at the end.
pub(crate) fn amp_and_chars(text: &str) -> (bool, usize) {
    let bytes = text.as_bytes();
    let (amp, high, continuing) = (u8x16::splat(b'&'), u8x16::splat(0xC0), u8x16::splat(0x80));
    let mut found = u8x16::splat(0);
    let mut found_in_tail = false;
    let mut continuations = 0;
    let mut rest = bytes;
    // A lane counts at most 255 blocks before it is added up.
    while !rest.is_empty() {
        let mut lanes = u8x16::splat(0);
        let mut blocks = 0;
        while let Some((chunk, tail)) = rest.split_first_chunk::<16>() {
            let v = u8x16::from(*chunk);
            found |= v.simd_eq(amp);
            // Each lane of a comparison is 0 or 0xFF: subtracting it counts one.
            lanes -= (v & high).simd_eq(continuing);
            rest = tail;
            blocks += 1;
            if blocks == 255 {
                break;
            }
        }
        continuations += lanes
            .to_array()
            .iter()
            .map(|&n| usize::from(n))
            .sum::<usize>();
        if rest.len() < 16 {
            for &b in rest {
                found_in_tail |= b == b'&';
                continuations += usize::from(b & 0xC0 == 0x80);
            }
            break;
        }
    }
    (found.any() || found_in_tail, bytes.len() - continuations)
}
