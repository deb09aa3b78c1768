//! Registry transactions: what members submit, how it is signed, how it travels.
//!
//! A [`SignedTx`] is `(sender, nonce, body, signature)`. The signature covers the
//! canonical bytes of `(registry id, sender, nonce, body)` under the domain tag
//! [`TX_SIGNING_TAG`]: the registry id (the hash of its [`crate::Genesis`]) binds a
//! transaction to one registry, so it cannot be replayed on another one that admitted the
//! same key, and the nonce binds it to one position in its sender's sequence, so it
//! cannot be replayed on this one.
//!
//! Transactions travel as canonical bytes ([`SignedTx::to_bytes`]), at most
//! [`MAX_TX_BYTES`] long; that is what the gRPC `Submit` call and a block carry.
//!
//! The wire format itself lives in [`omni_core::omnilateral`], so that a member's node
//! builds and signs transactions without depending on the registry; it is re-exported
//! here unchanged. Decoding and signature errors convert into this crate's
//! [`Error`](crate::Error) with the same variants and messages (`MalformedTx`,
//! `TxTooLarge`, `BadSignature`).

pub use omni_core::omnilateral::{
    AmountCommitment, Blinding, ConformanceDeclaration, CycleId, InvoiceId, InvoiceSubmission,
    Nullifier, Role, SignedTx, TxBody, TxHash, MAX_CYCLE_PARTICIPANTS, MAX_INTERVAL_ID_BYTES,
    MAX_STATEMENT_BYTES, MAX_TX_BYTES, TX_SIGNING_TAG,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use omni_core::{Hash32, Keypair};

    /// The re-exported format is the registry's: a transaction signed by a member's node
    /// verifies here, and its decoding and signature refusals are the registry's errors
    /// with the registry's messages.
    #[test]
    fn core_refusals_are_registry_errors_with_the_same_messages() {
        let key = Keypair::from_seed([5; 32]);
        let registry = Hash32::digest("test", b"registry");
        let tx = SignedTx::sign(&key, &registry, 0, TxBody::JoinNettingCycle { cycle: 1 });
        tx.verify_signature(&registry).unwrap();
        let bad_sig: Error =
            tx.verify_signature(&Hash32::digest("test", b"other")).unwrap_err().into();
        assert!(matches!(bad_sig, Error::BadSignature { sender, .. } if sender == key.party()));
        assert!(bad_sig
            .to_string()
            .starts_with(&format!("transaction from {} is not validly signed: ", key.party())));
        let malformed: Error = SignedTx::from_bytes(b"\x01garbage").unwrap_err().into();
        assert!(matches!(malformed, Error::MalformedTx(_)));
        assert!(malformed.to_string().starts_with("malformed transaction: "));
        let large: Error = SignedTx::from_bytes(&vec![1; MAX_TX_BYTES + 1]).unwrap_err().into();
        assert_eq!(
            large,
            Error::TxTooLarge { size: MAX_TX_BYTES + 1, max: MAX_TX_BYTES },
            "{large}"
        );
        assert_eq!(
            large.to_string(),
            format!(
                "transaction of {} bytes exceeds the limit of {MAX_TX_BYTES} bytes",
                MAX_TX_BYTES + 1
            )
        );
        assert_eq!(large.code(), "malformed");
    }
}
