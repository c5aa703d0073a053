//! What memory holds: reflections, skills and insights.
//!
//! Every record has a deterministic id, a UUID derived from the SHA-256 of what
//! identifies it, so a replayed or resumed run that stores the same record again
//! overwrites it instead of adding a duplicate.

use crate::{MemoryError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The three kinds of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A verbal reflection on a trial (Reflexion).
    Reflection,
    /// Reusable code with a description (Voyager).
    Skill,
    /// A general rule learned across tasks (ExpeL).
    Insight,
}

impl RecordKind {
    /// The lowercase name stored in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Reflection => "reflection",
            RecordKind::Skill => "skill",
            RecordKind::Insight => "insight",
        }
    }
}

impl std::str::FromStr for RecordKind {
    type Err = MemoryError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "reflection" => Ok(RecordKind::Reflection),
            "skill" => Ok(RecordKind::Skill),
            "insight" => Ok(RecordKind::Insight),
            other => Err(MemoryError::Invalid(format!(
                "unknown record kind {other:?} (reflection, skill, insight)"
            ))),
        }
    }
}

/// Why a trial failed and what to do next, in the agent's own words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reflection {
    /// The task it is about.
    pub task_id: String,
    /// The environment or suite.
    pub env: String,
    /// The trial that failed (1-based).
    pub trial: u32,
    /// The reflection itself.
    pub text: String,
    /// The trial's outcome (e.g. the verdict on the internal tests).
    pub outcome: String,
    /// The trial's score in `[0, 1]`.
    pub score: f64,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Working code with a description by which it is found again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    /// A unique name (a function name, usually).
    pub name: String,
    /// What it does: the text that is embedded and searched.
    pub description: String,
    /// The code.
    pub code: String,
    /// Its language.
    pub language: String,
    /// Version, raised when the code is replaced.
    pub version: u32,
    /// Times it worked when used.
    pub successes: u32,
    /// Times it failed when used.
    pub failures: u32,
    /// The library it belongs to: skills of two libraries never share an id, whatever their
    /// names and versions.
    #[serde(default)]
    pub library: String,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A general rule, with the votes that keep it (ExpeL's add / agree / edit / remove).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// The rule.
    pub text: String,
    /// Agreement count; at zero the insight is removed.
    pub votes: i32,
    /// The set of rules it belongs to (tagged `library:NAME` too): rules learned on two sets
    /// of tasks never share an id. Empty for a rule of no library.
    #[serde(default)]
    pub library: String,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Any record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    /// A reflection.
    Reflection(Reflection),
    /// A skill.
    Skill(Skill),
    /// An insight.
    Insight(Insight),
}

/// A UUID (version-4 layout) made from the first 16 bytes of a SHA-256.
pub fn content_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Record {
    /// Its kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Reflection(_) => RecordKind::Reflection,
            Record::Skill(_) => RecordKind::Skill,
            Record::Insight(_) => RecordKind::Insight,
        }
    }

    /// Its deterministic id: reflections by task, trial, text and tags (a run tags its
    /// own); skills by library, name and version; insights by library and text.
    pub fn id(&self) -> String {
        match self {
            Record::Reflection(r) => {
                let mut tags = r.tags.clone();
                tags.sort();
                let tags = tags.join("\u{1f}");
                content_id(&[
                    "reflection",
                    &r.env,
                    &r.task_id,
                    &r.trial.to_string(),
                    &r.text,
                    &tags,
                ])
            }
            Record::Skill(s) => content_id(&["skill", &s.library, &s.name, &s.version.to_string()]),
            Record::Insight(i) if i.library.is_empty() => content_id(&["insight", &i.text]),
            Record::Insight(i) => content_id(&["insight", &i.library, &i.text]),
        }
    }

    /// The text that is embedded: a reflection's or insight's text, a skill's description.
    pub fn embed_text(&self) -> &str {
        match self {
            Record::Reflection(r) => &r.text,
            Record::Skill(s) => &s.description,
            Record::Insight(i) => &i.text,
        }
    }

    /// Unix seconds of creation.
    pub fn created_at(&self) -> i64 {
        match self {
            Record::Reflection(r) => r.created_at,
            Record::Skill(s) => s.created_at,
            Record::Insight(i) => i.created_at,
        }
    }

    /// The payload stored beside the vector: every field plus `kind`.
    pub fn to_payload(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// Reads a record back from a payload.
    pub fn from_payload(id: &str, payload: &Map<String, Value>) -> Result<Self> {
        serde_json::from_value(Value::Object(payload.clone())).map_err(|e| MemoryError::BadRecord {
            id: id.to_string(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reflection(text: &str) -> Record {
        Record::Reflection(Reflection {
            task_id: "HumanEval/1".into(),
            env: "humaneval".into(),
            trial: 1,
            text: text.into(),
            outcome: "failed".into(),
            score: 0.5,
            tags: vec![],
            created_at: 1_700_000_000,
        })
    }

    #[test]
    fn ids_are_deterministic_uuids() {
        let a = reflection("use a set");
        assert_eq!(a.id(), reflection("use a set").id());
        assert_ne!(a.id(), reflection("use a dict").id());
        assert!(uuid::Uuid::parse_str(&a.id()).is_ok());
        assert_ne!(
            content_id(&["ab", "c"]),
            content_id(&["a", "bc"]),
            "parts are length-prefixed"
        );
    }

    #[test]
    fn payload_round_trip() {
        let r = reflection("x");
        let p = r.to_payload();
        assert_eq!(p["kind"], "reflection");
        assert_eq!(Record::from_payload("id", &p).unwrap(), r);
        let mut broken = p.clone();
        broken.remove("text");
        assert!(Record::from_payload("id", &broken)
            .unwrap_err()
            .to_string()
            .contains("text"));
    }
}
