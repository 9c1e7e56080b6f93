//! Times in documents: ISO-8601 UTC with milliseconds, held inline ([`IsoTime`]),
//! formatted once per arrival time ([`ArrivalClock`]); post times normalised to that form.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;

/// An ISO-8601 UTC time, held inline: a document's arrival time costs no allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IsoTime {
    len: u8,
    bytes: [u8; 32],
}

impl IsoTime {
    /// Holds `text` (at most 32 bytes: chrono's longest RFC 3339 form is 27).
    fn new(text: &str) -> Self {
        let mut bytes = [0u8; 32];
        let len = text.len().min(32);
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        IsoTime {
            len: len as u8,
            bytes,
        }
    }

    /// The time's bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The time as text.
    pub fn as_str(&self) -> &str {
        // Built from a `&str` cut at its end (or ASCII digits): always valid.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for IsoTime {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for IsoTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Formats milliseconds since the epoch as ISO-8601 UTC with milliseconds.
pub fn iso_millis(ms: i64) -> IsoTime {
    // Years 1970..=9999 by hand (every arrival time), the rest through chrono.
    const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    if (0..=MAX_MS).contains(&ms) {
        let days = ms / 86_400_000;
        let in_day = ms % 86_400_000;
        let (year, month, day) = civil_from_days(days);
        let (h, m, sec, milli) = (
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000,
        );
        let mut bytes = [0u8; 32];
        let mut put = |at: usize, value: i64, width: usize| {
            let mut v = value;
            for i in (at..at + width).rev() {
                bytes[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, h, 2);
        put(14, m, 2);
        put(17, sec, 2);
        put(20, milli, 3);
        for (at, sep) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ] {
            bytes[at] = sep;
        }
        return IsoTime { len: 24, bytes };
    }
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => IsoTime::new(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => IsoTime::new(&iso(DateTime::<Utc>::UNIX_EPOCH)),
    }
}

/// Year, month, day of a day count since 1970-01-01 (non-negative), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats a time as ISO-8601 UTC with milliseconds.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Formats arrival times ([`iso_millis`]) for one invocation: a time in the same second as
/// the one before it (a Firehose buffer holds tens of records per second) takes that
/// time's text and writes only its milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct ArrivalClock {
    /// The last time formatted by hand, as whole seconds since the epoch (-1: none).
    second: i64,
    time: IsoTime,
}

impl Default for ArrivalClock {
    fn default() -> Self {
        ArrivalClock {
            second: -1,
            time: IsoTime::new(""),
        }
    }
}

impl ArrivalClock {
    /// `ms` as [`iso_millis`] formats it.
    pub fn format(&mut self, ms: i64) -> IsoTime {
        if ms >= 0 && ms / 1000 == self.second {
            let mut time = self.time;
            let milli = ms % 1000;
            time.bytes[20] = b'0' + (milli / 100) as u8;
            time.bytes[21] = b'0' + (milli / 10 % 10) as u8;
            time.bytes[22] = b'0' + (milli % 10) as u8;
            return time;
        }
        let time = iso_millis(ms);
        // Only the hand-made form (years 1970..=9999, 24 bytes) has its milliseconds at 20.
        if ms >= 0 && time.len == 24 {
            self.second = ms / 1000;
            self.time = time;
        }
        time
    }
}

/// Re-formats an RFC 3339 time as UTC with milliseconds (kept as it came when it already
/// is); other text is kept as it came (the index template then rejects it, and Firehose
/// backs the document up).
pub(super) fn normalise_time(value: Cow<'_, str>) -> Cow<'_, str> {
    // Already `YYYY-MM-DDTHH:MM:SS.mmmZ` (the X API's form): kept as it came whether or
    // not the date is valid, so there is nothing to parse.
    if has_canonical_shape(&value) {
        return value;
    }
    match DateTime::parse_from_rfc3339(&value) {
        Ok(t) => {
            let canonical =
                value.len() == 24 && value.ends_with('Z') && t.offset().local_minus_utc() == 0;
            if canonical {
                value
            } else {
                Cow::Owned(iso(t.with_timezone(&Utc)))
            }
        }
        Err(_) => value,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` by shape (digits and separators where they belong), eight
/// bytes at a time: XOR with the shape (`0` in digit places) leaves each byte under 10 in
/// a digit place and 0 in a separator's, checked per byte without carries between bytes
/// (every byte below 0x80, and byte + 0x80 - bound below 0x80).
pub(super) fn has_canonical_shape(value: &str) -> bool {
    const SHAPE: &[u8; 24] = b"0000-00-00T00:00:00.000Z";
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// Per byte, 0x80 - bound: 0x76 (bound 10) in digit places, 0x7F (bound 1) elsewhere.
    const fn adds() -> [u64; 3] {
        let mut out = [0u64; 3];
        let mut i = 0;
        while i < 24 {
            let add: u64 = if SHAPE[i] == b'0' { 0x76 } else { 0x7F };
            out[i / 8] |= add << (8 * (i % 8));
            i += 1;
        }
        out
    }
    const ADDS: [u64; 3] = adds();
    let Ok(bytes) = <&[u8; 24]>::try_from(value.as_bytes()) else {
        return false;
    };
    let word = |of: &[u8; 24], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&of[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    let mut bad = 0;
    for (i, add) in ADDS.iter().enumerate() {
        let x = word(bytes, i) ^ word(SHAPE, i);
        bad |= (x | x.wrapping_add(*add)) & HIGH;
    }
    bad == 0
}
