//! Acting in an episode, one model call per action: what the model is shown (a [`Transcript`]),
//! the call, and the action read out of its reply. [`super::actor::EpisodeActor`] plays whole
//! episodes with it; `mcts` asks it for the candidate actions of a state.

use super::work::{Ask, Work};
use super::AgentError;
use crate::llm::Message;
use environments::Action;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One turn of an episode: the action and what the environment answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// The action as sent.
    pub action: String,
    /// The observation after it.
    pub observation: String,
}

/// An episode as a transcript: the first observation and every turn since.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The observation after `reset`.
    pub start: String,
    /// The turns, in order.
    pub turns: Vec<Turn>,
}

impl Transcript {
    /// The actions taken, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.turns.iter().map(|t| Action::act(&t.action)).collect()
    }

    /// The latest observation.
    pub fn last_observation(&self) -> &str {
        self.turns.last().map_or(&self.start, |t| &t.observation)
    }
}

/// How the next action is asked for.
#[derive(Clone, Copy, Debug)]
pub struct Sampling {
    /// The attempt (trial, node) the call belongs to, for events.
    pub label: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Sampling seed.
    pub seed: Option<u64>,
}

/// Asks the model for the next action of `transcript`, showing `lessons` (reflections on
/// earlier failures). An action that would repeat the last `episode.max_repeats` actions once
/// more is asked again (seeded samples, at most two more calls, as the budget allows). Counts one
/// call or more; the caller checks the budget for the first.
pub async fn next_action(
    work: &mut Work<'_>,
    transcript: &Transcript,
    lessons: &[String],
    sampling: Sampling,
) -> Result<Action, AgentError> {
    let messages = action_messages(work, transcript, lessons)?;
    let mut action = ask_action(work, &messages, sampling).await?;
    let settings = work.config().episode.clone();
    for retry in 0..2u32 {
        if !repeats(transcript, &action.content, settings.max_repeats) || !work.can_call(1) {
            break;
        }
        let turn = transcript.turns.len();
        let key = format!("{}#{}@{turn}", work.task().id, sampling.label);
        let resample = Sampling {
            temperature: settings.repeat_temperature,
            seed: Some(crate::strategy::best_of_n::sample_seed(&key, retry)),
            ..sampling
        };
        action = ask_action(work, &messages, resample).await?;
    }
    Ok(action)
}

/// `action` would be the same as each of the last `max_repeats` actions (0: never).
fn repeats(transcript: &Transcript, action: &str, max_repeats: u32) -> bool {
    let n = max_repeats as usize;
    n > 0
        && transcript.turns.len() >= n
        && transcript.turns[transcript.turns.len() - n..]
            .iter()
            .all(|t| t.action.trim().eq_ignore_ascii_case(action.trim()))
}

fn action_messages(
    work: &Work<'_>,
    transcript: &Transcript,
    lessons: &[String],
) -> Result<Vec<Message>, AgentError> {
    let context = json!({
        "prompt": work.task().prompt,
        "lessons": lessons,
        "start": transcript.start,
        "transcript": transcript.turns,
    });
    let prompts = work.prompts();
    Ok(vec![
        Message::system(prompts.render("episode_system", &context)?),
        Message::user(prompts.render("episode_user", &context)?),
    ])
}

async fn ask_action(
    work: &mut Work<'_>,
    messages: &[Message],
    sampling: Sampling,
) -> Result<Action, AgentError> {
    let reply = work
        .ask(Ask {
            purpose: "act",
            label: sampling.label,
            messages: messages.to_vec(),
            temperature: sampling.temperature,
            max_tokens: work.config().episode.action_max_tokens,
            seed: sampling.seed,
        })
        .await?;
    Ok(Action::act(action_of(&reply)))
}

/// The action in a reply: its first non-blank line, without code fences, a leading `>` or an
/// `Action:` label.
pub fn action_of(reply: &str) -> String {
    let line = reply
        .lines()
        .map(|l| l.trim().trim_matches('`').trim())
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = line.trim_start_matches('>').trim_start();
    let lower = line.to_ascii_lowercase();
    let line = if lower.starts_with("action:") {
        line["action:".len()..].trim_start()
    } else {
        line
    };
    line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::{action_of, repeats, Transcript, Turn};

    #[test]
    fn a_loop_is_the_same_action_more_than_max_repeats_times_in_a_row() {
        let turn = |a: &str| Turn {
            action: a.into(),
            observation: "Nothing.".into(),
        };
        let transcript = Transcript {
            start: "Start.".into(),
            turns: vec![turn("look"), turn("get 1 sand"), turn("Get 1 sand")],
        };
        assert!(repeats(&transcript, "get 1 sand", 2));
        assert!(!repeats(&transcript, "get 1 sand", 3));
        assert!(!repeats(&transcript, "get 4 sand", 2));
        assert!(!repeats(&transcript, "get 1 sand", 0));
    }

    #[test]
    fn the_action_is_the_first_line_without_decoration() {
        assert_eq!(action_of("get 1 oak logs\nthen craft"), "get 1 oak logs");
        assert_eq!(
            action_of("\n```\n> craft 4 oak planks using 1 oak logs\n```"),
            "craft 4 oak planks using 1 oak logs"
        );
        assert_eq!(action_of("Action: inventory"), "inventory");
        assert_eq!(action_of("  `look`  "), "look");
        assert_eq!(action_of(""), "");
    }
}
