//! Base64 (standard alphabet, padded) for the hot path: record data in, documents out.
//!
//! On x86-64 CPUs with AVX-512 VBMI (Intel Xeon since Ice Lake, AMD since Zen 4) the
//! vector code below does the work, a block at a time (the last one masked): 64
//! characters decode to 48 bytes with one table lookup (`vpermi2b`), two multiply-adds and
//! one byte shuffle; 48 bytes encode to 64 characters with a shuffle, a multishift and a
//! lookup (`vpermb`), after Muła and Lemire, "Base64 encoding and decoding at almost the
//! speed of a memory copy" (2019). Every CPU without those instructions is `base64_simd`'s
//! alone. In decoding, `base64_simd` always has the last quad (where padding lives, with
//! whatever follows the last whole quad) and the rest from any block holding a byte
//! outside the alphabet, so its verdict and its error are the answer for every input;
//! the bytes are the same (tests compare both ways).
//!
//! The crate's only `unsafe` code is here: the vector loads and stores, and the calls
//! into functions compiled for AVX-512, made only after the CPU was checked for it.
#![allow(unsafe_code)]

use base64_simd::STANDARD;

/// Appends the bytes `src` decodes to onto `out`; on error `out` may hold part of them.
pub fn decode_append(src: &[u8], out: &mut Vec<u8>) -> Result<(), base64_simd::Error> {
    let done = vbmi::decode_blocks(src, out);
    STANDARD.decode_append(&src[done..], out)
}

/// Appends the base64 text of `src` onto `out`.
pub fn encode_append(src: &[u8], out: &mut String) {
    if vbmi::encode_blocks(src, out) < src.len() {
        STANDARD.encode_append(src, out);
    }
}

#[cfg(target_arch = "x86_64")]
mod vbmi {
    use std::arch::x86_64::*;

    /// Characters per decoded block, and the bytes they make.
    const CHARS: usize = 64;
    const BYTES: usize = 48;
    /// Characters always left to `base64_simd`: the last quad, where padding lives.
    const TAIL: usize = 4;
    /// How far ahead of the block being decoded the input is asked for.
    const PREFETCH: usize = 2048;

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Each 7-bit character's 6-bit value, or 0x80 (high bit set) for a byte outside the
    /// alphabet: characters 0-63, then 64-127 (the two registers `vpermi2b` looks up).
    static DECODE: [[u8; 64]; 2] = {
        let mut table = [[0x80u8; 64]; 2];
        let mut i = 0;
        while i < 64 {
            let c = ALPHABET[i] as usize;
            table[c / 64][c % 64] = i as u8;
            i += 1;
        }
        table
    };

    /// Decode: where each output byte comes from in the 32-bit lanes holding 24 bits
    /// each (lane bytes 2, 1, 0 are output bytes 0, 1, 2 of their group).
    static PACK: [u8; 64] = {
        let mut idx = [0u8; 64];
        let mut j = 0;
        while j < BYTES {
            idx[j] = (4 * (j / 3) + 2 - j % 3) as u8;
            j += 1;
        }
        idx
    };

    /// Encode: each 3-byte group s0 s1 s2 spread over a 32-bit lane as s1 s0 s2 s1.
    static SPREAD: [u8; 64] = {
        let mut idx = [0u8; 64];
        let mut g = 0;
        while g < 16 {
            let s = 3 * g as u8;
            idx[4 * g] = s + 1;
            idx[4 * g + 1] = s;
            idx[4 * g + 2] = s + 2;
            idx[4 * g + 3] = s + 1;
            g += 1;
        }
        idx
    };

    /// Encode: the bit offsets of the four 6-bit fields in each spread lane, per 64 bits.
    const SHIFTS: i64 = i64::from_le_bytes([10, 4, 22, 16, 42, 36, 54, 48]);

    pub(super) fn available() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vbmi")
    }

    /// Decodes `src` onto `out` up to its last quad (and whatever follows the last whole
    /// quad), stopping at a block that holds a byte outside the alphabet; returns how many
    /// characters were decoded.
    pub(super) fn decode_blocks(src: &[u8], out: &mut Vec<u8>) -> usize {
        let body = src.len().saturating_sub(TAIL) / 4 * 4;
        if body == 0 || !available() {
            return 0;
        }
        out.reserve(body / 4 * 3);
        // SAFETY: the CPU has AVX-512 F, BW and VBMI (checked above), `body` is a whole
        // number of quads and `out` has room for what they make.
        unsafe { decode_avx512(&src[..body], out) }
    }

    /// Encodes all of `src` onto `out`, padding included; returns how many bytes were
    /// encoded (all, or none on a CPU without the instructions).
    pub(super) fn encode_blocks(src: &[u8], out: &mut String) -> usize {
        if src.is_empty() || !available() {
            return 0;
        }
        out.reserve(src.len().div_ceil(3) * 4);
        // SAFETY: the CPU has AVX-512 F, BW and VBMI (checked above) and `out` has room.
        unsafe { encode_avx512(src, out) };
        src.len()
    }

    /// The lowest `n` bits (`n` from 1 to 64).
    fn lowest(n: usize) -> u64 {
        u64::MAX >> (64 - n)
    }

    /// The tables and constants of decoding, in registers.
    #[derive(Clone, Copy)]
    struct Decoder {
        low: __m512i,
        high: __m512i,
        pack: __m512i,
        pairs: __m512i,
        lanes: __m512i,
    }

    impl Decoder {
        #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
        fn new() -> Decoder {
            // SAFETY: a load of 64 bytes from a 64-byte table.
            let table = |t: &[u8; 64]| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) };
            Decoder {
                low: table(&DECODE[0]),
                high: table(&DECODE[1]),
                pack: table(&PACK),
                pairs: _mm512_set1_epi32(0x0140_0140),
                lanes: _mm512_set1_epi32(0x0001_1000),
            }
        }

        /// The bytes of up to 64 characters (the rest of `chars` zero, and ignored where
        /// `valid` has no bit), or `None` when one is outside the alphabet.
        #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
        fn block(self, chars: __m512i, valid: u64) -> Option<__m512i> {
            let sextets = _mm512_permutex2var_epi8(self.low, chars, self.high);
            // A byte outside the alphabet: its own high bit or its value's.
            if _mm512_movepi8_mask(_mm512_or_si512(sextets, chars)) & valid != 0 {
                return None;
            }
            // aaaaaa bbbbbb -> 12 bits per 16; two of those -> 24 bits per 32.
            let pairs = _mm512_maddubs_epi16(sextets, self.pairs);
            let lanes = _mm512_madd_epi16(pairs, self.lanes);
            Some(_mm512_permutexvar_epi8(self.pack, lanes))
        }
    }

    /// # Safety
    /// The CPU must have AVX-512 F, BW and VBMI; `src.len()` must be a multiple of 4 and
    /// `out` have room for `src.len() / 4 * 3` more bytes.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn decode_avx512(src: &[u8], out: &mut Vec<u8>) -> usize {
        debug_assert!(
            src.len().is_multiple_of(4) && out.capacity() - out.len() >= src.len() / 4 * 3
        );
        let decoder = Decoder::new();
        let mut len = out.len();
        let mut at = 0;
        // SAFETY (the loads and stores below): a whole block reads src[at..at + CHARS]
        // and writes BYTES bytes (masked), the last block reads the `n` characters left
        // (masked) and writes the n / 4 * 3 bytes they make (masked): all within `src`
        // and the room reserved past `out.len()`, which the bytes written are then
        // counted into.
        unsafe {
            while src.len() - at >= CHARS {
                // The next record's characters, as a rule (the event's strings lie in
                // the order they were read): asked for before they are needed.
                _mm_prefetch::<_MM_HINT_T0>(src.as_ptr().wrapping_add(at + PREFETCH).cast());
                let chars = _mm512_loadu_si512(src.as_ptr().add(at).cast());
                let Some(bytes) = decoder.block(chars, u64::MAX) else {
                    out.set_len(len);
                    return at;
                };
                _mm512_mask_storeu_epi8(out.as_mut_ptr().add(len).cast(), lowest(BYTES), bytes);
                len += BYTES;
                at += CHARS;
            }
            let n = src.len() - at;
            if n > 0 {
                let valid = lowest(n);
                let chars = _mm512_maskz_loadu_epi8(valid, src.as_ptr().add(at).cast());
                if let Some(bytes) = decoder.block(chars, valid) {
                    let made = n / 4 * 3;
                    _mm512_mask_storeu_epi8(out.as_mut_ptr().add(len).cast(), lowest(made), bytes);
                    len += made;
                    at += n;
                }
            }
            out.set_len(len);
        }
        at
    }

    /// The 64 characters of 48 bytes (the last 16 bytes of the register are ignored).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn encode_block(bytes: __m512i, spread: __m512i, alphabet: __m512i) -> __m512i {
        let lanes = _mm512_permutexvar_epi8(spread, bytes);
        let sextets = _mm512_multishift_epi64_epi8(_mm512_set1_epi64(SHIFTS), lanes);
        _mm512_permutexvar_epi8(sextets, alphabet)
    }

    /// # Safety
    /// The CPU must have AVX-512 F, BW and VBMI; `out` must have room for
    /// `src.len().div_ceil(3) * 4` more bytes.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn encode_avx512(src: &[u8], out: &mut String) {
        debug_assert!(out.capacity() - out.len() >= src.len().div_ceil(3) * 4);
        // SAFETY (all loads and stores below): the tables are 64 bytes each; a whole
        // block reads src[at..at + BYTES] (masked) and writes CHARS characters, the last
        // block reads the `n` bytes left (masked) and writes (masked) the characters they
        // make: within `src` and the room reserved past `out.len()`, which they are then
        // counted into. Every character is ASCII (from ALPHABET, or `=`), so `out` stays
        // UTF-8.
        unsafe {
            let alphabet = _mm512_loadu_si512(ALPHABET.as_ptr().cast());
            let spread = _mm512_loadu_si512(SPREAD.as_ptr().cast());
            let out = out.as_mut_vec();
            let mut len = out.len();
            let mut at = 0;
            while src.len() - at >= BYTES {
                let bytes = _mm512_maskz_loadu_epi8(lowest(BYTES), src.as_ptr().add(at).cast());
                let chars = encode_block(bytes, spread, alphabet);
                _mm512_storeu_si512(out.as_mut_ptr().add(len).cast(), chars);
                len += CHARS;
                at += BYTES;
            }
            let n = src.len() - at;
            if n > 0 {
                let bytes = _mm512_maskz_loadu_epi8(lowest(n), src.as_ptr().add(at).cast());
                let chars = encode_block(bytes, spread, alphabet);
                // The last group, of one or two bytes, ends in `==` or `=`.
                let made = n.div_ceil(3) * 4;
                let pad = match n % 3 {
                    1 => 0b11 << (made - 2),
                    2 => 0b1 << (made - 1),
                    _ => 0,
                };
                let chars = _mm512_mask_blend_epi8(pad, chars, _mm512_set1_epi8(b'=' as i8));
                _mm512_mask_storeu_epi8(out.as_mut_ptr().add(len).cast(), lowest(made), chars);
                len += made;
            }
            out.set_len(len);
        }
    }
}

/// Other CPUs: `base64_simd` does everything.
#[cfg(not(target_arch = "x86_64"))]
mod vbmi {
    pub(super) fn decode_blocks(_: &[u8], _: &mut Vec<u8>) -> usize {
        0
    }

    pub(super) fn encode_blocks(_: &[u8], _: &mut String) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    /// The base64 text of `src` alone.
    fn encode(src: &[u8]) -> String {
        let mut text = String::new();
        encode_append(src, &mut text);
        text
    }

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// The vector code does the work exactly where the CPU has it (which these tests then
    /// exercise; printed, for `-- --nocapture` to show which).
    #[test]
    fn the_vector_path_runs_where_the_cpu_has_it() {
        #[cfg(target_arch = "x86_64")]
        let vector = vbmi::available();
        #[cfg(not(target_arch = "x86_64"))]
        let vector = false;
        eprintln!("AVX-512 VBMI base64: {vector}");
        let src = bytes(480, 7);
        let mut text = String::new();
        assert_eq!(
            vbmi::encode_blocks(&src, &mut text),
            if vector { 480 } else { 0 }
        );
        assert_eq!(text.len(), if vector { 640 } else { 0 });
        let text = encode(&src);
        let mut out = Vec::new();
        // All but the last quad.
        assert_eq!(
            vbmi::decode_blocks(text.as_bytes(), &mut out),
            if vector { 636 } else { 0 }
        );
        assert_eq!(out[..], src[..out.len()]);
    }

    #[test]
    fn encodes_every_length_as_the_base64_crate() {
        for n in 0..=400 {
            let src = bytes(n, n as u64);
            let want = base64::engine::general_purpose::STANDARD.encode(&src);
            assert_eq!(encode(&src), want, "length {n}");
            // Appended after text already there (what the handler does, batch by batch).
            let mut text = "é;".to_string();
            encode_append(&src, &mut text);
            assert_eq!(text, format!("é;{want}"), "length {n}, appended");
        }
    }

    #[test]
    fn decodes_every_length_back() {
        for n in 0..=400 {
            let src = bytes(n, n as u64 + 1000);
            let text = base64::engine::general_purpose::STANDARD.encode(&src);
            let mut out = vec![1, 2, 3];
            decode_append(text.as_bytes(), &mut out).expect("valid");
            assert_eq!(&out[3..], &src[..], "length {n}");
        }
    }

    /// Every bad byte at every position of inputs of several block counts: refused,
    /// exactly when `base64_simd` refuses the whole input, with the same error.
    #[test]
    fn refuses_what_base64_simd_refuses_anywhere() {
        let bad = [
            b'=', b' ', b'\n', b'-', b'_', b'.', 0, 0x7f, 0x80, 0xc3, 0xff,
        ];
        for n in [48 * 2 + 1, 48 * 3, 48 * 3 + 2] {
            let text = base64::engine::general_purpose::STANDARD.encode(bytes(n, 9));
            for pos in 0..text.len() {
                for &b in &bad {
                    let mut t = text.clone().into_bytes();
                    t[pos] = b;
                    let ours = decode_append(&t, &mut Vec::new());
                    let theirs = base64_simd::STANDARD.decode_to_vec(&t);
                    assert_eq!(
                        ours.map_err(|e| e.to_string()),
                        theirs.map(|_| ()).map_err(|e| e.to_string()),
                        "byte {b:#x} at {pos} of {}",
                        t.len()
                    );
                }
            }
        }
    }

    proptest! {
        /// Strings of alphabet and non-alphabet bytes, any length: the same verdict and the
        /// same bytes as `base64_simd` on the whole string.
        #[test]
        fn agrees_with_base64_simd(
            good in proptest::collection::vec(0usize..64, 0..300),
            bad in proptest::collection::vec((0usize..300, any::<u8>()), 0..3),
            pad in 0usize..3,
        ) {
            let mut t: Vec<u8> = good.iter().map(|&i| ALPHABET[i]).collect();
            for (pos, b) in bad {
                if pos < t.len() {
                    t[pos] = b;
                }
            }
            t.extend(std::iter::repeat_n(b'=', pad));
            let mut ours = Vec::new();
            let verdict = decode_append(&t, &mut ours).map_err(|e| e.to_string());
            match base64_simd::STANDARD.decode_to_vec(&t) {
                Ok(theirs) => {
                    prop_assert_eq!(verdict, Ok(()));
                    prop_assert_eq!(ours, theirs);
                }
                Err(e) => prop_assert_eq!(verdict, Err(e.to_string())),
            }
        }
    }

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}
