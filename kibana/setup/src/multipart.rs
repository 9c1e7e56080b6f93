//! A `multipart/form-data` body holding one file, as the saved-objects import takes it.
//!
//! Written by hand (about twenty lines) because a SigV4 signature covers the body's exact
//! bytes: `reqwest::multipart` streams its body and never hands the bytes over to sign,
//! which is also why `curl --aws-sigv4 -F` fails against the domain.

/// A form with one file field.
pub struct Form {
    /// The `content-type` header value, with the boundary.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// A form whose field `field` is the file `filename` holding `content`.
pub fn file_form(field: &str, filename: &str, content_type: &str, content: &[u8]) -> Form {
    let boundary = boundary_for(content);
    let mut body = Vec::with_capacity(content.len() + 256);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Form {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
    }
}

/// A random boundary that does not occur in `content`.
fn boundary_for(content: &[u8]) -> String {
    boundary_from(seed(), content)
}

/// The first of `seed`, `seed + 1`, ... whose boundary does not occur in `content`.
fn boundary_from(seed: u64, content: &[u8]) -> String {
    (0u64..)
        .map(|n| format!("----social-sentiment-{:016x}", seed.wrapping_add(n)))
        .find(|b| !content.windows(b.len()).any(|w| w == b.as_bytes()))
        .expect("some boundary is absent from any finite content")
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_wraps_the_file_exactly() {
        let content = b"{\"a\":1}\n{\"b\":2}\n";
        let form = file_form("file", "dashboards.ndjson", "application/ndjson", content);
        let boundary = form
            .content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8(form.body.clone()).unwrap();
        let expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dashboards.ndjson\"\r\nContent-Type: application/ndjson\r\n\r\n{}\r\n--{boundary}--\r\n",
            std::str::from_utf8(content).unwrap()
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn the_boundary_never_occurs_in_the_content() {
        let first = boundary_from(7, b"");
        assert_eq!(first, "----social-sentiment-0000000000000007");
        let content = format!("x{first}y");
        let second = boundary_from(7, content.as_bytes());
        assert_eq!(second, "----social-sentiment-0000000000000008");
        assert!(!content.contains(&second));
        assert!(!boundary_for(content.as_bytes()).is_empty());
    }
}
