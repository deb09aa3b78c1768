//! Compiles `proto/node.proto` (the node's API, client and server) and the registry's
//! `../registry/proto/registry.proto` (client only, for the registry client) with
//! tonic-prost-build, using the protoc shipped by `protoc-bin-vendored`, so that no system
//! protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Build scripts are single-threaded; prost-build reads PROTOC.
    std::env::set_var("PROTOC", protoc);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("node_descriptor.bin"))
        .compile_protos(&["proto/node.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/node.proto");
    // The registry's protobuf is compiled from the registry's folder, never copied, so the
    // client cannot drift from the server; the node does not depend on the registry crate.
    tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(&["../registry/proto/registry.proto"], &["../registry/proto"])?;
    println!("cargo:rerun-if-changed=../registry/proto/registry.proto");
    Ok(())
}
