//! A session's state as plain data (saved after every iteration), what the environment says
//! about itself on `reset`, and moving between episodes.

use crate::agent::{AgentError, Work};
use environments::{Observation, Snapshot, Task, TaskKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What a program-running environment tells the agent on `reset` (`observation.data`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// The functions a program can call, as text for the prompt.
    pub api: String,
    /// Tasks in a sensible order, easy first (the warm-up order and the fixed curriculum).
    #[serde(default)]
    pub warmup: Vec<String>,
    /// Every achievement the environment knows.
    #[serde(default)]
    pub achievements_all: Vec<String>,
    /// Names a program must not redefine (the API's functions).
    #[serde(default)]
    pub api_names: Vec<String>,
    /// What the environment says about doing an achievement's task (the call that earns it,
    /// what it needs), by achievement: shown with the task, as Voyager's curriculum gives each
    /// task its context.
    #[serde(default)]
    pub task_context: BTreeMap<String, String>,
    /// Other names of achievements, as task words joined by `_` (`collect_water` for
    /// `collect_drink`): a task that says one is checked against the achievement it names.
    #[serde(default)]
    pub task_aliases: BTreeMap<String, String>,
}

impl World {
    /// Reads the world from a reset observation; an environment without `data.api` does not run
    /// programs.
    pub fn from_observation(task: &str, observation: &Observation) -> Result<Self, AgentError> {
        serde_json::from_value(observation.data.clone()).map_err(|e| AgentError::Unsuited {
            strategy: "voyager".into(),
            task: task.into(),
            reason: format!(
                "it writes programs, and the environment's reset observation does not describe \
                 its program API (`data.api`: {e})"
            ),
        })
    }

    /// The environment's context for `goal`, when it names an achievement that has one.
    pub fn context_for(&self, goal: &str) -> Option<&str> {
        self.task_context
            .get(self.achievement_of(goal)?)
            .map(String::as_str)
    }

    /// The achievement a task names (`make_wood_pickaxe`, "make wood pickaxe", or an alias the
    /// environment gave, "Collect water"), if any: then the task is also checked against what
    /// the environment reports. The longest name found in the task wins.
    pub fn achievement_of(&self, goal: &str) -> Option<&str> {
        let norm = format!("_{}_", task_words(goal).join("_"));
        let names = self.achievements_all.iter().map(|a| (a, a));
        let aliases = self
            .task_aliases
            .iter()
            .filter(|(_, a)| self.achievements_all.contains(a));
        names
            .chain(aliases)
            .filter(|(name, _)| norm.contains(&format!("_{name}_")))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, achievement)| achievement.as_str())
    }
}

/// A task's words: its runs of letters and digits, in lower case, without articles and counts
/// (`Collect_Sapling.`, `collect a sapling` and `collect 2 sapling` have the same words).
pub fn task_words(goal: &str) -> Vec<String> {
    goal.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| !matches!(*w, "a" | "an" | "the" | "some" | "one" | "more"))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

/// The state alone: `observation.data.state` where the environment sends it (Crafter's text
/// also carries the last program's feedback, which prompts show elsewhere), else the text.
pub fn state_of(observation: &Observation) -> &str {
    observation
        .data
        .get("state")
        .and_then(|s| s.as_str())
        .unwrap_or(&observation.text)
}

/// A programmatic check on an observation's data: the number at a dotted path (`vitals.drink`)
/// is at least a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The dotted path into `observation.data`.
    pub field: String,
    /// The least value that passes.
    pub at_least: f64,
}

impl Check {
    /// Whether `data` passes; `None` when the field is missing or not a number.
    pub fn holds(&self, data: &Value) -> Option<bool> {
        let value = self
            .field
            .split('.')
            .try_fold(data, |at, key| at.get(key))?
            .as_f64()?;
        Some(value >= self.at_least)
    }

    /// The check in words, for a verdict's reason.
    pub fn describe(&self) -> String {
        format!("{} at least {}", self.field, self.at_least)
    }
}

/// An urgent task the environment reports (`observation.data.needs`, most urgent first), with
/// the check that says it is done: a survival need, say, when a vital runs low.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Need {
    /// The task, as the program prompt shows it.
    pub task: String,
    /// Done when this holds after the program.
    pub check: Check,
    /// How it is done, in the environment's words (shown under the task, like an achievement's
    /// `task_context`).
    #[serde(default)]
    pub how: Option<String>,
}

/// The needs `observation` reports, in its order; a malformed entry is left out (and the rest
/// of the observation is read as usual).
pub fn needs_of(observation: &Observation) -> Vec<Need> {
    observation
        .data
        .get("needs")
        .and_then(Value::as_array)
        .map(|needs| {
            needs
                .iter()
                .filter_map(|n| serde_json::from_value(n.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The achievements `observation` reports locked (`data.locked`): each mapped to the one to do
/// first (say, the tool it cannot be done without). Empty when there is no such map.
pub fn locked_of(observation: &Observation) -> BTreeMap<String, String> {
    observation
        .data
        .get("locked")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default()
}

/// The fields of `observation.data` the session follows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Achievements unlocked this episode.
    #[serde(default)]
    pub achievements: Vec<String>,
    /// Unlocked by the last step.
    #[serde(default)]
    pub new_achievements: Vec<String>,
    /// What the program's run ended with, if it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The player died.
    #[serde(default)]
    pub died: bool,
    /// The need that stopped the program midway, when one appeared while it ran (it is the
    /// next task; the program's task failed through no fault of its own).
    #[serde(default)]
    pub interrupted: Option<String>,
}

impl Status {
    /// The status fields of `observation` (missing ones empty).
    pub fn of(observation: &Observation) -> Self {
        serde_json::from_value(observation.data.clone()).unwrap_or_default()
    }

    /// Whether the world, not the program, ended the run early: a need interrupted it, or the
    /// player died.
    pub fn stopped_by_world(&self) -> bool {
        self.interrupted.is_some() || self.died
    }
}

/// One finished or current episode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// Its index (0-based).
    pub episode: u32,
    /// Achievements unlocked in it.
    pub achievements: Vec<String>,
    /// Iterations played in it.
    pub iterations: u32,
    /// How it ended (`died`, `over`), while it is not the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// One iteration, as the session remembers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    /// 1-based.
    pub iteration: u32,
    /// The episode.
    pub episode: u32,
    /// The task.
    pub goal: String,
    /// Judged done.
    pub success: bool,
    /// Why.
    pub reason: String,
}

/// A session in progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Iterations finished.
    pub iteration: u32,
    /// What the environment said on reset.
    pub world: World,
    /// The latest observation.
    pub observation: Observation,
    /// The environment's state after the last finished iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// Every episode so far (the last is the current one).
    pub episodes: Vec<EpisodeRecord>,
    /// Every iteration so far.
    pub history: Vec<IterationRecord>,
    /// Unique achievements over the session.
    pub unique: BTreeSet<String>,
    /// Skills this session stored (name and version).
    pub skills: Vec<(String, u32)>,
    /// Why the session stopped before its iterations ran out, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Session {
    /// The session from the checkpoint (its world restored), or a new one at episode 0.
    pub async fn start(work: &mut Work<'_>) -> Result<Self, AgentError> {
        if let Some(mut saved) = work.resume::<Session>()? {
            let fresh = reset_episode(work, saved.episode()).await?;
            match saved.snapshot.clone() {
                Some(snapshot) => work.env().restore(&snapshot).await?,
                None => saved.observation = fresh,
            }
            return Ok(saved);
        }
        let observation = reset_episode(work, 0).await?;
        let world = World::from_observation(&work.task().id, &observation)?;
        let mut session = Session {
            world,
            observation,
            episodes: vec![EpisodeRecord::default()],
            ..Session::default()
        };
        session.checkpoint(work).await?;
        Ok(session)
    }

    /// Follows a step's observation: the episode's achievements and the session's unique ones.
    pub fn observe(&mut self, observation: Observation) -> Status {
        let status = Status::of(&observation);
        if let Some(current) = self.episodes.last_mut() {
            current.achievements = status.achievements.clone();
        }
        self.unique.extend(status.achievements.iter().cloned());
        self.observation = observation;
        status
    }

    /// The current episode (the last of `episodes`).
    pub fn episode(&self) -> u32 {
        self.episodes.last().map_or(0, |e| e.episode)
    }

    /// Achievements of the current episode.
    pub fn episode_achievements(&self) -> &[String] {
        self.episodes
            .last()
            .map(|e| e.achievements.as_slice())
            .unwrap_or_default()
    }

    /// Ends the current episode (`how`: died, over) and starts the next one in a new world.
    pub async fn next_episode(&mut self, work: &mut Work<'_>, how: &str) -> Result<(), AgentError> {
        if let Some(current) = self.episodes.last_mut() {
            current.ended = Some(how.to_string());
        }
        let next = self.episode() + 1;
        self.observation = reset_episode(work, next).await?;
        self.episodes.push(EpisodeRecord {
            episode: next,
            ..EpisodeRecord::default()
        });
        Ok(())
    }

    /// Episodes finished (ended by a death or their length).
    pub fn episodes_ended(&self) -> u32 {
        self.episodes.iter().filter(|e| e.ended.is_some()).count() as u32
    }

    /// Takes the environment's snapshot and saves the session with the task's books.
    pub async fn checkpoint(&mut self, work: &mut Work<'_>) -> Result<(), AgentError> {
        self.snapshot = Some(work.env().snapshot().await?);
        work.save(self)
    }

    /// Returns the environment to the last checkpoint (after its process died mid-program).
    pub async fn roll_back(
        &mut self,
        work: &mut Work<'_>,
        before: &Observation,
    ) -> Result<(), AgentError> {
        reset_episode(work, self.episode()).await?;
        if let Some(snapshot) = self.snapshot.clone() {
            work.env().restore(&snapshot).await?;
        }
        self.observation = before.clone();
        if let Some(current) = self.episodes.last_mut() {
            current.achievements = Status::of(before).achievements;
        }
        Ok(())
    }

    /// The session's account, submitted as its candidate: episodes with their achievements,
    /// unique achievements, iterations, skills.
    pub fn account(&self) -> Value {
        json!({
            "iterations": self.iteration,
            "episodes": self.episodes,
            "unique_achievements": self.unique,
            "skills": self.skills.iter().map(|(n, v)| json!({"name": n, "version": v})).collect::<Vec<_>>(),
            "stopped": self.stopped,
        })
    }
}

/// Resets the environment into episode `episode` of the task (the task's fields plus
/// `"episode": N`).
async fn reset_episode(work: &mut Work<'_>, episode: u32) -> Result<Observation, AgentError> {
    let task = episode_task(work.task(), episode);
    Ok(work.env().reset(&task).await?)
}

/// `task` with `episode` set among its fields.
pub fn episode_task(task: &Task, episode: u32) -> Task {
    let mut task = task.clone();
    if let TaskKind::Custom(fields) = &mut task.kind {
        if !fields.is_object() {
            *fields = json!({});
        }
        fields["episode"] = json!(episode);
    }
    task
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_names_an_achievement_however_it_is_written() {
        let world = World {
            achievements_all: ["collect_wood", "make_stone_sword", "make_wood_pickaxe"]
                .map(String::from)
                .to_vec(),
            task_aliases: [
                ("chop_tree", "collect_wood"),
                ("drink_water", "collect_drink"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
            ..World::default()
        };
        for (goal, named) in [
            ("Make a stone sword", Some("make_stone_sword")),
            ("collect 3 wood", Some("collect_wood")),
            ("Collect_wood.", Some("collect_wood")),
            ("make_wood_pickaxe", Some("make_wood_pickaxe")),
            ("collect woods", None),
            ("Chop a tree (2 right)", Some("collect_wood")),
            ("Collect water", None),
            ("Drink water", None),
        ] {
            assert_eq!(world.achievement_of(goal), named, "{goal}");
        }
        let data = json!({"vitals": {"drink": 7}});
        let check = |at_least| Check {
            field: "vitals.drink".into(),
            at_least,
        };
        assert_eq!(check(7.0).holds(&data), Some(true));
        assert_eq!(check(8.0).holds(&data), Some(false));
        let missing = Check {
            field: "vitals.food".into(),
            at_least: 1.0,
        };
        assert_eq!(missing.holds(&data), None);
    }
}
