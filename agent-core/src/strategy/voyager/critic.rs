//! Whether a program did its task: the environment's check where the task is an urgent need it
//! reported, a programmatic check where the task names an achievement the environment reports,
//! else the self-verification critic (the model judges from the state
//! before and after, with a reason), else (the critic off) "it ran without an error". With
//! `environment_checks` off, the environment's reports judge nothing (an ablation).

use super::session::{Check, Session, Status};
use crate::agent::{AgentError, Work};
use environments::Observation;
use serde_json::json;

/// A judgement of one round.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Judged done.
    pub success: bool,
    /// Why, for the next round's prompt and the events.
    pub reason: String,
}

/// The critic's reply read: `success` true/false (JSON, or `success: yes/no`) and its reason;
/// `None` when it says neither.
pub fn parse_critique(reply: &str) -> Option<Verdict> {
    let lower = reply.to_lowercase();
    let at = lower.find("success")?;
    let rest = lower[at + 7..].trim_start_matches(['"', ':', ' ', '*']);
    let success = if rest.starts_with("true") || rest.starts_with("yes") {
        true
    } else if rest.starts_with("false") || rest.starts_with("no") {
        false
    } else {
        return None;
    };
    let unfenced = reply
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let reason = serde_json::from_str::<serde_json::Value>(unfenced)
        .ok()
        .and_then(|v| {
            v.get("critique")
                .or_else(|| v.get("reasoning"))
                .and_then(|r| r.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            reply
                .lines()
                .find(|l| !l.to_lowercase().contains("success") && !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        });
    Some(Verdict { success, reason })
}

/// A programmatic verdict: whether the environment reports `what`.
fn reported(success: bool, what: &str) -> Verdict {
    let reason = if success {
        format!("the environment reports {what}")
    } else {
        format!("the environment does not report {what}")
    };
    Verdict { success, reason }
}

/// The verdict of what the environment reports, where the task is a need (its check) or names
/// an achievement not unlocked before the round; `None` for a free-form task.
fn programmatic(
    session: &Session,
    goal: &str,
    check: Option<&Check>,
    before: &Observation,
    status: &Status,
) -> Option<Verdict> {
    if let Some(check) = check {
        let success = check.holds(&session.observation.data) == Some(true);
        return Some(reported(success, &check.describe()));
    }
    let had = Status::of(before).achievements;
    let achievement = session
        .world
        .achievement_of(goal)
        .filter(|a| !had.iter().any(|h| h == a))?;
    let success = status.achievements.iter().any(|a| a == achievement);
    Some(reported(success, &format!("{achievement} unlocked")))
}

/// Judges a round. A failed run is judged by its error, unless the world stopped it (a need
/// interrupted it, the player died) after the environment's check already held.
pub async fn judge(
    work: &mut Work<'_>,
    session: &Session,
    goal: &str,
    check: Option<&Check>,
    before: &Observation,
    status: &Status,
) -> Result<Verdict, AgentError> {
    let by_environment = if work.config().voyager.environment_checks {
        programmatic(session, goal, check, before, status)
    } else {
        None
    };
    if let Some(error) = &status.error {
        return Ok(match by_environment {
            Some(v) if v.success && status.stopped_by_world() => v,
            _ => Verdict {
                success: false,
                reason: format!("the program failed: {error}"),
            },
        });
    }
    if let Some(verdict) = by_environment {
        return Ok(verdict);
    }
    if !work.config().voyager.critic || !work.can_call(1) {
        return Ok(Verdict {
            success: true,
            reason: "the program ran without an error (no critic)".into(),
        });
    }
    let prompt = work.prompts().render(
        "voyager_critic",
        json!({"goal": goal, "before": super::session::state_of(before), "after": session.observation.text}),
    )?;
    let label = session.iteration + 1;
    let reply = match super::ask_greedy(work, "critic", label, prompt, 96).await? {
        Ok(reply) => reply,
        Err(why) => {
            return Ok(Verdict {
                success: false,
                reason: format!("the critic's prompt did not fit the model's context ({why})"),
            })
        }
    };
    Ok(parse_critique(&reply).unwrap_or(Verdict {
        success: false,
        reason: format!(
            "the critic's reply said neither success true nor false: {:?}",
            reply.chars().take(120).collect::<String>()
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critiques_are_read_in_either_form() {
        let v = parse_critique(r#"{"success": false, "critique": "It has no wood."}"#).unwrap();
        assert!(!v.success);
        assert_eq!(v.reason, "It has no wood.");
        let v = parse_critique("The inventory now holds 2 wood.\nSuccess: yes").unwrap();
        assert!(v.success);
        assert_eq!(v.reason, "The inventory now holds 2 wood.");
        assert_eq!(parse_critique("I cannot tell."), None);
        let fenced = "```json\n{\n  \"success\": false,\n  \"critique\": \"No water.\"\n}\n```";
        assert_eq!(parse_critique(fenced).unwrap().reason, "No water.");
    }
}
