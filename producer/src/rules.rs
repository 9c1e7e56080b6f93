//! Stream rules with tags, from one JSON file shared by every source.
//!
//! `value` is the X filtered-stream query; `keywords` / `regex` match posts locally for
//! sources without server-side rules (Bluesky Jetstream, Mastodon); `hashtags` are the
//! Mastodon hashtag streams (else the one-word keywords). The tag becomes the post's
//! `matching_rules[].tag`, which the transform turns into `category`.
//!
//! ```json
//! {"rules": [
//!   {"tag": "cats", "value": "(cat OR cats OR kitten) has:images -is:retweet", "keywords": ["cat", "cats", "kitten"]},
//!   {"tag": "dogs", "value": "(dog OR dogs OR puppy) has:images -is:retweet", "regex": "\\b(dogs?|pupp(y|ies))\\b"}
//! ]}
//! ```

use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file cannot be read.
    #[error("cannot read rules file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the expected JSON.
    #[error("rules file {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One tagged rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The tag (category), e.g. `cats`.
    pub tag: String,
    /// X filtered-stream rule query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Local matching: any of these words, case-insensitive, on word boundaries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Local matching: a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Mastodon: the hashtags to stream (`#` optional); without them, the one-word
    /// keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashtags: Vec<String>,
}

impl Rule {
    /// Its Mastodon hashtags, without `#` and lowercased: `hashtags`, else `keywords`.
    pub fn mastodon_hashtags(&self) -> Vec<String> {
        let words = match self.hashtags.is_empty() {
            false => &self.hashtags,
            true => &self.keywords,
        };
        words
            .iter()
            .map(|w| w.trim_start_matches('#').to_lowercase())
            .collect()
    }
}

/// The rules of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// Reads and checks a rules file.
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| RulesError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and checks rules JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let set: RuleSet = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if set.rules.is_empty() {
            return Err("no rules".into());
        }
        for (i, rule) in set.rules.iter().enumerate() {
            if rule.tag.trim().is_empty() {
                return Err(format!("rule {} has an empty tag", i + 1));
            }
            if rule.value.is_none()
                && rule.keywords.is_empty()
                && rule.regex.is_none()
                && rule.hashtags.is_empty()
            {
                return Err(format!(
                    "rule {} ({}) needs a value, keywords, a regex or hashtags",
                    i + 1,
                    rule.tag
                ));
            }
        }
        Ok(set)
    }

    /// The X rules: (value, tag) of every rule with a `value`.
    pub fn x_rules(&self) -> Vec<(String, String)> {
        self.rules
            .iter()
            .filter_map(|r| r.value.clone().map(|v| (v, r.tag.clone())))
            .collect()
    }
}

/// Rules from `--rule TAG=QUERY` flags.
pub fn from_flags(flags: &[String]) -> Result<RuleSet, String> {
    let rules = flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((tag, query)) if !tag.trim().is_empty() && !query.trim().is_empty() => Ok(Rule {
                tag: tag.trim().to_string(),
                value: Some(query.trim().to_string()),
                keywords: Vec::new(),
                regex: None,
                hashtags: Vec::new(),
            }),
            _ => Err(format!(
                "--rule {f:?}: expected TAG=QUERY, e.g. cats=\"cat has:images\""
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RuleSet { rules })
}

/// Matches post texts against the local rules.
#[derive(Debug, Clone)]
pub struct LocalMatcher {
    rules: Vec<(String, Regex)>,
}

impl LocalMatcher {
    /// Compiles the rules that have keywords or a regex.
    pub fn new(set: &RuleSet) -> Result<Self, String> {
        let mut rules = Vec::new();
        for rule in &set.rules {
            let mut patterns = Vec::new();
            if !rule.keywords.is_empty() {
                let words: Vec<String> = rule.keywords.iter().map(|k| regex::escape(k)).collect();
                patterns.push(format!(r"(?i)\b(?:{})\b", words.join("|")));
            }
            if let Some(re) = &rule.regex {
                patterns.push(format!("(?i:{re})"));
            }
            if patterns.is_empty() {
                continue;
            }
            let re = Regex::new(&patterns.join("|"))
                .map_err(|e| format!("rule {}: bad regex: {e}", rule.tag))?;
            rules.push((rule.tag.clone(), re));
        }
        if rules.is_empty() {
            return Err("no rule has keywords or a regex to match posts locally".into());
        }
        Ok(LocalMatcher { rules })
    }

    /// The tags of the rules `text` matches, in rule order.
    pub fn matches<'a>(&'a self, text: &str) -> Vec<&'a str> {
        self.rules
            .iter()
            .filter(|(_, re)| re.is_match(text))
            .map(|(tag, _)| tag.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"{"rules": [
        {"tag": "cats", "value": "cat has:images", "keywords": ["cat", "cats", "kitten"]},
        {"tag": "dogs", "value": "dog has:images", "regex": "\\b(dogs?|pupp(y|ies))\\b"},
        {"tag": "x-only", "value": "birds"}
    ]}"#;

    #[test]
    fn local_rules_match_words_case_insensitively() {
        let set = RuleSet::parse(RULES).unwrap();
        let m = LocalMatcher::new(&set).unwrap();
        assert_eq!(m.matches("My CAT and my Puppies"), vec!["cats", "dogs"]);
        assert_eq!(m.matches("concatenate dogma"), Vec::<&str>::new());
        assert_eq!(m.matches("a kitten!"), vec!["cats"]);
        assert_eq!(set.x_rules().len(), 3);
    }

    #[test]
    fn rules_come_from_flags_too() {
        let set =
            from_flags(&["cats=cat has:images".into(), "dogs = dog OR puppy".into()]).unwrap();
        assert_eq!(
            set.x_rules(),
            vec![
                ("cat has:images".to_string(), "cats".to_string()),
                ("dog OR puppy".to_string(), "dogs".to_string())
            ]
        );
        assert!(from_flags(&["no-equals".into()])
            .unwrap_err()
            .contains("expected TAG=QUERY"));
        assert!(from_flags(&["=x".into()]).is_err());
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        assert!(RuleSet::parse(r#"{"rules": []}"#)
            .unwrap_err()
            .contains("no rules"));
        assert!(RuleSet::parse(r#"{"rules": [{"tag": "a"}]}"#)
            .unwrap_err()
            .contains("needs a value, keywords, a regex or hashtags"));
        assert!(RuleSet::parse(r#"{"rules": [{"tag": " ", "value": "x"}]}"#)
            .unwrap_err()
            .contains("empty tag"));
        let set = RuleSet::parse(r#"{"rules": [{"tag": "a", "regex": "("}]}"#).unwrap();
        assert!(LocalMatcher::new(&set).unwrap_err().contains("bad regex"));
    }
}
