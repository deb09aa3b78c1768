//! # omni-registry-protocol — the registry's gRPC protocol, compiled once
//!
//! `proto/registry.proto` (service `omni.registry.v1.Registry`: `Submit` for signed
//! transactions, queries for regulators, financiers and carriers) compiled with
//! tonic-prost-build into client and server stubs ([`proto`]), the file descriptor set for
//! server reflection, and the conversions between the protobuf answers and the registry's
//! records ([`convert`]). The registry's server implements the service; a member's node
//! and the `omni` CLI are its clients. Transactions themselves travel as canonical bytes
//! of [`omni_registry_types::SignedTx`] inside `SubmitRequest`.

pub mod convert;

/// Generated protobuf types, client and server.
pub mod proto {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("omni.registry.v1");

    /// The encoded file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("registry_descriptor");
}
