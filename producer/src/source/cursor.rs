//! The cursor file of a live source: one number, the position of the last post Firehose
//! accepted (Jetstream's `time_us`, a Mastodon status id), so a restart resumes there.

use std::path::Path;

/// Reads the cursor file; `None` when it is missing or not a number.
pub fn read_cursor(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes the cursor file atomically (temporary file, then rename).
pub fn write_cursor(path: &Path, cursor: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{cursor}\n"))?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_file_round_trips() {
        let path = std::env::temp_dir().join(format!("source-cursor-{}", std::process::id()));
        write_cursor(&path, 42).unwrap();
        assert_eq!(read_cursor(&path), Some(42));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read_cursor(&path), None);
    }
}
