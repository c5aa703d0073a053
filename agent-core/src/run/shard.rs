//! Shards: one run's tasks split between processes (`--shard 2/3` takes tasks 2, 5, 8, …).
//!
//! Every shard is a run directory of its own with the same run id (which scopes the run's
//! memory, so shards on one Qdrant server learn from each other) and `shard` set in `run.json`;
//! `mneme report` merges them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, 1..=count.
    pub index: usize,
    /// How many shards the run has.
    pub count: usize,
}

impl Shard {
    /// Whether the task at `position` (0-based, in suite order) belongs to this shard.
    pub fn takes(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// The items of `all` (in suite order) that belong to this shard.
    pub fn select<T: Clone>(&self, all: &[T]) -> Vec<T> {
        all.iter()
            .enumerate()
            .filter(|(i, _)| self.takes(*i))
            .map(|(_, t)| t.clone())
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("shard {text:?}: {why}");
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| bad("expected INDEX/COUNT, like 1/2"))?;
        let index: usize = index
            .trim()
            .parse()
            .map_err(|_| bad("INDEX is not a whole number"))?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| bad("COUNT is not a whole number"))?;
        if count == 0 {
            return Err(bad("COUNT must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(bad(&format!(
                "INDEX must be between 1 and {count} (shards are counted from 1)"
            )));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_tasks_without_overlap_or_loss() {
        let tasks: Vec<usize> = (0..10).collect();
        let shards: Vec<Vec<usize>> = (1..=3)
            .map(|i| Shard { index: i, count: 3 }.select(&tasks))
            .collect();
        assert_eq!(shards[0], [0, 3, 6, 9]);
        assert_eq!(shards[1], [1, 4, 7]);
        assert_eq!(shards[2], [2, 5, 8]);
    }

    #[test]
    fn bad_specs_are_named() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for (spec, says) in [
            ("3/2", "between 1 and 2"),
            ("0/0", "COUNT must be at least 1"),
            ("0/2", "counted from 1"),
            ("2", "INDEX/COUNT"),
            ("a/2", "INDEX is not"),
            ("1/-2", "COUNT is not"),
        ] {
            let err = spec.parse::<Shard>().unwrap_err();
            assert!(err.contains(spec) && err.contains(says), "{spec}: {err}");
        }
    }
}
