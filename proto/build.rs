//! Generates the prost messages from `proto/`. protoc comes from `protoc-bin-vendored`, so no
//! system protoc is needed.

fn main() -> anyhow::Result<()> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    println!("cargo:rerun-if-changed=proto");
    prost_build::Config::new().compile_protos(&["proto/prometheus/remote.proto"], &["proto"])?;
    Ok(())
}
