//! Files the commands write for their users (openings, maps, credentials, a financier's
//! book, a validators file): created only where nothing is, or replaced whole. A file that
//! cannot be written is a failure to ask (exit 2), naming the file.

use crate::node_client::CannotAsk;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Writes a new file, refusing to overwrite one.
pub fn create(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
            CannotAsk(format!("cannot create {} (it must not exist): {e}", path.display()))
        })?;
    f.write_all(bytes).map_err(|e| CannotAsk(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

/// Replaces a file whole: a new file renamed over the old one, so a reader never sees half
/// of it.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.new", path.display()));
    let fail = |e: std::io::Error| CannotAsk(format!("cannot write {}: {e}", path.display()));
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}
