//! What the command-line tests share: a temporary home for `mneme` with its own local model
//! server port, JSON-lines reading, and waiting on a running `mneme`.
#![allow(dead_code)] // each test binary uses some of the helpers

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A temporary working directory, cache and memory for `mneme`, and a free port for its
/// local model server (stopped when dropped).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Env {
    /// A fresh home and a free port.
    pub fn new() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            dir: tempfile::tempdir().unwrap(),
            port,
        }
    }
    /// `mneme ARGS` in this home (the tiny model's context, short replies, two trials).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mneme"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("MNEME_LOCAL__PORT", self.port.to_string())
            .env("MNEME_LOCAL__CTX_SIZE", "2048")
            .env(
                "MNEME_MODEL__BASE_URL",
                format!("http://127.0.0.1:{}/v1", self.port),
            )
            .env("MNEME_CACHE__DIR", self.dir.path().join("cache"))
            .env("MNEME_MEMORY__PATH", self.dir.path().join("memory"))
            .env("MNEME_AGENT__MAX_TOKENS", "200")
            .env("MNEME_AGENT__TRIALS", "2");
        c
    }
    /// Runs `mneme ARGS` to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
    /// A path in the home.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.run(&["model", "stop"]);
    }
}

/// A JSON-lines file's values (a malformed line fails the test).
pub fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad line {l:?}: {e}", path.display()))
        })
        .collect()
}

/// Polls `done` until it holds; the run exiting first, or `limit` (a generous bound for a
/// stuck run, not a measurement) passing, fails the test.
pub fn wait_for(mut done: impl FnMut() -> bool, child: &mut Child, limit: Duration) {
    let started = Instant::now();
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("mneme run exited early ({status})");
        }
        assert!(started.elapsed() < limit, "not reached within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lines of a file (0 when it is missing).
pub fn lines_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The headless Chromium the report tests drive (.ci/run installs the Debian package).
pub fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("headless Chromium is needed for the report screenshots (.ci/run installs the Debian package chromium)")
}

/// Checks that `png` is a PNG with content: a blank page of the tests' sizes compresses to a
/// few KB; charts, tables and text do not.
pub fn assert_png_has_content(png: &[u8], what: &str) {
    assert_eq!(&png[1..4], b"PNG", "{what} is not a PNG");
    assert!(
        png.len() > 20_000,
        "{what} looks blank ({} bytes)",
        png.len()
    );
}
