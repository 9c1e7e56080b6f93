//! The reader held to serde_json, case by case.

use super::*;
use crate::json::escape::*;

#[test]
fn specials_finds_the_first_special_byte_of_a_word() {
    let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b; 8];
                word[at] = a;
                let hits = specials(u64::from_le_bytes(word));
                let first = (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize);
                assert_eq!(first, word.iter().position(|&b| special(b)), "{word:?}");
                assert_eq!(hits & !HIGHS, 0);
            }
        }
    }
}

#[test]
fn specials16_flags_exactly_the_special_bytes() {
    for byte in 0..=255u8 {
        for at in 0..16 {
            let mut block = [b'a'; 16];
            block[at] = byte;
            let want = u32::from(byte == b'"' || byte == b'\\' || byte < 0x20) << at;
            assert_eq!(specials16(&block), want, "{block:?}");
        }
    }
}

#[test]
fn next_special_finds_the_first_special_byte_from_any_start() {
    // Every length up to 72, one special byte (or none) at every place, every start.
    for len in 0..72 {
        for at in 0..=len {
            for special in [b'"', b'\\', b'\n', 0x1f] {
                let mut bytes = vec![b'a'; len];
                if at < len {
                    bytes[at] = special;
                }
                // A second special after the first must never be the answer.
                if at + 3 < len {
                    bytes[at + 3] = b'"';
                }
                for from in 0..=len {
                    let want = (from..len).find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f));
                    assert_eq!(next_special(&bytes, from), want, "{bytes:?} from {from}");
                }
            }
        }
    }
}

#[test]
fn needs_escape_sees_a_special_byte_anywhere() {
    for len in 0..72 {
        for at in 0..=len {
            for special in [b'"', b'\\', b'\n', 0x1f, 0] {
                let mut bytes = vec![b'a'; len];
                if at < len {
                    bytes[at] = special;
                }
                assert_eq!(needs_escape(&bytes), at < len, "{bytes:?}");
            }
        }
    }
    assert!(!needs_escape("é 🐱 مرحبا 日本語 \u{7f}".as_bytes()));
}

#[test]
fn amp_and_chars_finds_ampersands_and_counts_characters() {
    let samples = ["", "&", "a", "cats &amp; dogs", "é 🐱 مرحبا 日本語", "🐶&"];
    for sample in samples {
        for times in [1, 3, 17, 300, 5000] {
            for pad in 0..17 {
                let text = format!("{}{}", "x".repeat(pad), sample.repeat(times));
                assert_eq!(
                    amp_and_chars(&text),
                    (text.contains('&'), text.chars().count()),
                    "{sample:?} x{times} after {pad}"
                );
            }
        }
    }
}

/// Both readers on one payload: the scanner may decline, but when it reads, serde
/// must read the same post.
fn agree(json: &str) -> bool {
    let fast = post(json).map(|p| format!("{p:?}"));
    let slow = serde_json::from_str::<StreamPost>(json).map(|p| format!("{p:?}"));
    match (&fast, &slow) {
        (Some(f), Ok(s)) => assert_eq!(f, s, "{json}"),
        (Some(f), Err(e)) => panic!("scanner read {f} where serde said {e}: {json}"),
        (None, _) => {}
    }
    fast.is_some()
}

#[test]
fn reads_what_serde_reads() {
    let full = r#" {"data":{"id":"42","text":"Cats &amp; dogs \"quoted\" \u00e9\ud83d\ude00 \/ \n",
        "created_at":"2023-03-14T15:09:26.000Z","lang":null,"author_id":"7","extra":[1,-2.5e+3,{"a":[true,false,null]},"x\\y"],
        "public_metrics":{"retweet_count":1,"reply_count":0,"like_count":3,"quote_count":4,"bookmark_count":null,"impression_count":100},
        "entities":{"hashtags":[{"start":0,"tag":"Caturday"}],"mentions":[{"username":"Bob","id":"9"}],"urls":[{"url":"u"},2]},
        "attachments":{"media_keys":["3_1"]},"in_reply_to_user_id":"8",
        "referenced_tweets":[{"type":"quoted","id":"9"}]},
        "includes":{"users":[{"id":"7","username":"kitty","name":"K\u0069t","public_metrics":{"followers_count":12,"x":0}}],
                    "media":[{"media_key":"3_1","type":"photo"}],"tweets":[{}]},
        "matching_rules":[{"id":"1","tag":"cats"},{"tag":null}],"source":"x"}
"#;
    assert!(agree(full));
    assert!(agree(
        r#"{"data":{"text":"","id":""},"includes":{},"matching_rules":[]}"#
    ));
    assert!(agree(
        r#"{"data":{"id":"1","text":"a","public_metrics":null}}"#
    ));
}

#[test]
fn declines_what_serde_refuses_or_reads_differently() {
    for json in [
        r#"{"data":{"id":"1","text":"a"}} x"#,
        r#"{"data":{"id":"1","text":"a"},}"#,
        r#"{"data":{"id":"1","text":"a"}"#,
        r#"{"data":{"id":"1"}}"#,
        r#"{"data":{"id":1,"text":"a"}}"#,
        r#"{"data":{"id":"1","id":"2","text":"a"}}"#,
        r#"{"data":{"id":"1","text":"a","public_metrics":{"like_count":1.0}}}"#,
        r#"{"data":{"id":"1","text":"a","public_metrics":{"like_count":-1}}}"#,
        r#"{"data":{"id":"1","text":"a","public_metrics":{"like_count":01}}}"#,
        r#"{"data":{"id":"1","text":"a","public_metrics":{"like_count":18446744073709551616}}}"#,
        r#"{"data":{"id":"1","text":"a\ud800"}}"#,
        r#"{"data":{"id":"1","text":"a	b"}}"#,
        r#"{"data":{"id":"1","text":"a"},"matching_rules":null}"#,
        r#"{"data":{"id":"1","text":"a"},"x":[1,]}"#,
        r#"{"data":{"id":"1","text":"a"},"x":-}"#,
        r#"{"data":{"id":"1","text":"a"},"x":1.}"#,
        r#"{"data":{"id":"1","text":"a"},"x":tru}"#,
        r#"{"d\u0061ta":{"id":"1","text":"a"}}"#,
        r#"[{"id":"1","text":"a"}]"#,
        "",
    ] {
        assert!(!agree(json), "scanner should decline: {json}");
    }
}

#[test]
fn keys_in_any_order_and_spacing_read_alike() {
    // The usual order (every key guessed), the reverse (every key searched), spaced
    // keys and names that only start like a known one.
    let fields = [
        r#""author_id":"7""#,
        r#""conversation_id":"42""#,
        r#""created_at":"2023-03-14T15:09:26.000Z""#,
        r#""edit_history_tweet_ids":["42"]"#,
        r#""id":"42""#,
        r#""lang":"en""#,
        r#""possibly_sensitive":false"#,
        r#""public_metrics":{"retweet_count":1,"reply_count":2,"like_count":3,"quote_count":4,"bookmark_count":5,"impression_count":6}"#,
        r#""source":"web""#,
        r#""text":"a \"b\"""#,
        r#""entities":{"hashtags":[{"start":0,"end":2,"tag":"Cat"}],"mentions":[{"start":3,"end":5,"username":"Bob","id":"9"}]}"#,
        r#""referenced_tweets":[{"type":"quoted","id":"9"}]"#,
    ];
    let rest = r#""includes":{"users":[{"created_at":"x","id":"7","name":"K","public_metrics":{"followers_count":12,"following_count":1},"username":"k"}]},"matching_rules":[{"id":"1","tag":"cats"}]"#;
    let post_of = |data: &[&str]| format!(r#"{{"data":{{{}}},{rest}}}"#, data.join(","));
    let usual = post_of(&fields);
    let reversed: Vec<&str> = fields.iter().rev().copied().collect();
    let reversed = post_of(&reversed);
    let spaced = usual
        .replace(r#""id":"#, r#""id" : "#)
        .replace(r#""tag":"#, "\"tag\"\n:");
    let lookalikes = usual.replace(r#""lang":"#, r#""lang":"xx","langs":"#);
    let read = |json: &str| post(json).map(|p| format!("{p:?}"));
    for json in [&usual, &reversed, &spaced, &lookalikes] {
        assert!(agree(json), "{json}");
    }
    assert_eq!(read(&usual), read(&reversed));
    assert_eq!(read(&usual), read(&spaced));
    // A model field twice is left to serde (which refuses it), guessed or searched;
    // a key read past may repeat, as serde allows.
    for twice in [r#""lang":"en","lang":"de""#, r#""text":"a","id":"42""#] {
        let json = usual.replace(r#""lang":"en""#, twice);
        assert!(!agree(&json), "{json}");
    }
    let json = usual.replace(r#""source":"web""#, r#""source":"web","source":"app""#);
    assert!(agree(&json), "{json}");
}

#[test]
fn deep_skipped_values_are_read_or_declined() {
    for depth in [1, 30, 60, 61, 62, 63, 64, 65, 100, 200] {
        let nested = format!("{}{}{}", "[{\"a\":".repeat(depth), "1", "}]".repeat(depth));
        let json = format!(r#"{{"data":{{"id":"1","text":"a","x":{nested}}},"y":[[]]}}"#);
        let read = agree(&json);
        assert_eq!(read, depth <= 30, "depth {depth}");
    }
}

#[test]
fn every_cut_of_a_post_is_declined_or_agreed() {
    let full = r#"{"data":{"id":"42","text":"a \"b\" \u00e9","public_metrics":{"like_count":3},"x":[1.5e3,null]},"matching_rules":[{"tag":"cats"}]}"#;
    for end in 0..full.len() {
        agree(&full[..end]);
    }
    assert!(agree(full));
}
