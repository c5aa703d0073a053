//! `mcts`: Monte Carlo tree search over the actions of an environment (LATS's search for
//! decision-making tasks, Zhou et al. 2023), on the same `petgraph` tree as `lats`. A node is a
//! state: the observation reached by the actions on its path.
//!
//! ```text
//! root = the state after reset
//! until an episode reaches the goal, or the budget (calls, tokens, nodes) is spent:
//!   select   descend by UCT to an expandable state (not expanded, not the end of an episode)
//!   expand   ask for `children` candidate actions (greedy first if the state has no child, then
//!            seeded samples), each shown the goal, the path so far and the reflections on
//!            failed branches; step each distinct one from the state (a repeated action is
//!            charged, not stepped)
//!   evaluate optionally the model's estimate of each new state (λ = value_weight)
//!   rollout  from the first new state, greedy actions until the episode ends (each a node)
//!   back up  the episode's reward (success 1) from where it ended to the root
//!   reflect  on an episode that failed; later prompts see the reflection
//! submit the first episode that reached the goal, else the best by reward (ties: earliest)
//! ```
//!
//! States are reached by `snapshot`/`restore` where the environment has them, else by replay
//! ([`states`]). The tree is saved with the task's books after every node, and the phase of the
//! iteration with it, so a search killed anywhere resumes with the same tree.

pub mod states;

use super::best_of_n::sample_seed;
use super::lats::tree::{Node, Tree, UctParams};
use super::lats::{ask_score, tree_from_saved, tree_to_saved};
use super::Strategy;
use crate::agent::actor::played;
use crate::agent::episode::{next_action, Sampling, Transcript, Turn};
use crate::agent::{AgentError, Event, Work};
use crate::llm::Message;
use async_trait::async_trait;
use environments::EnvError;
use serde::{Deserialize, Serialize};
use states::States;
use std::collections::BTreeMap;

/// Monte Carlo tree search over an environment's actions.
pub struct Mcts;

/// Where an iteration was when the checkpoint was written.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Phase {
    /// Adding children to `node`; children with ids from `first_new` are this expansion's.
    Expanding { node: usize, first_new: usize },
    /// Playing on greedily; the last state made is `at`.
    RollingOut { at: usize },
}

/// What a checkpoint holds besides the books.
#[derive(Serialize, Deserialize)]
struct Saved {
    tree: serde_json::Value,
    #[serde(default)]
    phase: Option<Phase>,
    /// Candidate actions asked for per node, repeats included (so seeds stay distinct).
    #[serde(default)]
    proposed: BTreeMap<usize, u32>,
    /// Why states are replayed rather than restored, if they are.
    #[serde(default)]
    replaying: Option<String>,
}

/// The search in progress.
struct Search {
    tree: Tree,
    phase: Option<Phase>,
    proposed: BTreeMap<usize, u32>,
    states: States,
}

#[async_trait]
impl Strategy for Mcts {
    fn name(&self) -> &'static str {
        "mcts"
    }

    async fn solve(&self, work: &mut Work<'_>) -> Result<(), AgentError> {
        super::refuse_code(
            work,
            "mcts",
            "it searches over the actions of an environment; for code, use lats",
        )?;
        let mut search = start(work).await?;
        finish_ended_episodes(work, &mut search).await?;
        if let Some(phase) = search.phase {
            resume_iteration(work, &mut search, phase).await?;
        }
        while let Some(node) = next_to_expand(work, &search) {
            iterate(work, &mut search, node).await?;
        }
        work.choose(submission(&search.tree));
        Ok(())
    }
}

/// The tree from the checkpoint, or a new one rooted at the start state.
async fn start(work: &mut Work<'_>) -> Result<Search, AgentError> {
    if let Some(saved) = work.resume::<Saved>()? {
        let tree = tree_from_saved(work, &saved.tree)?;
        let (states, _) = States::start(work, Some(&tree)).await?;
        return Ok(Search {
            tree,
            phase: saved.phase,
            proposed: saved.proposed,
            states,
        });
    }
    let (states, observation) = States::start(work, None).await?;
    let root = Node::state("", observation, 0.0, None, work.calls());
    let search = Search {
        tree: Tree::new(root),
        phase: None,
        proposed: BTreeMap::new(),
        states,
    };
    save(work, &search)?;
    Ok(search)
}

/// The state to expand next, or `None`: an episode reached the goal, no call is left, the tree
/// is full, or nothing is left to expand.
fn next_to_expand(work: &Work<'_>, search: &Search) -> Option<usize> {
    let full = search.tree.len() >= work.config().mcts.max_nodes as usize;
    if search.tree.first_passing().is_some() || !work.can_call(1) || full {
        return None;
    }
    let params = UctParams {
        exploration: work.config().mcts.exploration,
        depth_penalty: 0.0,
        duplicate_penalty: 0.0,
    };
    search.tree.select(&params)
}

/// One iteration from `node`: expand, evaluate, roll out, back up, reflect.
async fn iterate(work: &mut Work<'_>, search: &mut Search, node: usize) -> Result<(), AgentError> {
    let phase = Phase::Expanding {
        node,
        first_new: search.tree.len(),
    };
    search.phase = Some(phase);
    save(work, search)?;
    resume_iteration(work, search, phase).await
}

/// Carries an iteration on from `phase` to its end.
async fn resume_iteration(
    work: &mut Work<'_>,
    search: &mut Search,
    phase: Phase,
) -> Result<(), AgentError> {
    let rollout_from = match phase {
        Phase::Expanding { node, first_new } => {
            expand(work, search, node).await?;
            finish_ended_episodes(work, search).await?;
            let new: Vec<usize> = (first_new..search.tree.len()).collect();
            let open: Vec<usize> = new
                .into_iter()
                .filter(|&id| search.tree.expandable(id))
                .collect();
            let chosen = evaluate_new(work, search, &open).await?;
            let solved = search.tree.first_passing().is_some();
            chosen.filter(|_| work.config().mcts.rollout && !solved)
        }
        Phase::RollingOut { at } => Some(at),
    };
    if let Some(at) = rollout_from {
        search.phase = Some(Phase::RollingOut { at });
        save(work, search)?;
        let end = rollout(work, search, at).await?;
        if search.tree.node(end).candidate.is_none() {
            finish_episode(work, search, end).await?;
        }
    }
    search.phase = None;
    save(work, search)
}

/// Asks for `node`'s candidate actions until it has `children` of them (repeats included), and
/// steps each new one from `node`'s state.
async fn expand(work: &mut Work<'_>, search: &mut Search, node: usize) -> Result<(), AgentError> {
    let settings = work.config().mcts.clone();
    loop {
        let asked = search.proposed.get(&node).copied().unwrap_or(0);
        let had = search.tree.children(node).len();
        if asked >= settings.children || !work.can_call(1) || full(work, search) {
            break;
        }
        let label = search.tree.len() as u32 + 1;
        let sampling = if had == 0 && asked == 0 {
            Sampling {
                label,
                temperature: 0.0,
                seed: None,
            }
        } else {
            let seed = sample_seed(&format!("{}@{node}", work.task().id), asked);
            Sampling {
                label,
                temperature: settings.temperature,
                seed: Some(seed),
            }
        };
        let transcript = transcript_to(&search.tree, node);
        let lessons = lessons(work, &search.tree);
        let action = next_action(work, &transcript, &lessons, sampling).await?;
        *search.proposed.entry(node).or_insert(0) += 1;
        let repeat = search
            .tree
            .children(node)
            .into_iter()
            .find(|&c| same_action(search.tree.node(c).code.as_deref(), &action.content));
        match repeat {
            Some(earlier) => {
                let mut copy = search.tree.node(earlier).clone();
                copy.duplicate_of = Some(earlier);
                copy.calls_at = work.calls();
                copy.candidate = None;
                (copy.visits, copy.value_sum, copy.expanded) = (0, 0.0, true);
                copy.reflection = None;
                search
                    .tree
                    .add_child(node, copy)
                    .expect("the node is in the tree");
            }
            None => {
                step_to_new(work, search, node, &action.content, label).await?;
            }
        }
        save(work, search)?;
        if search.tree.first_passing().is_some() {
            break;
        }
    }
    search.tree.mark_expanded(node, None);
    Ok(())
}

/// Two actions are the same when they match ignoring case and spacing.
fn same_action(earlier: Option<&str>, action: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    earlier.is_some_and(|e| norm(e) == norm(action))
}

fn full(work: &Work<'_>, search: &Search) -> bool {
    search.tree.len() >= work.config().mcts.max_nodes as usize
}

/// Steps `action` from `parent`'s state and adds the state reached; an action the environment
/// rejects becomes a failed end of an episode with the environment's message.
async fn step_to_new(
    work: &mut Work<'_>,
    search: &mut Search,
    parent: usize,
    action: &str,
    label: u32,
) -> Result<usize, AgentError> {
    search.states.go_to(work, &search.tree, parent).await?;
    work.events().emit(Event::Action {
        task_id: work.task().id.clone(),
        trial: label,
        kind: "act".into(),
        code: action.to_string(),
    });
    let before = search.tree.node(parent).reward;
    let depth = search.tree.node(parent).depth + 1;
    let settings = &work.config().episode;
    let max_depth = work.config().mcts.max_depth.unwrap_or(settings.max_steps);
    let success_reward = settings.success_reward;
    let (node, reached) = match work.env().step(&environments::Action::act(action)).await {
        Ok(step) => {
            let total = before + step.reward;
            let ended = (step.done || depth >= max_depth).then_some(total >= success_reward);
            let node = Node::state(action, step.observation.text, total, ended, work.calls());
            (node, true)
        }
        Err(e @ EnvError::Reported { .. }) => {
            let text = format!("The environment rejected the action: {e}");
            let node = Node::state(action, text, before, Some(false), work.calls());
            (node, false)
        }
        Err(e) => return Err(e.into()),
    };
    let terminal = node.terminal;
    let id = search
        .tree
        .add_child(parent, node)
        .expect("the parent is in the tree");
    match (reached, terminal) {
        (false, _) => search.states.lost(),
        (true, true) => search.states.passed_through(id),
        (true, false) => search.states.arrived(work, id).await?,
    }
    Ok(id)
}

/// The model's estimates of the new open states (with λ > 0; each backed up), and the state to
/// roll out from: the highest estimate, else the first.
async fn evaluate_new(
    work: &mut Work<'_>,
    search: &mut Search,
    open: &[usize],
) -> Result<Option<usize>, AgentError> {
    let weight = work.config().mcts.value_weight;
    if weight <= 0.0 {
        return Ok(open.first().copied());
    }
    let mut best: Option<(usize, f64)> = None;
    for &id in open {
        if search.tree.node(id).visits > 0 || !work.can_call(1) {
            continue;
        }
        let (estimate, unparsed) = estimate(work, &search.tree, id).await?;
        let node = search.tree.node_mut(id);
        node.self_eval = Some(estimate);
        node.self_eval_unparsed = unparsed;
        node.value = (1.0 - weight) * node.reward + weight * estimate;
        let value = node.value;
        search.tree.backpropagate(id, value);
        save(work, search)?;
        if best.is_none_or(|(_, top)| estimate > top) {
            best = Some((id, estimate));
        }
    }
    Ok(best.map(|(id, _)| id).or(open.first().copied()))
}

/// Asks the model how promising `node`'s state is (0–10); no number is a neutral 0.5, flagged.
async fn estimate(
    work: &mut Work<'_>,
    tree: &Tree,
    node: usize,
) -> Result<(f64, bool), AgentError> {
    let transcript = transcript_to(tree, node);
    let context = serde_json::json!({
        "prompt": work.task().prompt,
        "start": transcript.start,
        "transcript": transcript.turns,
    });
    let messages = vec![Message::user(
        work.prompts().render("state_value", context)?,
    )];
    ask_score(work, messages, node as u32 + 1).await
}

/// Plays on from `at` with greedy actions until the episode ends, the budget or the tree is
/// spent; each state is a node, saved as it is made. The last state.
async fn rollout(
    work: &mut Work<'_>,
    search: &mut Search,
    mut at: usize,
) -> Result<usize, AgentError> {
    while !search.tree.node(at).terminal && work.can_call(1) && !full(work, search) {
        let label = search.tree.len() as u32 + 1;
        let transcript = transcript_to(&search.tree, at);
        let lessons = lessons(work, &search.tree);
        let sampling = Sampling {
            label,
            temperature: 0.0,
            seed: None,
        };
        let action = next_action(work, &transcript, &lessons, sampling).await?;
        *search.proposed.entry(at).or_insert(0) += 1;
        at = step_to_new(work, search, at, &action.content, label).await?;
        search.phase = Some(Phase::RollingOut { at });
        save(work, search)?;
    }
    Ok(at)
}

/// Finishes every episode end not yet backed up (after an expansion, or on resume).
async fn finish_ended_episodes(work: &mut Work<'_>, search: &mut Search) -> Result<(), AgentError> {
    let ended: Vec<usize> = search
        .tree
        .ids()
        .filter(|&id| {
            let node = search.tree.node(id);
            node.terminal && node.candidate.is_none() && node.duplicate_of.is_none()
        })
        .collect();
    for id in ended {
        finish_episode(work, search, id).await?;
    }
    Ok(())
}

/// Records the episode ending at `end` as a candidate, reflects on it if it failed (a call
/// permitting), and backs its value up.
async fn finish_episode(
    work: &mut Work<'_>,
    search: &mut Search,
    end: usize,
) -> Result<(), AgentError> {
    let transcript = transcript_to(&search.tree, end);
    let node = search.tree.node(end).clone();
    let success_reward = work.config().episode.success_reward;
    let proposal = played(&transcript, node.reward, success_reward);
    let attempt = work.evaluate(proposal, end as u32 + 1).await?;
    search.tree.node_mut(end).candidate = attempt.candidate;
    if !attempt.passed && node.terminal {
        let reflection = work.reflect(&attempt).await?;
        search.tree.node_mut(end).reflection = reflection;
    }
    let value = if node.terminal {
        f64::from(u8::from(node.passed))
    } else {
        node.value
    };
    search.tree.backpropagate(end, value);
    work.choose(submission(&search.tree));
    save(work, search)
}

/// The transcript of the path from the start to `node`.
fn transcript_to(tree: &Tree, node: usize) -> Transcript {
    let path = tree.path_to(node);
    Transcript {
        start: tree.node(0).feedback.clone(),
        turns: path[1..]
            .iter()
            .map(|&id| Turn {
                action: tree.node(id).code.clone().unwrap_or_default(),
                observation: tree.node(id).feedback.clone(),
            })
            .collect(),
    }
}

/// The reflections written so far on failed episodes, the last `reflections_kept`, oldest first.
fn lessons(work: &Work<'_>, tree: &Tree) -> Vec<String> {
    tree.last_reflections(tree.ids(), work.config().reflections_kept)
}

/// The candidate to submit: the first episode that reached the goal, else the finished episode
/// with the highest reward (ties: the earliest).
fn submission(tree: &Tree) -> Option<usize> {
    if let Some(id) = tree.first_passing() {
        return tree.node(id).candidate;
    }
    let mut best: Option<&Node> = None;
    for id in tree.ids() {
        let node = tree.node(id);
        if node.candidate.is_some() && best.is_none_or(|b| node.reward > b.reward) {
            best = Some(node);
        }
    }
    best.and_then(|n| n.candidate)
}

fn save(work: &Work<'_>, search: &Search) -> Result<(), AgentError> {
    work.save(&Saved {
        tree: tree_to_saved(&search.tree),
        phase: search.phase,
        proposed: search.proposed.clone(),
        replaying: search.states.replaying().map(str::to_string),
    })
}
