//! Errors of the domain model: each variant says what was wrong with the input.

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// What was wrong with a value handed to the domain model.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A currency code that is not three upper-case ASCII letters.
    #[error("currency code {0:?} is not an ISO 4217 alphabetic code (three upper-case letters)")]
    InvalidCurrency(String),
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {left} vs {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: String,
        /// Currency of the right operand.
        right: String,
    },
    /// Arithmetic on micro-units overflowed.
    #[error("amount overflow while computing {0}")]
    Overflow(&'static str),
    /// A usage record failed validation.
    #[error("usage record {id:?}: {reason}")]
    InvalidUsage {
        /// The record's id as received.
        id: String,
        /// Why it was refused.
        reason: String,
    },
    /// A usage record names a product the tariff does not price.
    #[error("usage record {id:?}: unknown product {product:?}")]
    UnknownProduct {
        /// The record's id.
        id: String,
        /// The product named by the record.
        product: String,
    },
    /// A tariff failed validation.
    #[error("tariff {tariff:?}: {reason}")]
    InvalidTariff {
        /// The tariff id.
        tariff: String,
        /// Why it was refused.
        reason: String,
    },
    /// A billing interval failed validation.
    #[error("billing interval {id:?}: {reason}")]
    InvalidInterval {
        /// The interval id.
        id: String,
        /// Why it was refused.
        reason: String,
    },
    /// A signature did not verify under the claimed key.
    #[error("signature by {signer} does not verify over {what}")]
    BadSignature {
        /// Hex of the claimed signer's key.
        signer: String,
        /// What was signed (a domain tag).
        what: String,
    },
    /// A key or signature had the wrong length or was not a valid point.
    #[error("malformed key or signature: {0}")]
    MalformedKey(String),
    /// Bytes could not be decoded into the expected type.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// The type being decoded.
        what: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// Canonical bytes carry an encoding version this build does not understand.
    #[error("unsupported encoding version {found} (this build reads version {expected})")]
    UnsupportedVersion {
        /// Version byte found.
        found: u8,
        /// Version this build writes and reads.
        expected: u8,
    },
}
