//! Tells the tests whether the MBPP data is on this machine (no package registry ships it):
//! the MBPP tests run with it and are reported as ignored, with the reason, without it.
//! Looks where `suites::ensure_mbpp` looks.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mbpp_data)");
    println!("cargo::rerun-if-env-changed=MNEME_SHARED_DATA");
    println!("cargo::rerun-if-env-changed=MNEME_DATA_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let data_dir = std::env::var_os("MNEME_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mneme")));
    let mut folders: Vec<PathBuf> = std::env::var_os("MNEME_SHARED_DATA")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    folders.push(manifest.join("../../shared/data"));
    folders.extend(data_dir.map(|d| d.join("data")));
    for folder in folders.iter().filter(|f| f.is_dir()) {
        println!("cargo::rerun-if-changed={}", folder.display());
    }
    if folders.iter().any(|f| f.join("mbpp-typed.jsonl").is_file()) {
        println!("cargo::rustc-cfg=mbpp_data");
    }
}
