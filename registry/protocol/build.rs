//! Compiles `proto/registry.proto` and `proto/transaction.proto` with tonic-prost-build, using the protoc shipped by
//! `protoc-bin-vendored`, so that no system protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Build scripts are single-threaded; prost-build reads PROTOC.
    std::env::set_var("PROTOC", protoc);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("registry_descriptor.bin"))
        .compile_protos(&["proto/registry.proto", "proto/transaction.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/registry.proto");
    println!("cargo:rerun-if-changed=proto/transaction.proto");
    Ok(())
}
