//! The automatic curriculum: the model proposes the next task from the state, the
//! achievements and the tasks done and failed; the environment's warm-up order is the fallback
//! (and, with the curriculum off, the fixed task list).

use super::library;
use super::session::{locked_of, needs_of, Check, Session};
use crate::agent::{AgentError, Work};
use serde_json::json;
use std::collections::BTreeSet;

/// The next task and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The task.
    pub goal: String,
    /// `model`, `fixed`, `need`, or `fallback: why`.
    pub by: String,
    /// How an urgent need's task is judged (the environment's check), if the task is one.
    pub check: Option<Check>,
    /// How an urgent need is done, when the environment says.
    pub how: Option<String>,
}

impl Proposal {
    fn new(goal: String, by: &str) -> Self {
        Self {
            goal,
            by: by.to_string(),
            check: None,
            how: None,
        }
    }
}

/// Tasks of the current episode that were done, and those that failed (with counts).
fn episode_tasks(session: &Session) -> (Vec<String>, Vec<(String, u32)>) {
    let mut done = Vec::new();
    let mut failed: Vec<(String, u32)> = Vec::new();
    for it in session
        .history
        .iter()
        .filter(|h| h.episode == session.episode())
    {
        if it.success {
            if !done.contains(&it.goal) {
                done.push(it.goal.clone());
            }
        } else if let Some(f) = failed.iter_mut().find(|(g, _)| *g == it.goal) {
            f.1 += 1;
        } else {
            failed.push((it.goal.clone(), 1));
        }
    }
    (done, failed)
}

/// How often `goal` failed this episode.
fn failures(session: &Session, goal: &str) -> u32 {
    let (_, failed) = episode_tasks(session);
    failed
        .iter()
        .find(|(g, _)| g.eq_ignore_ascii_case(goal))
        .map_or(0, |f| f.1)
}

/// How often `goal` failed this episode since it last succeeded.
fn failures_in_a_row(session: &Session, goal: &str) -> u32 {
    session
        .history
        .iter()
        .rev()
        .filter(|h| h.episode == session.episode() && h.goal.eq_ignore_ascii_case(goal))
        .take_while(|h| !h.success)
        .count() as u32
}

/// The most urgent need the environment reports that has not failed `max_failures` times in a
/// row this episode.
fn urgent(session: &Session, max_failures: u32) -> Option<Proposal> {
    let need = needs_of(&session.observation)
        .into_iter()
        .find(|n| failures_in_a_row(session, &n.task) < max_failures)?;
    Some(Proposal {
        goal: need.task,
        by: "need".into(),
        check: Some(need.check),
        how: need.how,
    })
}

/// Whether `goal` names an achievement this episode has unlocked already.
fn unlocked(session: &Session, goal: &str) -> bool {
    session
        .world
        .achievement_of(goal)
        .is_some_and(|a| session.episode_achievements().iter().any(|x| x == a))
}

/// What to do instead of `goal` when it names an achievement the environment reports locked:
/// the achievement to do first, followed through the environment's map (`collect_diamond` →
/// `make_iron_pickaxe` → … → `make_wood_pickaxe`) to one that is not locked, or to one the
/// library holds a working skill for (`skilled`, `library::working_tasks`; a skill may do what
/// its task needs first itself; so is `goal` kept when the library has one for it).
fn prerequisite(session: &Session, goal: &str, skilled: &BTreeSet<String>) -> Option<String> {
    let locked = locked_of(&session.observation);
    let mut at = session.world.achievement_of(goal)?;
    let mut steps = 0;
    while let Some(next) = locked.get(at).filter(|n| *n != at && steps <= locked.len()) {
        if library::can_do(skilled, at) {
            break;
        }
        at = next;
        steps += 1;
    }
    (steps > 0).then(|| at.to_string())
}

/// The next task of the warm-up order: of those not unlocked this episode and not failed too
/// often, first one the library has a working skill for (`skilled`, task keys; its skill runs
/// without a model call and may do what the task needs first itself), then the first not
/// locked; if every one failed too often, the first not unlocked; if all are unlocked, the
/// first.
pub fn next_fixed(session: &Session, max_failures: u32, skilled: &BTreeSet<String>) -> String {
    let unlocked = session.episode_achievements();
    let locked = locked_of(&session.observation);
    let open = |t: &&String| !unlocked.contains(t);
    let warmup = &session.world.warmup;
    let tried = |t: &&String| failures(session, t) < max_failures;
    warmup
        .iter()
        .filter(open)
        .filter(tried)
        .find(|t| library::can_do(skilled, t))
        .or_else(|| {
            warmup
                .iter()
                .filter(open)
                .filter(|t| !locked.contains_key(*t))
                .find(tried)
        })
        .or_else(|| warmup.iter().find(open))
        .or_else(|| warmup.first())
        .cloned()
        .unwrap_or_else(|| "explore".into())
}

/// `goal` without a failure count copied from the prompt's list (`collect_wood (2x)`).
fn without_count(goal: &str) -> &str {
    let Some((head, tail)) = goal.rsplit_once(" (") else {
        return goal;
    };
    let count = tail.strip_suffix("x)").unwrap_or("");
    if !count.is_empty() && count.chars().all(|c| c.is_ascii_digit()) {
        head.trim_end()
    } else {
        goal
    }
}

/// The task in a curriculum reply: the text after `Task:` (else the first line), one line,
/// without quotes or markup or a copied failure count; `None` when nothing usable is left.
pub fn parse_task(reply: &str) -> Option<String> {
    let line = reply
        .lines()
        .find_map(|l| {
            let l = l.trim();
            let lower = l.to_lowercase();
            lower.find("task:").map(|i| l[i + 5..].to_string())
        })
        .or_else(|| {
            reply
                .lines()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })?;
    let trim = |t: &str| -> String {
        t.trim_matches(|c: char| {
            c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '*' | '.' | '-' | ':')
        })
        .to_string()
    };
    let goal: String = trim(without_count(&trim(&line))).chars().take(80).collect();
    (goal.len() >= 3).then_some(goal)
}

/// The next task: an urgent need the environment reports (when `needs` is on; no call); else
/// the model's proposal (one call) when the curriculum is on and a call is left, or what it
/// needs first where the environment reports it locked; the warm-up order otherwise, or when
/// the reply is unreadable, names an achievement unlocked already this episode, or a task (or
/// the task it needs first) that failed `max_task_failures` times this episode. Without the
/// last, the 1.5B model's "Collect iron" turned into `make_stone_pickaxe` after its third
/// failure, and again, five iterations in a row. `skilled`: the tasks the library holds a
/// working skill for (`library::working_tasks`).
pub async fn propose(
    work: &mut Work<'_>,
    session: &Session,
    skilled: &BTreeSet<String>,
) -> Result<Proposal, AgentError> {
    let config = work.config().voyager.clone();
    if let Some(need) = urgent(session, config.max_task_failures).filter(|_| config.needs) {
        return Ok(need);
    }
    let fixed =
        |by: &str| Proposal::new(next_fixed(session, config.max_task_failures, skilled), by);
    if !config.curriculum {
        return Ok(fixed("fixed"));
    }
    let (done, failed) = episode_tasks(session);
    let have = session.episode_achievements();
    let open: Vec<&String> = session
        .world
        .warmup
        .iter()
        .filter(|t| !have.contains(t))
        .collect();
    let open_skilled: Vec<&&String> = open
        .iter()
        .filter(|t| library::can_do(skilled, t))
        .collect();
    let context = json!({
        "open": open,
        "skilled": open_skilled,
        "state": super::session::state_of(&session.observation),
        "achievements": session.episode_achievements(),
        "achievements_all": session.world.achievements_all,
        "warmup": session.world.warmup,
        "done": done.iter().rev().take(10).collect::<Vec<_>>(),
        "failed": failed.iter().rev().take(10).map(|(g, n)| format!("{g} ({n}x)")).collect::<Vec<_>>(),
    });
    let prompt = work.prompts().render("voyager_curriculum", &context)?;
    let label = session.iteration + 1;
    let Ok(reply) = super::ask_greedy(work, "curriculum", label, prompt, 48).await? else {
        return Ok(fixed("fallback: the prompt was too long"));
    };
    let Some(goal) = parse_task(&reply) else {
        return Ok(fixed("fallback: the reply named no task"));
    };
    if unlocked(session, &goal) {
        return Ok(fixed(&format!(
            "fallback: {goal:?} is unlocked already this episode"
        )));
    }
    let failed = failures(session, &goal);
    if failed >= config.max_task_failures {
        return Ok(fixed(&format!(
            "fallback: {goal:?} failed {failed} times this episode"
        )));
    }
    let Some(first) = prerequisite(session, &goal, skilled) else {
        return Ok(Proposal::new(goal, "model"));
    };
    let failed = failures(session, &first);
    Ok(if failed >= config.max_task_failures {
        fixed(&format!(
            "fallback: {goal:?} needs {first} first, which failed {failed} times this episode"
        ))
    } else {
        Proposal::new(
            first.clone(),
            &format!("prerequisite: {goal:?} needs {first} first"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_read_from_the_reply() {
        assert_eq!(
            parse_task("Reasoning...\nTask: Collect 3 wood.").as_deref(),
            Some("Collect 3 wood")
        );
        assert_eq!(
            parse_task("**task:** `make_wood_pickaxe`").as_deref(),
            Some("make_wood_pickaxe")
        );
        assert_eq!(
            parse_task("place_table\nbecause").as_deref(),
            Some("place_table")
        );
        assert_eq!(
            parse_task("Task: Collect wood (1x)").as_deref(),
            Some("Collect wood")
        );
        assert_eq!(
            parse_task("Task: mine (carefully)").as_deref(),
            Some("mine (carefully)")
        );
        assert_eq!(parse_task("  \n"), None);
        assert_eq!(parse_task("Task: ."), None);
    }
}
