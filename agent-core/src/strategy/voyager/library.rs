//! The skill library and the session's lessons, in memory: skills found again by the embedding
//! of their description, stored with versions and use counts, and reflections on failed tasks.
//! Everything is tagged `library:NAME`, so libraries (and ablations) never mix.

use super::program::Program;
use crate::agent::{AgentError, Event, Work};
use memory::{Filter, Record, Reflection, Skill, Stored};
use std::collections::BTreeSet;

/// A skill found for a task.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Its record id (for use counts).
    pub id: String,
    /// The skill.
    pub skill: Skill,
}

/// How much a skill's rank falls per failure beyond its successes.
const FAILURE_PENALTY: f32 = 0.05;

fn tag(work: &Work<'_>) -> String {
    memory::library_tag(&work.config().voyager.library)
}

/// The tag of the skills stored for `goal` (done by them): `task:` and the goal in lower case.
fn task_tag(goal: &str) -> String {
    format!("task:{}", goal.trim().to_lowercase())
}

/// The task tags of a skill stored for `goal`: the goal's, and the achievement's it names when
/// that is another task (`Collect water` did `collect_drink`), so either finds it again.
fn task_tags(goal: &str, achievement: Option<&str>) -> Vec<String> {
    let mut tags = vec![task_tag(goal)];
    tags.extend(
        achievement
            .filter(|a| task_key(a) != task_key(goal))
            .map(task_tag),
    );
    tags
}

/// A task as it is matched: its words (`session::task_words`: lower case, no articles or
/// counts) joined by `_` (so `Collect sapling`, `collect_sapling`, `Collect a sapling` and
/// `Collect_Sapling.` are one task). A task written `name: what to do` (an environment's need)
/// is its name alone, so a skill stored for it is found again when the wording changes.
fn task_key(goal: &str) -> String {
    let named = goal
        .split_once(':')
        .map(|(name, _)| name.trim())
        .filter(|name| !name.is_empty() && !name.contains(char::is_whitespace));
    super::session::task_words(named.unwrap_or(goal)).join("_")
}

/// Whether `skill` was stored for the task `key`.
fn done_task(skill: &Skill, key: &str) -> bool {
    skill
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("task:"))
        .any(|t| task_key(t) == key)
}

/// The library's skills that work: more successes than failures (any version). Empty without
/// memory, with the library off, or with `reuse_skills` off. An iteration reads them once.
pub async fn working(work: &mut Work<'_>) -> Result<Vec<Found>, AgentError> {
    let config = &work.config().voyager;
    let Some(memory) = work
        .memory()
        .filter(|_| config.skill_library && config.reuse_skills)
    else {
        return Ok(Vec::new());
    };
    let records = memory
        .records(&Filter::library_skills(&config.library))
        .await?;
    Ok(records
        .into_iter()
        .filter_map(|hit| match hit.record {
            Record::Skill(skill) => Some(Found { id: hit.id, skill }),
            _ => None,
        })
        .filter(|f| f.skill.successes > f.skill.failures)
        .collect())
}

/// The skill to run first for `goal`, without asking the model: of the `working` skills
/// stored when the same task was done, the one with the most successes beyond its failures
/// (then the newest).
pub fn for_task(working: &[Found], goal: &str) -> Option<Found> {
    let wanted = task_key(goal);
    working
        .iter()
        .filter(|f| done_task(&f.skill, &wanted))
        .max_by_key(|f| {
            let margin = i64::from(f.skill.successes) - i64::from(f.skill.failures);
            (margin, f.skill.version, f.skill.created_at)
        })
        .cloned()
}

/// The tasks (as task keys: `collect_wood`) the `working` skills were stored for, which
/// `for_task` would run without asking the model.
pub fn working_tasks(working: &[Found]) -> BTreeSet<String> {
    working
        .iter()
        .flat_map(|f| f.skill.tags.iter())
        .filter_map(|t| t.strip_prefix("task:"))
        .map(task_key)
        .collect()
}

/// Whether `goal` is one of `skilled` (`working_tasks`): `for_task` has a skill to run for it.
pub fn can_do(skilled: &BTreeSet<String>, goal: &str) -> bool {
    skilled.contains(&task_key(goal))
}

/// The top `skills_k` skills for `query` (the task and its context); none without memory or
/// with the library turned off.
pub async fn retrieve(work: &mut Work<'_>, query: &str) -> Result<Vec<Found>, AgentError> {
    let config = &work.config().voyager;
    let Some(memory) = work
        .memory()
        .filter(|_| config.skill_library && config.skills_k > 0)
    else {
        return Ok(Vec::new());
    };
    let ranked = memory
        .ranked_skills(query, &config.library, config.skills_k, FAILURE_PENALTY)
        .await?;
    Ok(ranked
        .into_iter()
        .filter_map(|hit| match hit.record {
            Record::Skill(skill) => Some(Found { id: hit.id, skill }),
            _ => None,
        })
        .collect())
}

/// Every skill of the library, latest versions only, by name.
pub async fn all_latest(work: &mut Work<'_>) -> Result<Vec<Found>, AgentError> {
    let Some(memory) = work.memory() else {
        return Ok(Vec::new());
    };
    let latest = memory
        .library_skills(&work.config().voyager.library)
        .await?;
    Ok(latest
        .into_iter()
        .filter_map(|hit| match hit.record {
            Record::Skill(skill) => Some(Found { id: hit.id, skill }),
            _ => None,
        })
        .collect())
}

/// Stores the program that did `goal` as a skill: its main function (with the skills it
/// calls, so it runs on its own), its docstring (else the task) as the description. The same
/// code under the same name is `unchanged`; new code under a known name is its next version.
/// A main named like an API function (`place_stone`, Crafter's action) is stored renamed
/// `NAME_skill`, its uses with it (the outcome says so). Returns the name and version stored.
pub async fn store(
    work: &mut Work<'_>,
    iteration: u32,
    goal: &str,
    achievement: Option<&str>,
    program: &Program,
    api_names: &[String],
) -> Result<Option<(String, u32)>, AgentError> {
    let Some(memory) = work
        .memory()
        .filter(|_| work.config().voyager.skill_library)
    else {
        return Ok(None);
    };
    let Some(main) = program.main.clone() else {
        return Ok(None);
    };
    let clashes = api_names.iter().any(|n| n == &main);
    let renamed;
    let (program, name) = if clashes {
        let name = format!("{main}_skill");
        renamed = program.with_main_named(&name);
        (&renamed, name)
    } else {
        (program, main.clone())
    };
    let code = program.skill_code();
    let description = program
        .docstring()
        .map(|d| format!("{d} (task: {goal})"))
        .unwrap_or_else(|| format!("{name}: {goal}"));
    let emit = |work: &Work<'_>, version: u32, outcome: &str| {
        let outcome = if clashes {
            format!("{outcome} (renamed from {main}, an API function's name)")
        } else {
            outcome.to_string()
        };
        work.events().emit(Event::SkillWrite {
            task_id: work.task().id.clone(),
            iteration,
            name: name.clone(),
            version,
            outcome,
            description: description.clone(),
            code: code.clone(),
        })
    };
    let latest = all_latest(work)
        .await?
        .into_iter()
        .find(|f| f.skill.name == name);
    let version = match &latest {
        Some(f) if f.skill.code == code => {
            emit(work, f.skill.version, "unchanged");
            return Ok(Some((name.clone(), f.skill.version)));
        }
        Some(f) => f.skill.version + 1,
        None => 1,
    };
    let skill = Skill {
        name: name.clone(),
        description: description.clone(),
        code: code.clone(),
        language: "python".into(),
        version,
        successes: 1,
        failures: 0,
        library: work.config().voyager.library.clone(),
        tags: task_tags(goal, achievement)
            .into_iter()
            .chain([tag(work), work.run_tag()])
            .collect(),
        created_at: memory::record::now(),
    };
    let outcome = match memory.remember(Record::Skill(skill)).await? {
        Stored::New(_) if version > 1 => "new_version",
        Stored::New(_) => "new",
        _ => "unchanged",
    };
    emit(work, version, outcome);
    Ok(Some((name, version)))
}

/// Counts one use of each skill in `used` the program called (or is: a replayed skill), as a
/// success or a failure.
pub async fn count_uses(
    work: &mut Work<'_>,
    used: &[Found],
    program: &Program,
    success: bool,
) -> Result<(), AgentError> {
    let Some(memory) = work.memory() else {
        return Ok(());
    };
    let ran = |f: &&Found| program.calls(&f.skill.name) || program.code == f.skill.code;
    for found in used.iter().filter(ran) {
        memory.record_skill_use(&found.id, success).await?;
    }
    Ok(())
}

/// The memory task id of a goal's reflections: the task as it is matched (`task_key`), so a
/// lesson on "Collect sapling" is found again for `collect_sapling`.
fn lesson_task(work: &Work<'_>, goal: &str) -> String {
    format!("{}:{}", work.task().suite, task_key(goal))
}

/// The latest two reflections of this library on earlier failures of `goal`, oldest first.
pub async fn lessons(work: &mut Work<'_>, goal: &str) -> Result<Vec<String>, AgentError> {
    let Some(memory) = work.memory() else {
        return Ok(Vec::new());
    };
    let filter = Filter::all()
        .task(lesson_task(work, goal))
        .tags_any(vec![tag(work)]);
    let recent = memory.recent_reflections_where(filter, 2).await?;
    let mut texts: Vec<String> = recent
        .into_iter()
        .filter_map(|r| match r.record {
            Record::Reflection(x) => Some(x.text),
            _ => None,
        })
        .collect();
    texts.reverse();
    Ok(texts)
}

/// Stores a reflection on a failed `goal`.
pub async fn remember_lesson(
    work: &mut Work<'_>,
    iteration: u32,
    goal: &str,
    text: &str,
) -> Result<(), AgentError> {
    let Some(memory) = work.memory().filter(|_| !text.trim().is_empty()) else {
        return Ok(());
    };
    let record = Record::Reflection(Reflection {
        task_id: lesson_task(work, goal),
        env: work.task().suite.clone(),
        trial: iteration,
        text: text.to_string(),
        outcome: "not done".into(),
        score: 0.0,
        tags: vec![tag(work), work.run_tag()],
        created_at: memory::record::now(),
    });
    let (id, outcome) = match memory.remember(record).await? {
        Stored::New(id) => (id, "new"),
        Stored::Unchanged(id) => (id, "unchanged"),
        Stored::Merged { into, .. } => (into, "merged"),
    };
    work.events().emit(Event::MemoryWrite {
        task_id: work.task().id.clone(),
        trial: iteration,
        id,
        outcome: outcome.into(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::task_key;

    #[test]
    fn one_task_however_it_is_written() {
        for goal in [
            "Collect sapling",
            "collect_sapling",
            " Collect_Sapling.",
            "collect  sapling",
            "Collect a sapling",
        ] {
            assert_eq!(task_key(goal), "collect_sapling", "{goal}");
        }
        for need in [
            "restore_drink: drink water until drink is at least 7",
            "restore_drink: drink water until drink is full (9)",
        ] {
            assert_eq!(task_key(need), "restore_drink", "{need}");
        }
        assert_eq!(
            task_key("Make a pickaxe: the wooden one"),
            "make_pickaxe_wooden"
        );
    }
}
