//! # omni-registry-protocol — the registry's gRPC protocol, compiled once
//!
//! `proto/registry.proto` (service `omni.registry.v1.Registry`: `Submit` for signed
//! transactions, queries for regulators, financiers and carriers) compiled with
//! tonic-prost-build into client and server stubs ([`proto`]), the file descriptor set for
//! server reflection, and the conversions between the protobuf answers and the registry's
//! records ([`convert`]). The registry's server implements the service; a member's node
//! and the `omni` CLI are its clients. Transactions travel inside `SubmitRequest` as
//! canonical bytes of [`omni_registry_types::SignedTx`], or in the portable form of
//! `proto/transaction.proto` ([`tx::v1`]) that any language can build
//! ([`omni_registry_types::portable`]).

pub mod convert;

/// Generated protobuf types of the portable transactions (`omni.registry.tx.v1`); the
/// registry's own derive of the same messages is [`omni_registry_types::portable`].
pub mod tx {
    /// Version 1.
    pub mod v1 {
        #![allow(missing_docs, clippy::all)]
        tonic::include_proto!("omni.registry.tx.v1");
    }
}

/// Generated protobuf types, client and server.
pub mod proto {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("omni.registry.v1");

    /// The encoded file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("registry_descriptor");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use prost::Message;

    /// The registry reads portable transactions with its own derive of the messages
    /// (`omni_registry_types::portable`); clients build them from `proto/transaction.proto`.
    /// Both must write the same bytes for every kind, or a client's signature would cover
    /// other bytes than the registry reads.
    #[test]
    fn the_schema_and_the_registrys_messages_agree_on_every_kind() {
        use omni_registry_types::{portable::Body, TxBody};
        for body in TxBody::examples() {
            let ours = body.to_portable().encode_to_vec();
            let generated = crate::tx::v1::Body::decode(ours.as_slice()).unwrap();
            assert!(generated.kind.is_some(), "{}: the schema lacks the kind", body.kind());
            assert_eq!(generated.encode_to_vec(), ours, "{}", body.kind());
            let back = Body::decode(generated.encode_to_vec().as_slice()).unwrap();
            assert_eq!(TxBody::from_portable(&back).unwrap(), body);
        }
    }
}
