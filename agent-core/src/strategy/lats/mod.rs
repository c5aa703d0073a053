//! `lats`: Monte Carlo tree search over attempts (Language Agent Tree Search, Zhou et al. 2023),
//! scored honestly: a node's reward is its internal pass fraction, never a hidden test.
//!
//! ```text
//! root = the greedy attempt
//! until a node passes all its internal tests (≥ 1 test), or the budget is spent:
//!   select   descend by UCT to an expandable node (not expanded, not a duplicate, has code)
//!   reflect  one reflection on it (stored in memory as reflexion's are)
//!   expand   k children, each shown the reflections on its path (and, with
//!            `show_parent_code`, the parent's code and test results); a child whose
//!            normalised code repeats a node is charged, not run
//!   evaluate internal tests (optionally mixed with the model's own estimate, weight λ)
//!   back up  the value to the root
//! submit the first passing node, else the best by internal score (ties: shallowest)
//! ```
//!
//! The tree (a `petgraph` graph, [`tree::Tree`]) is saved with the task's books after every
//! node, so a run killed mid-tree resumes with the same tree and repeats no model call.

pub mod tree;

use super::best_of_n::sample_seed;
use super::reflexion::shown;
use super::Strategy;
use crate::agent::{AgentError, Ask, Attempt, Guidance, Work};
use crate::llm::Message;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tree::{Node, Tree, UctParams};

/// Monte Carlo tree search over attempts.
pub struct Lats;

/// What a checkpoint holds besides the books: the tree, the node whose children are being
/// added, and episodes' transcripts by node.
#[derive(Serialize, Deserialize)]
struct SearchState {
    tree: serde_json::Value,
    #[serde(default)]
    expanding: Option<usize>,
    #[serde(default)]
    traces: BTreeMap<usize, serde_json::Value>,
}

/// The search in progress.
struct Search {
    tree: Tree,
    /// The node reflected on whose children are not all made yet.
    expanding: Option<usize>,
    traces: BTreeMap<usize, serde_json::Value>,
}

#[async_trait]
impl Strategy for Lats {
    fn name(&self) -> &'static str {
        "lats"
    }

    async fn solve(&self, work: &mut Work<'_>) -> Result<(), AgentError> {
        let Some(mut search) = start(work).await? else {
            return Ok(());
        };
        if let Some(parent) = search.expanding {
            add_children(work, &mut search, parent).await?;
        }
        while let Some(selected) = next_to_expand(work, &search) {
            expand(work, &mut search, selected).await?;
        }
        work.choose(submission(&search.tree));
        Ok(())
    }
}

/// The tree from the checkpoint, or a new one rooted at the greedy attempt.
async fn start(work: &mut Work<'_>) -> Result<Option<Search>, AgentError> {
    if let Some(saved) = work.resume::<SearchState>()? {
        let tree = tree_from_saved(work, &saved.tree)?;
        return Ok(Some(Search {
            tree,
            expanding: saved.expanding,
            traces: saved.traces,
        }));
    }
    let guidance = Guidance {
        label: 1,
        temperature: work.config().first_temperature,
        ..Guidance::default()
    };
    let Some(root) = work.attempt(&guidance).await? else {
        return Ok(None);
    };
    let value = value_of(work, &root).await?;
    let mut search = Search {
        tree: Tree::new(node_of(&root, work.calls(), value, None)),
        expanding: None,
        traces: BTreeMap::new(),
    };
    search.tree.backpropagate(0, value.0);
    keep_trace(&mut search, 0, &root);
    work.choose(submission(&search.tree));
    save(work, &search)?;
    Ok(Some(search))
}

/// The node to expand next, or `None` when the search is over: a node passed, the root had no
/// internal test (no signal to search by), the budget cannot pay a reflection and a child, or
/// nothing is left to expand.
fn next_to_expand(work: &Work<'_>, search: &Search) -> Option<usize> {
    let tree = &search.tree;
    if tree.first_passing().is_some() || tree.node(0).tests == 0 || !work.can_call(2) {
        return None;
    }
    tree.select(&uct_params(work))
}

fn uct_params(work: &Work<'_>) -> UctParams {
    let lats = &work.config().lats;
    UctParams {
        exploration: lats.exploration,
        depth_penalty: lats.depth_penalty,
        duplicate_penalty: lats.duplicate_penalty,
    }
}

/// Reflects on `parent` and adds its children.
async fn expand(work: &mut Work<'_>, search: &mut Search, parent: usize) -> Result<(), AgentError> {
    if search.tree.node(parent).depth >= work.config().lats.max_depth {
        search.tree.mark_expanded(parent, None);
        return save(work, search);
    }
    let reflection = work.reflect(&attempt_of(search, parent)).await?;
    search.tree.mark_expanded(parent, reflection);
    search.expanding = Some(parent);
    save(work, search)?;
    add_children(work, search, parent).await
}

/// Adds children to `parent` until it has `children` of them, one passes, or the budget is
/// spent; each child is saved as soon as it is made.
async fn add_children(
    work: &mut Work<'_>,
    search: &mut Search,
    parent: usize,
) -> Result<(), AgentError> {
    let lats = work.config().lats.clone();
    let parent_attempt = attempt_of(search, parent);
    // The reflections on the path from the root to `parent`, oldest first.
    let kept = work.config().reflections_kept;
    let reflections = search
        .tree
        .last_reflections(search.tree.path_to(parent), kept);
    while search.tree.children(parent).len() < lats.children as usize {
        let label = search.tree.len() as u32 + 1;
        let guidance = Guidance {
            label,
            reflections: reflections.clone(),
            previous: shown(&parent_attempt).filter(|_| lats.show_parent_code),
            temperature: lats.temperature,
            seed: Some(sample_seed(&work.task().id, label)),
        };
        let Some(proposal) = work.propose(&guidance).await? else {
            break;
        };
        let solved = add_child(work, search, parent, proposal, label).await?;
        if solved {
            break;
        }
    }
    search.expanding = None;
    save(work, search)
}

/// Evaluates a proposal (or charges it as a duplicate), adds it under `parent`, backs its value
/// up and saves; whether it passed its internal tests.
async fn add_child(
    work: &mut Work<'_>,
    search: &mut Search,
    parent: usize,
    proposal: crate::agent::Proposal,
    label: u32,
) -> Result<bool, AgentError> {
    let duplicate = proposal
        .content
        .as_deref()
        .and_then(|code| search.tree.find_duplicate(code));
    let (attempt, value) = match duplicate {
        Some(earlier) => {
            let attempt = work.repeat(proposal, label, &attempt_of(search, earlier));
            (attempt, (search.tree.node(earlier).value, None, false))
        }
        None => {
            let attempt = work.evaluate(proposal, label).await?;
            let value = value_of(work, &attempt).await?;
            (attempt, value)
        }
    };
    let node = node_of(&attempt, work.calls(), value, duplicate);
    let id = search
        .tree
        .add_child(parent, node)
        .expect("the parent is in the tree");
    search.tree.backpropagate(id, value.0);
    keep_trace(search, id, &attempt);
    work.choose(submission(&search.tree));
    save(work, search)?;
    Ok(attempt.solved())
}

/// The node's value: its internal score, mixed with the model's own estimate when
/// `self_eval_weight` > 0 and a call is left; (value, estimate, estimate unparsed).
async fn value_of(
    work: &mut Work<'_>,
    attempt: &Attempt,
) -> Result<(f64, Option<f64>, bool), AgentError> {
    let weight = work.config().lats.self_eval_weight;
    if weight <= 0.0 || attempt.content.is_none() || attempt.solved() || !work.can_call(1) {
        return Ok((attempt.score, None, false));
    }
    let (estimate, unparsed) = self_evaluate(work, attempt).await?;
    Ok((
        (1.0 - weight) * attempt.score + weight * estimate,
        Some(estimate),
        unparsed,
    ))
}

/// Asks the model how likely the attempt is correct (0–10); a reply without a number there is
/// a neutral 0.5, flagged.
async fn self_evaluate(work: &mut Work<'_>, attempt: &Attempt) -> Result<(f64, bool), AgentError> {
    let context = serde_json::json!({
        "prompt": work.task().prompt,
        "code": attempt.content,
        "feedback": attempt.feedback,
    });
    let messages = vec![Message::user(
        work.prompts().render("self_evaluate", context)?,
    )];
    ask_score(work, messages, attempt.label).await
}

/// Asks `messages` for a score from 0 to 10 (greedy, a few tokens); a reply without a number
/// there is a neutral 0.5, flagged.
pub(crate) async fn ask_score(
    work: &mut Work<'_>,
    messages: Vec<Message>,
    label: u32,
) -> Result<(f64, bool), AgentError> {
    let reply = work
        .ask(Ask {
            purpose: "evaluate",
            label,
            messages,
            temperature: 0.0,
            max_tokens: 8,
            seed: None,
        })
        .await?;
    Ok(match parse_score(&reply) {
        Some(score) => (score, false),
        None => (0.5, true),
    })
}

/// The first number in `reply`, on a 0–10 scale, as a fraction; `None` if there is none or it
/// is out of range.
pub fn parse_score(reply: &str) -> Option<f64> {
    let start = reply.find(|c: char| c.is_ascii_digit())?;
    let rest = &reply[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let number: f64 = rest[..end].trim_end_matches('.').parse().ok()?;
    (0.0..=10.0).contains(&number).then_some(number / 10.0)
}

fn node_of(
    attempt: &Attempt,
    calls_at: u32,
    (value, self_eval, unparsed): (f64, Option<f64>, bool),
    duplicate_of: Option<usize>,
) -> Node {
    let mut node = Node::attempt(
        attempt.content.clone(),
        attempt.feedback.clone(),
        attempt.score,
        attempt.tests,
        calls_at,
    );
    node.passed = attempt.solved();
    node.self_eval = self_eval;
    node.self_eval_unparsed = unparsed;
    node.value = value;
    node.duplicate_of = duplicate_of;
    node.candidate = attempt.candidate;
    node
}

/// A node as an attempt (to reflect on it, or to show it to its children).
fn attempt_of(search: &Search, id: usize) -> Attempt {
    let node = search.tree.node(id);
    Attempt {
        label: id as u32 + 1,
        candidate: node.candidate,
        content: node.code.clone(),
        feedback: node.feedback.clone(),
        score: node.reward,
        tests: node.tests,
        passed: node.passed,
        trace: search.traces.get(&id).cloned().unwrap_or_default(),
    }
}

fn keep_trace(search: &mut Search, id: usize, attempt: &Attempt) {
    if !attempt.trace.is_null() {
        search.traces.insert(id, attempt.trace.clone());
    }
}

/// The candidate to submit: the first node that passed, else the best by internal score.
fn submission(tree: &Tree) -> Option<usize> {
    let node = tree.first_passing().or_else(|| tree.best())?;
    tree.node(node).candidate
}

/// The tree as the JSON value a checkpoint holds.
pub(crate) fn tree_to_saved(tree: &Tree) -> serde_json::Value {
    serde_json::from_slice(&tree.to_json()).expect("the tree's own JSON")
}

/// The tree a checkpoint holds; an error names the task.
pub(crate) fn tree_from_saved(
    work: &Work<'_>,
    saved: &serde_json::Value,
) -> Result<Tree, AgentError> {
    let what = format!("the tree of task {}", work.task().id);
    let bytes = serde_json::to_vec(saved).expect("JSON values serialize");
    Tree::from_json(&bytes, &what).map_err(|e| AgentError::Checkpoint {
        path: what.into(),
        problem: e.to_string(),
    })
}

fn save(work: &Work<'_>, search: &Search) -> Result<(), AgentError> {
    work.save(&SearchState {
        tree: tree_to_saved(&search.tree),
        expanding: search.expanding,
        traces: search.traces.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_score;

    #[test]
    fn self_evaluation_scores_parse_or_are_flagged() {
        assert_eq!(parse_score("7"), Some(0.7));
        assert_eq!(parse_score("Score: 10/10"), Some(1.0));
        assert_eq!(parse_score("I'd say 2.5."), Some(0.25));
        assert_eq!(parse_score("looks right"), None);
        assert_eq!(parse_score("42"), None);
    }
}
