//! Compiles `proto/node.proto` (the node's API, client and server) with tonic-prost-build,
//! using the protoc shipped by `protoc-bin-vendored`, so that no system protoc is needed.
//! The registry's protocol comes compiled from `omni-registry-protocol`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Build scripts are single-threaded; prost-build reads PROTOC.
    std::env::set_var("PROTOC", protoc);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("node_descriptor.bin"))
        .compile_protos(&["proto/node.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/node.proto");
    Ok(())
}
