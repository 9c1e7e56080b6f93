//! Text and list normalisation: lower-casing without a copy when nothing changes,
//! de-duplicated lists in first-seen order, the HTML entities X puts in post text.

use std::borrow::Cow;

use crate::post::List;

/// Lower-cases ASCII letters, borrowing when there are none to change.
pub(super) fn ascii_lower(value: Cow<'_, str>) -> Cow<'_, str> {
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(value.to_ascii_lowercase())
    } else {
        value
    }
}

/// Lower-cases (Unicode), borrowing when nothing changes.
pub(super) fn lower(value: Cow<'_, str>) -> Cow<'_, str> {
    if value.chars().any(char::is_uppercase) {
        Cow::Owned(value.to_lowercase())
    } else {
        value
    }
}

/// `items` after `normalise`, without empty ones and later repeats, in first-seen order,
/// in the list they came in.
pub(super) fn unique<'a>(
    mut items: List<Cow<'a, str>, 2>,
    normalise: impl Fn(Cow<'a, str>) -> Cow<'a, str>,
) -> List<Cow<'a, str>, 2> {
    if let [one] = items.as_mut_slice() {
        // One item (the usual rule tag, a lone hashtag): nothing to compare.
        *one = normalise(std::mem::take(one));
        if one.is_empty() {
            items.clear();
        }
        return items;
    }
    let mut kept = 0;
    for i in 0..items.len() {
        let item = normalise(std::mem::take(&mut items[i]));
        if !item.is_empty() && !items[..kept].contains(&item) {
            items[kept] = item;
            kept += 1;
        }
    }
    items.truncate(kept);
    items
}

/// Decodes the HTML entities the X API puts in post text (`&amp;`, `&lt;`, `&gt;`, and
/// for robustness `&quot;`, `&apos;`, `&#NN;`, `&#xHH;`). Anything else is kept as is.
pub fn decode_entities(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains('&') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        match decode_one(rest) {
            Some((ch, used)) => {
                out.push(ch);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Decodes the entity at the start of `s` (which starts with `&`): the character and the
/// bytes it used.
fn decode_one(s: &str) -> Option<(char, usize)> {
    // The longest entity we decode is `&#x10FFFF;` (10 bytes).
    let semi = s.bytes().take(11).position(|b| b == b';')?;
    let name = &s[1..semi];
    let ch = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')?
        }
    };
    Some((ch, semi + 1))
}
