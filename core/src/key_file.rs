//! Secret key files: a 32-byte Ed25519 seed as 64 hex digits, readable by its owner only.
//!
//! Every key the `omni` tools make — a party key (`omni keys generate`, `omni node init`),
//! a registry administrator's key, a validator's consensus key — is written here: to a
//! new file (an existing one is never overwritten), with mode 0600 on Unix. Reading one
//! refuses a file that others may read or write, naming the fix, because a key anyone on
//! the host can read signs for the organisation.

use std::io::Write;
use std::path::Path;

/// Writes `seed` to the new file `path`, owner-only.
pub fn write(path: &Path, seed: &[u8; 32]) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads the seed in `path`, refusing a file others may read or write, or that does not
/// hold 64 hex digits.
pub fn read(path: &Path) -> Result<[u8; 32], String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    check_private(path)?;
    let bytes = hex::decode(text.trim())
        .map_err(|e| format!("{}: the key seed is not hex: {e}", path.display()))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        format!("{}: a key seed is 32 bytes, this one {}", path.display(), b.len())
    })
}

/// Refuses a key file that others than its owner may read or write.
fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} may be read or written by others (mode {:04o}): a key file must be its \
                 owner's alone; run `chmod 600 {}`",
                path.display(),
                mode & 0o7777,
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_private_once_and_read_only_when_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        write(&path, &[7; 32]).unwrap();
        assert_eq!(read(&path).unwrap(), [7; 32]);
        // Never overwritten.
        assert!(write(&path, &[8; 32]).unwrap_err().contains("cannot write"));
        assert_eq!(read(&path).unwrap(), [7; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = read(&path).unwrap_err();
            assert!(err.contains("chmod 600") && err.contains("0644"), "{err}");
        }
        let bad = dir.path().join("bad.key");
        write(&bad, &[1; 32]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::OpenOptions::new().append(true).open(&bad).unwrap().write_all(b"zz").unwrap();
        assert!(read(&bad).unwrap_err().contains("not hex"));
    }
}
