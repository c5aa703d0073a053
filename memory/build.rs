//! Tells the tests whether a Qdrant server was named (`QDRANT_URL`) when they were built: the
//! server backend's tests are then run, and reported as ignored, with the reason, when not.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(qdrant_server)");
    println!("cargo::rerun-if-env-changed=QDRANT_URL");
    if std::env::var_os("QDRANT_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=qdrant_server");
    }
}
