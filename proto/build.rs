//! Generates the prost messages and tonic services from `proto/`. protoc comes from
//! `protoc-bin-vendored`, so no system protoc is needed.

fn main() -> anyhow::Result<()> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Raft payloads are opaque bincode: `Bytes` avoids a copy when tonic decodes them.
        .bytes(".cairn.raft.v1")
        .bytes(".cairn.cluster.v1.WriteRequest")
        .compile_protos(
            &[
                "proto/prometheus/remote.proto",
                "proto/cairn/raft.proto",
                "proto/cairn/cluster.proto",
            ],
            &["proto"],
        )?;
    Ok(())
}
