//! Synthetic posts, shaped as the producer sends them: X API v2 filtered-stream objects
//! (data with public metrics, entities, referenced tweets, attachments, a place;
//! includes with users, media and places; the matching rules) and Bluesky posts mapped
//! by the producer (`source: bluesky`). Both tags and posts matching both, emoji, JSON
//! escapes, HTML entities, URLs and mentions, eight languages, retweets; a timeline of
//! event times at a steady rate with bursts of one tag on request. The same seed gives
//! the same posts, byte for byte (ChaCha8, whose stream is fixed across versions).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Which shapes to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// X API v2 posts only.
    X,
    /// Bluesky posts only.
    Bluesky,
    /// Both; this share Bluesky.
    Mixed(f64),
}

/// A burst: `tag` posts `factor` times as often for `duration_secs` from `start_secs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    /// The tag that bursts.
    pub tag: String,
    /// Seconds after the start of the timeline.
    pub start_secs: f64,
    /// How long.
    pub duration_secs: f64,
    /// How many times its usual rate.
    pub factor: f64,
}

impl std::str::FromStr for Burst {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = || {
            format!(
                "burst {s:?}: expected TAG:START_SECS:DURATION_SECS:FACTOR, e.g. dogs:3600:600:8"
            )
        };
        let [tag, start, duration, factor] = parts[..] else {
            return Err(bad());
        };
        let num = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0);
        let (Some(start_secs), Some(duration_secs), Some(factor)) =
            (num(start), num(duration), num(factor))
        else {
            return Err(bad());
        };
        if factor < 1.0 {
            return Err(bad());
        }
        if !TAGS.contains(&tag) {
            return Err(format!(
                "burst {s:?}: unknown tag {tag:?}: the posts carry {}",
                TAGS.join(" or ")
            ));
        }
        Ok(Burst {
            tag: tag.to_string(),
            start_secs,
            duration_secs,
            factor,
        })
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The seed.
    pub seed: u64,
    /// Posts of the steady timeline (bursts add to them).
    pub count: usize,
    /// Shapes.
    pub shape: Shape,
    /// Event time of the timeline's start, ms since the epoch.
    pub start_ms: i64,
    /// Posts per second of event time, steady.
    pub per_second: f64,
    /// Bursts.
    pub bursts: Vec<Burst>,
    /// Share of X posts with a place.
    pub places: f64,
    /// Share of placed posts that also carry exact coordinates.
    pub coordinates: f64,
    /// Share of retweets.
    pub retweets: f64,
    /// Share of posts matching both tags.
    pub both: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            count: 2000,
            shape: Shape::Mixed(0.2),
            start_ms: 1_764_583_200_000, // 2025-12-01T10:00:00Z
            per_second: 1.0,
            bursts: Vec::new(),
            places: 0.0,
            coordinates: 0.3,
            retweets: 0.08,
            both: 0.04,
        }
    }
}

/// One generated post.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// The payload, one line of JSON (no newline).
    pub json: String,
    /// Its rule tags.
    pub tags: Vec<&'static str>,
    /// Event time, ms since the epoch.
    pub created_ms: i64,
    /// `x` or `bluesky`.
    pub source: &'static str,
    /// Its language.
    pub lang: &'static str,
}

const TAGS: [&str; 2] = ["cats", "dogs"];

/// Texts per language: (cats subjects, dogs subjects, positive, negative, neutral).
struct Words {
    lang: &'static str,
    cats: &'static [&'static str],
    dogs: &'static [&'static str],
    good: &'static [&'static str],
    bad: &'static [&'static str],
    plain: &'static [&'static str],
}

const LANGS: [(Words, u32); 8] = [
    (
        Words {
            lang: "en",
            cats: &[
                "my cat",
                "this kitten",
                "our cat",
                "the neighbour's cat",
                "my kitty",
            ],
            dogs: &[
                "my dog",
                "this puppy",
                "our dog",
                "the pup next door",
                "my doggo",
            ],
            good: &[
                "is the best",
                "is so cute",
                "is adorable",
                "made my day",
                "is such a good friend",
                "is perfect",
            ],
            bad: &[
                "is so annoying",
                "is terrible today",
                "broke my favourite mug",
                "is a menace",
                "woke me at 5am again",
            ],
            plain: &[
                "is at the vet",
                "is asleep",
                "went outside",
                "is eating",
                "sat on the keyboard",
            ],
        },
        60,
    ),
    (
        Words {
            lang: "es",
            cats: &["mi gato", "este gatito"],
            dogs: &["mi perro", "este cachorro"],
            good: &["es precioso", "es el mejor"],
            bad: &["es terrible", "rompió todo"],
            plain: &["duerme", "está en casa"],
        },
        8,
    ),
    (
        Words {
            lang: "pt",
            cats: &["meu gato", "esse gatinho"],
            dogs: &["meu cachorro", "esse filhote"],
            good: &["é lindo", "é o melhor"],
            bad: &["é terrível", "destruiu o sofá"],
            plain: &["está dormindo", "comeu"],
        },
        6,
    ),
    (
        Words {
            lang: "de",
            cats: &["meine Katze", "dieses Kätzchen"],
            dogs: &["mein Hund", "dieser Welpe"],
            good: &["ist wunderbar", "ist so süß"],
            bad: &["ist furchtbar", "bellt die ganze Nacht"],
            plain: &["schläft", "ist draußen"],
        },
        6,
    ),
    (
        Words {
            lang: "fr",
            cats: &["mon chat", "ce chaton"],
            dogs: &["mon chien", "ce chiot"],
            good: &["est adorable", "est génial"],
            bad: &["est insupportable", "a tout cassé"],
            plain: &["dort", "mange"],
        },
        6,
    ),
    (
        Words {
            lang: "ja",
            cats: &["うちの猫", "子猫"],
            dogs: &["うちの犬", "子犬"],
            good: &["がかわいい", "が最高"],
            bad: &["がうるさい", "が困る"],
            plain: &["が寝ている", "が散歩中"],
        },
        6,
    ),
    (
        Words {
            lang: "ar",
            cats: &["قطتي", "هذه القطة"],
            dogs: &["كلبي", "هذا الجرو"],
            good: &["جميلة جدا", "رائع"],
            bad: &["مزعج جدا", "سيء"],
            plain: &["نائم", "في البيت"],
        },
        4,
    ),
    (
        Words {
            lang: "it",
            cats: &["il mio gatto", "questo gattino"],
            dogs: &["il mio cane", "questo cucciolo"],
            good: &["è bellissimo", "è il migliore"],
            bad: &["è terribile", "ha rotto tutto"],
            plain: &["dorme", "mangia"],
        },
        4,
    ),
];

const EMOJI_GOOD: [&str; 6] = ["😻", "🐶", "❤️", "😍", "🥰", "✨"];
const EMOJI_BAD: [&str; 4] = ["😡", "😤", "🙄", "😢"];
const CAT_TAGS: [&str; 3] = ["CatsOfTwitter", "caturday", "kitten"];
const DOG_TAGS: [&str; 3] = ["DogsOfTwitter", "puppy", "GoodBoy"];
const MEDIA: [&str; 3] = ["photo", "video", "animated_gif"];
const BIOS: [&str; 4] = [
    "just here for the animal pics",
    "dog mum 🐶 | coffee | she/her",
    "cats > people. opinions my own",
    "photographer · rescue volunteer · \"adopt, don't shop\"",
];

/// A place: id, name, full name, country code, type, bbox (west, south, east, north).
type Place = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    [f64; 4],
);

/// Places posts can come from.
const PLACES: [Place; 8] = [
    (
        "01a9a39529b27f36",
        "Manhattan",
        "Manhattan, NY",
        "US",
        "city",
        [-74.026675, 40.683935, -73.910408, 40.877483],
    ),
    (
        "011add077f4d2da3",
        "Brooklyn",
        "Brooklyn, NY",
        "US",
        "city",
        [-74.041878, 40.570842, -73.855673, 40.739434],
    ),
    (
        "00c39537733fa112",
        "Queens",
        "Queens, NY",
        "US",
        "city",
        [-73.962582, 40.541722, -73.699793, 40.800037],
    ),
    (
        "002e24c6736f069d",
        "The Bronx",
        "Bronx, NY",
        "US",
        "city",
        [-73.933612, 40.785365, -73.765271, 40.91533],
    ),
    (
        "457b4814b4240d87",
        "London",
        "London, England",
        "GB",
        "city",
        [-0.187894, 51.483718, -0.109978, 51.5164],
    ),
    (
        "09f6a7707f18e0b1",
        "Paris",
        "Paris, France",
        "FR",
        "city",
        [2.224101, 48.815573, 2.469920, 48.902145],
    ),
    (
        "5b5a7a1b9b0e4c3d",
        "Tokyo",
        "Tokyo, Japan",
        "JP",
        "admin",
        [139.562607, 35.528874, 139.919666, 35.817813],
    ),
    (
        "68e019afec7d0ba5",
        "São Paulo",
        "São Paulo, Brasil",
        "BR",
        "city",
        [-46.826039, -24.008814, -46.365052, -23.356792],
    ),
];

/// Generates posts for `options`, in event-time order.
pub fn posts(options: &Options) -> Vec<Post> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    // The timeline: steady arrivals, then each burst's extra posts, merged by time.
    let mut times: Vec<(f64, Option<&'static str>)> = Vec::with_capacity(options.count);
    let gap = 1.0 / options.per_second.max(1e-9);
    let mut t = 0.0;
    for _ in 0..options.count {
        t += -gap * (1.0 - rng.random::<f64>()).ln();
        times.push((t, None));
    }
    for burst in &options.bursts {
        let tag = TAGS
            .iter()
            .copied()
            .find(|t| *t == burst.tag)
            .unwrap_or(TAGS[0]);
        let share = 0.5; // each tag's usual share of the stream
        let extra = ((burst.factor - 1.0) * share * options.per_second * burst.duration_secs)
            .round() as usize;
        for _ in 0..extra {
            times.push((
                burst.start_secs + rng.random::<f64>() * burst.duration_secs,
                Some(tag),
            ));
        }
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    times
        .into_iter()
        .enumerate()
        .map(|(n, (secs, forced))| {
            one(
                &mut rng,
                options,
                n,
                options.start_ms + (secs * 1000.0) as i64,
                forced,
            )
        })
        .collect()
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn language(rng: &mut ChaCha8Rng) -> &'static Words {
    let total: u32 = LANGS.iter().map(|(_, w)| w).sum();
    let mut r = rng.random_range(0..total);
    for (words, weight) in &LANGS {
        if r < *weight {
            return words;
        }
        r -= weight;
    }
    &LANGS[0].0
}

fn one(
    rng: &mut ChaCha8Rng,
    o: &Options,
    n: usize,
    created_ms: i64,
    forced: Option<&'static str>,
) -> Post {
    let bluesky = match o.shape {
        Shape::X => false,
        Shape::Bluesky => true,
        Shape::Mixed(share) => rng.random_bool(share.clamp(0.0, 1.0)),
    };
    let tags: Vec<&'static str> = match forced {
        Some(tag) => vec![tag],
        None if rng.random_bool(o.both.clamp(0.0, 1.0)) => TAGS.to_vec(),
        None => vec![pick(rng, &TAGS)],
    };
    let words = language(rng);
    let mood: u8 = rng.random_range(0..10);
    let mut text = String::new();
    for (i, tag) in tags.iter().enumerate() {
        if i > 0 {
            text.push_str(if words.lang == "en" { " and " } else { " & " });
        }
        text.push_str(pick(
            rng,
            if *tag == "cats" {
                words.cats
            } else {
                words.dogs
            },
        ));
    }
    text.push(' ');
    text.push_str(match mood {
        0..=4 => pick(rng, words.good),
        5..=7 => pick(rng, words.plain),
        _ => pick(rng, words.bad),
    });
    if rng.random_bool(0.5) {
        text.push(' ');
        text.push_str(pick(
            rng,
            if mood < 5 {
                &EMOJI_GOOD[..]
            } else {
                &EMOJI_BAD[..]
            },
        ));
    }
    // The ugly parts real posts have.
    match rng.random_range(0..20) {
        0 => text.push_str(" &amp; more"),
        1 => text.push_str(" \"really\""),
        2 => text.push_str("\nsecond line"),
        3 => text.push_str(" (back\\slash)"),
        4 => text.insert_str(0, &format!("@friend_{} ", rng.random_range(1..500))),
        _ => {}
    }
    let url = rng
        .random_bool(0.15)
        .then(|| format!("https://t.co/{:010x}", rng.random::<u64>() & 0xff_ffff_ffff));
    if let Some(u) = &url {
        text.push(' ');
        text.push_str(u);
    }
    let mut hashtags = Vec::new();
    if rng.random_bool(0.4) {
        for tag in &tags {
            let h = pick(
                rng,
                if *tag == "cats" {
                    &CAT_TAGS[..]
                } else {
                    &DOG_TAGS[..]
                },
            );
            let start = text.chars().count() + 1;
            text.push_str(&format!(" #{h}"));
            hashtags.push(json!({"start": start, "end": start + 1 + h.chars().count(), "tag": h}));
        }
    }
    let retweet = !bluesky && rng.random_bool(o.retweets.clamp(0.0, 1.0));
    if retweet {
        text = format!("RT @user_{}: {text}", rng.random_range(1..9999));
    }
    let rules: Vec<Value> = tags
        .iter()
        .map(|t| json!({"id": format!("{}-rule", t), "tag": t}))
        .collect();
    let created = iso(created_ms);
    let json = if bluesky {
        let did = format!("did:plc:{:024x}", rng.random::<u128>() >> 32);
        json!({
            "source": "bluesky",
            "data": {
                "id": format!("at://{did}/app.bsky.feed.post/3l{:011}", n),
                "text": text,
                "author_id": did,
                "created_at": created,
                "lang": words.lang,
            },
            "includes": {"users": [{"id": did}]},
            "matching_rules": tags.iter().map(|t| json!({"id": format!("local-{t}"), "tag": t})).collect::<Vec<_>>(),
        })
    } else {
        x_post(
            rng,
            o,
            n,
            &text,
            &created,
            words.lang,
            retweet,
            url.as_deref(),
            hashtags,
            rules,
        )
    };
    Post {
        json: json.to_string(),
        tags,
        created_ms,
        source: if bluesky { "bluesky" } else { "x" },
        lang: words.lang,
    }
}

#[allow(clippy::too_many_arguments)] // the parts of one post
fn x_post(
    rng: &mut ChaCha8Rng,
    o: &Options,
    n: usize,
    text: &str,
    created: &str,
    lang: &str,
    retweet: bool,
    url: Option<&str>,
    hashtags: Vec<Value>,
    rules: Vec<Value>,
) -> Value {
    let id = format!("{}", 1_860_000_000_000_000_000u64 + n as u64 * 7919);
    let author = format!("{}", 1_000_000_000u64 + rng.random_range(0..900_000_000u64));
    let heavy = |rng: &mut ChaCha8Rng, scale: f64| {
        (scale * (1.0 / (1.0 - rng.random::<f64>() * 0.999) - 1.0)) as u64
    };
    let likes = heavy(rng, 8.0);
    let mut data = json!({
        "id": id,
        "text": text,
        "created_at": created,
        "lang": lang,
        "author_id": author,
        "conversation_id": id,
        "edit_history_tweet_ids": [id],
        "possibly_sensitive": false,
        "reply_settings": "everyone",
        "edit_controls": {"edits_remaining": 5, "is_edit_eligible": true, "editable_until": created},
        "context_annotations": [
            {"domain": {"id": "45", "name": "Brand Vertical", "description": "Top level entities that describe a Brands industry"},
             "entity": {"id": "781974596165640193", "name": "Pets"}},
            {"domain": {"id": "65", "name": "Interests and Hobbies Vertical", "description": "Top level interests and hobbies groupings, like Food or Travel"},
             "entity": {"id": "852262932607926273", "name": "Pets & animals"}}
        ],
        "public_metrics": {
            "retweet_count": heavy(rng, 1.5),
            "reply_count": heavy(rng, 1.0),
            "like_count": likes,
            "quote_count": heavy(rng, 0.3),
            "bookmark_count": heavy(rng, 0.5),
            "impression_count": likes * 20 + rng.random_range(0..500),
        },
    });
    let mut entities = serde_json::Map::new();
    if !hashtags.is_empty() {
        entities.insert("hashtags".into(), Value::Array(hashtags));
    }
    if let Some(u) = url {
        let start = text.chars().count() - u.chars().count();
        entities.insert(
            "urls".into(),
            json!([{"start": start, "end": start + u.chars().count(), "url": u, "expanded_url": "https://example.com/pets", "display_url": "example.com/pets"}]),
        );
    }
    if !entities.is_empty() {
        data["entities"] = Value::Object(entities);
    }
    if retweet {
        data["referenced_tweets"] = json!([{"type": "retweeted", "id": format!("{}", 1_850_000_000_000_000_000u64 + n as u64)}]);
    }
    let mut includes = json!({
        "users": [{
            "id": author,
            "username": format!("pet_person_{}", rng.random_range(1..100_000)),
            "name": "Pet Person",
            "created_at": "2019-05-04T12:00:00.000Z",
            "description": pick(rng, &BIOS),
            "location": pick(rng, &["Berlin", "Brooklyn, NY", "London", "São Paulo", "東京", "somewhere with my pets"]),
            "profile_image_url": format!("https://pbs.twimg.com/profile_images/{}/photo_normal.jpg", 1_500_000_000_000_000_000u64 + n as u64),
            "verified": false,
            "protected": false,
            "public_metrics": {"followers_count": heavy(rng, 200.0), "following_count": rng.random_range(0..2000), "tweet_count": rng.random_range(1..50_000), "listed_count": 0},
        }]
    });
    if rng.random_bool(0.3) {
        let key = format!("3_{}", 1_700_000_000_000_000_000u64 + n as u64);
        data["attachments"] = json!({"media_keys": [key]});
        includes["media"] = json!([{"media_key": key, "type": pick(rng, &MEDIA)}]);
    }
    if rng.random_bool(o.places.clamp(0.0, 1.0)) {
        let (pid, name, full, cc, kind, bbox) = pick(rng, &PLACES);
        let mut geo = json!({"place_id": pid});
        if rng.random_bool(o.coordinates.clamp(0.0, 1.0)) {
            let lon = bbox[0] + rng.random::<f64>() * (bbox[2] - bbox[0]);
            let lat = bbox[1] + rng.random::<f64>() * (bbox[3] - bbox[1]);
            geo["coordinates"] =
                json!({"type": "Point", "coordinates": [round6(lon), round6(lat)]});
        }
        data["geo"] = geo;
        includes["places"] = json!([{
            "id": pid, "name": name, "full_name": full, "country_code": cc, "place_type": kind,
            "geo": {"type": "Feature", "bbox": bbox, "properties": {}},
        }]);
    }
    json!({"data": data, "includes": includes, "matching_rules": rules})
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_posts_and_another_seed_others() {
        let o = Options {
            count: 200,
            ..Options::default()
        };
        let a = posts(&o);
        assert_eq!(a, posts(&o));
        let b = posts(&Options {
            seed: 2,
            ..o.clone()
        });
        assert_ne!(a, b);
        assert_eq!(a.len(), 200);
        assert!(a.windows(2).all(|w| w[0].created_ms <= w[1].created_ms));
        for p in &a {
            let v: Value = serde_json::from_str(&p.json).unwrap();
            assert!(v["data"]["text"].is_string());
            assert_eq!(v["matching_rules"].as_array().unwrap().len(), p.tags.len());
        }
        let sources: std::collections::BTreeSet<&str> = a.iter().map(|p| p.source).collect();
        assert_eq!(sources.into_iter().collect::<Vec<_>>(), ["bluesky", "x"]);
        assert!(
            a.iter().any(|p| p.tags.len() == 2),
            "some posts match both tags"
        );
        assert!(
            a.iter().filter(|p| p.lang != "en").count() > 40,
            "many languages"
        );
    }

    #[test]
    fn a_burst_adds_posts_of_its_tag_in_its_window_only() {
        let burst: Burst = "dogs:1000:100:9".parse().unwrap();
        let o = Options {
            count: 2000,
            per_second: 1.0,
            bursts: vec![burst],
            shape: Shape::X,
            ..Options::default()
        };
        let all = posts(&o);
        let in_window = |p: &Post| (1_000_000..1_100_000).contains(&(p.created_ms - o.start_ms));
        let dogs_in = all
            .iter()
            .filter(|p| in_window(p) && p.tags.contains(&"dogs"))
            .count();
        let cats_in = all
            .iter()
            .filter(|p| in_window(p) && p.tags == ["cats"])
            .count();
        // About 50 dogs of 100 steady posts, plus 400 from the burst.
        assert!(
            dogs_in > 350 && cats_in < 80,
            "dogs {dogs_in}, cats {cats_in}"
        );
        assert!("dogs:1:2".parse::<Burst>().is_err());
        assert!("dogs:1:2:0.5".parse::<Burst>().is_err());
        assert!("birds:1:2:3"
            .parse::<Burst>()
            .unwrap_err()
            .contains("unknown tag"));
    }

    #[test]
    fn places_come_with_an_include_and_sometimes_a_point() {
        let o = Options {
            count: 300,
            places: 1.0,
            coordinates: 0.5,
            shape: Shape::X,
            ..Options::default()
        };
        let all: Vec<Value> = posts(&o)
            .iter()
            .map(|p| serde_json::from_str(&p.json).unwrap())
            .collect();
        assert!(all
            .iter()
            .all(|v| v["data"]["geo"]["place_id"] == v["includes"]["places"][0]["id"]));
        let points = all
            .iter()
            .filter(|v| v["data"]["geo"]["coordinates"].is_object())
            .count();
        assert!(points > 100 && points < 200, "{points}");
    }
}
