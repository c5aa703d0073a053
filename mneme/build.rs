//! Tells the tests whether headless Chromium is installed: the report screenshot test runs
//! with it and is reported as ignored, with the reason, without it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(chromium)");
    // A path that does not exist would rerun this on every build; the directory changes
    // when a package is installed or removed.
    println!("cargo::rerun-if-changed=/usr/bin");
    let paths = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
    if paths.iter().any(|p| std::path::Path::new(p).exists()) {
        println!("cargo::rustc-cfg=chromium");
    }
}
