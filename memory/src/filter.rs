//! Payload filters, translated by each backend into its own query language.

use crate::record::RecordKind;
use serde::{Deserialize, Serialize};

/// Conditions on a record's payload; all that are set must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Only this kind.
    pub kind: Option<RecordKind>,
    /// Only this environment.
    pub env: Option<String>,
    /// Only this task.
    pub task_id: Option<String>,
    /// Anything but this task (cross-task retrieval).
    pub exclude_task_id: Option<String>,
    /// At least one of these tags.
    pub tags_any: Vec<String>,
    /// Created at or after (Unix seconds).
    pub created_from: Option<i64>,
    /// Created before (Unix seconds).
    pub created_until: Option<i64>,
}

/// The tag that puts a record in library `library`: `library:NAME`.
pub fn library_tag(library: &str) -> String {
    format!("library:{library}")
}

impl Filter {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }
    /// Only records of `kind`.
    pub fn kind(kind: RecordKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }
    /// The skills of skill library `library` (records tagged `library:NAME`).
    pub fn library_skills(library: &str) -> Self {
        Self::kind(RecordKind::Skill).tags_any(vec![library_tag(library)])
    }
    /// Also: only this task.
    pub fn task(mut self, task_id: impl Into<String>) -> Self {
        self.task_id = Some(task_id.into());
        self
    }
    /// Also: not this task.
    pub fn not_task(mut self, task_id: impl Into<String>) -> Self {
        self.exclude_task_id = Some(task_id.into());
        self
    }
    /// Also: only this environment.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }
    /// Also: any of these tags.
    pub fn tags_any(mut self, tags: Vec<String>) -> Self {
        self.tags_any = tags;
        self
    }
    /// Also: created in `[from, until)`.
    pub fn created_between(mut self, from: Option<i64>, until: Option<i64>) -> Self {
        self.created_from = from;
        self.created_until = until;
        self
    }

    /// Whether a payload satisfies the filter (the reference semantics every backend must match).
    pub fn matches(&self, payload: &serde_json::Map<String, serde_json::Value>) -> bool {
        let s = |k: &str| payload.get(k).and_then(|v| v.as_str());
        if let Some(kind) = self.kind {
            if s("kind") != Some(kind.as_str()) {
                return false;
            }
        }
        if self.env.as_deref().is_some_and(|e| s("env") != Some(e)) {
            return false;
        }
        if self
            .task_id
            .as_deref()
            .is_some_and(|t| s("task_id") != Some(t))
        {
            return false;
        }
        if self
            .exclude_task_id
            .as_deref()
            .is_some_and(|t| s("task_id") == Some(t))
        {
            return false;
        }
        if !self.tags_any.is_empty() {
            let tags: Vec<&str> = payload
                .get("tags")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|t| t.as_str()).collect())
                .unwrap_or_default();
            if !self.tags_any.iter().any(|t| tags.contains(&t.as_str())) {
                return false;
            }
        }
        let created = payload.get("created_at").and_then(|v| v.as_i64());
        if let Some(from) = self.created_from {
            if created.is_none_or(|c| c < from) {
                return false;
            }
        }
        if let Some(until) = self.created_until {
            if created.is_none_or(|c| c >= until) {
                return false;
            }
        }
        true
    }
}
