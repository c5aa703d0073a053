//! `events.jsonl`: the append-only event log of a run.

use super::{io, RunError};
use crate::agent::{Event, EventSink};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// One line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// 1 for the first start of the run, 2 after the first resume, …
    pub session: u32,
    /// Unix milliseconds.
    pub time_ms: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// Appends events, one JSON line each, flushed as written.
pub struct EventLog {
    file: Mutex<std::io::BufWriter<std::fs::File>>,
    session: u32,
}

/// The session number the next start of a run gets.
pub fn next_session(path: &Path) -> Result<u32, RunError> {
    let events: Vec<LoggedEvent> = super::read_jsonl(path)?;
    Ok(events.iter().map(|e| e.session).max().unwrap_or(0) + 1)
}

impl EventLog {
    /// Opens (or creates) the log for appending.
    pub fn open(path: &Path, session: u32) -> Result<Self, RunError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(format!("opening {}", path.display())))?;
        Ok(Self {
            file: Mutex::new(std::io::BufWriter::new(file)),
            session,
        })
    }

    /// Forces what was written to disk.
    pub fn sync(&self) {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = f.flush();
        let _ = f.get_ref().sync_data();
    }
}

impl EventSink for EventLog {
    fn emit(&self, event: Event) {
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let logged = LoggedEvent {
            session: self.session,
            time_ms,
            event,
        };
        let Ok(mut line) = serde_json::to_vec(&logged) else {
            return;
        };
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if f.write_all(&line).and_then(|_| f.flush()).is_err() {
            tracing::error!("could not append to events.jsonl");
        }
    }
}
