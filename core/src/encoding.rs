//! Canonical, versioned binary encoding.
//!
//! Everything that is signed or hashed is first turned into **canonical bytes**:
//! `ENCODING_VERSION ‖ postcard(value)`. postcard is deterministic for the types used here
//! (structs, enums, `Vec`, `BTreeMap`, integers, strings; never `HashMap` or floats), so
//! two nodes that hold the same value produce the same bytes and the same hash. The
//! version byte lets a later format coexist with this one: a reader refuses bytes of a
//! version it does not know instead of misreading them. The encoding of each ledger type is
//! pinned by hash in tests, so an accidental format change fails CI.

use crate::{Error, Result};
use serde::{de::DeserializeOwned, Serialize};

/// The version byte that leads every canonical encoding this build writes.
pub const ENCODING_VERSION: u8 = 1;

/// Canonical bytes of `value`: the version byte followed by its postcard encoding.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let out = vec![ENCODING_VERSION];
    // postcard only fails on writers that run out of space or on serde errors raised by
    // the value itself; our types raise none, and a Vec never runs out of space.
    match postcard::to_extend(value, out) {
        Ok(v) => v,
        Err(e) => unreachable!("canonical encoding of an in-memory value failed: {e}"),
    }
}

/// Decodes canonical bytes produced by [`encode`], refusing unknown versions and
/// trailing bytes.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let (&version, body) =
        bytes.split_first().ok_or(Error::Decode { what, reason: "empty input".into() })?;
    if version != ENCODING_VERSION {
        return Err(Error::UnsupportedVersion { found: version, expected: ENCODING_VERSION });
    }
    let (value, rest) = postcard::take_from_bytes::<T>(body)
        .map_err(|e| Error::Decode { what, reason: e.to_string() })?;
    if !rest.is_empty() {
        return Err(Error::Decode { what, reason: format!("{} trailing bytes", rest.len()) });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let v = (7u64, "abc".to_string(), vec![1i64, -2]);
        let bytes = encode(&v);
        assert_eq!(bytes[0], ENCODING_VERSION);
        let back: (u64, String, Vec<i64>) = decode("tuple", &bytes).unwrap();
        assert_eq!(back, v);

        let mut wrong_version = bytes.clone();
        wrong_version[0] = 9;
        assert!(matches!(
            decode::<(u64, String, Vec<i64>)>("tuple", &wrong_version),
            Err(Error::UnsupportedVersion { found: 9, .. })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode::<(u64, String, Vec<i64>)>("tuple", &trailing).is_err());
        assert!(decode::<(u64, String, Vec<i64>)>("tuple", &[]).is_err());
        assert!(decode::<(u64, String, Vec<i64>)>("tuple", &bytes[..3]).is_err());
    }

    #[test]
    fn encoding_is_pinned() {
        assert_eq!(hex::encode(encode(&(300u32, "EUR", -1i64))), "01ac020345555201");
    }
}
