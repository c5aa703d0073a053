//! `lats` and `best_of_n` on code with a scripted model and a real sandbox: the search's control
//! flow, its budget, duplicates, the submission rule, and a tree that survives a crash.

mod common;

use agent_core::agent::{
    grade, Agent, AgentConfig, AgentError, Event, MemoryEvents, Prompts, Solved,
};
use agent_core::llm::{LlmError, ScriptedModel, ScriptedTurn};
use common::{answers, scripted, tree_of};
use environments::code::HiddenTestGrader;
use environments::suites::parse_jsonl;
use environments::{CodingEnv, Task, TaskSuite};
use std::sync::Arc;
use tools::sandbox::{Sandbox, SandboxConfig};

const ADD: &str = r#"{"task_id": "t/add", "prompt": "def add(a, b):\n    \"\"\"Adds two numbers.\n    >>> add(1, 2)\n    3\n    >>> add(2, 2)\n    4\n    \"\"\"\n", "entry_point": "add", "test": "def check(candidate):\n    assert candidate(2, 5) == 7\n"}"#;

const WRONG: &str = "```python\ndef add(a, b):\n    return a - b\n```";
// The same code as WRONG, differently commented and spaced: a duplicate.
const WRONG_AGAIN: &str = "```python\ndef add(a, b):\n    # subtract\n    return a - b   \n\n```";
// Passes add(2, 2) == 4 but not add(1, 2) == 3: half the internal tests.
const HALF: &str = "```python\ndef add(a, b):\n    return a * b\n```";
const RIGHT: &str = "```python\ndef add(a, b):\n    return a + b\n```";
const LESSON: &str = "It subtracts; it must add.";

fn task() -> Task {
    parse_jsonl(ADD, "inline", "toy").unwrap().tasks()[0].clone()
}

fn sandbox() -> Arc<Sandbox> {
    Arc::new(Sandbox::new(SandboxConfig::default()).unwrap())
}

fn agent(model: Arc<ScriptedModel>, strategy: &str, calls: u32) -> Agent {
    let mut config = AgentConfig {
        strategy: strategy.into(),
        ..AgentConfig::default()
    };
    config.budget.calls = calls;
    // The search as the LATS paper runs it: children see their parent's code.
    config.lats.show_parent_code = true;
    Agent::new(model, Prompts::builtin(), None, config, "lats-test").unwrap()
}

/// Solves the task with a fresh coding environment and no checkpoint.
async fn solve(model: Arc<ScriptedModel>, strategy: &str, calls: u32) -> Solved {
    agent(model, strategy, calls)
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox()),
            &MemoryEvents::default(),
            None,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn lats_reflects_expands_charges_duplicates_and_stops_at_the_first_pass() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("t_add.json");
    let model = scripted(answers(&[WRONG, LESSON, WRONG_AGAIN, HALF, RIGHT]));
    let events = MemoryEvents::default();
    let sandbox = sandbox();
    let solved = agent(model.clone(), "lats", 8)
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox.clone()),
            &events,
            Some(checkpoint.clone()),
        )
        .await
        .unwrap();

    assert_eq!(solved.calls, 5, "root, reflection, three children");
    let tests_run = events
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Action { kind, .. } if kind == "test"))
        .count();
    assert_eq!(tests_run, 3, "the duplicate was charged but not run");
    let chosen = &solved.candidates[solved.submitted.unwrap()];
    assert!(chosen.content.contains("a + b") && chosen.passed);

    // Each child saw the parent's code, its failing test and the reflection on it.
    let child = &model.requests()[2].messages[1].content;
    assert!(
        child.contains(LESSON) && child.contains("return a - b"),
        "{child}"
    );
    assert!(
        child.contains("add(1, 2) returned -1, expected 3"),
        "{child}"
    );
    assert_eq!(model.requests()[2].temperature, Some(0.8));
    let seeds: Vec<_> = model.requests().iter().map(|r| r.seed).collect();
    assert!(
        seeds[2].is_some() && seeds[2] != seeds[3],
        "children get seeds of their own: {seeds:?}"
    );

    let tree = tree_of(&checkpoint);
    assert_eq!(tree.len(), 4);
    assert_eq!(tree.children(0), vec![1, 2, 3]);
    assert_eq!(tree.node(0).reflection.as_deref(), Some(LESSON));
    assert_eq!(tree.node(1).duplicate_of, Some(0));
    assert_eq!(tree.node(2).reward, 0.5);
    assert!(tree.node(3).passed);
    assert_eq!(
        tree.node(0).visits,
        4,
        "every child's value was backed up to the root"
    );

    let graded = grade(
        &task(),
        &solved,
        &HiddenTestGrader::new(sandbox),
        8,
        &events,
    )
    .await
    .unwrap();
    assert!(graded.passed);
    assert_eq!(
        graded.passed_by_call,
        [false, false, false, false, true, true, true, true]
    );
    assert_eq!(
        graded.candidates, 4,
        "distinct texts, each graded once after the search"
    );
}

#[tokio::test]
async fn lats_without_a_pass_submits_the_best_internal_score_within_the_budget() {
    // Budget 4: root, reflection, two children; nothing passes; the half-right child wins.
    let model = scripted(answers(&[WRONG, LESSON, HALF, WRONG_AGAIN]));
    let solved = solve(model.clone(), "lats", 4).await;
    assert_eq!(model.calls(), 4);
    let chosen = &solved.candidates[solved.submitted.unwrap()];
    assert!(chosen.content.contains("a * b"), "{chosen:?}");
    // Before the half-right child existed, the root was the choice.
    assert_eq!(solved.choice_by_call, [Some(0), Some(0), Some(1), Some(1)]);
}

#[tokio::test]
async fn lats_killed_mid_tree_resumes_with_the_same_tree_and_no_repeated_call() {
    let dir = tempfile::tempdir().unwrap();
    let script = [WRONG, LESSON, HALF, WRONG_AGAIN, RIGHT];

    // Uninterrupted.
    let whole = dir.path().join("whole.json");
    let model = scripted(answers(&script));
    let sandbox = sandbox();
    let uninterrupted = agent(model, "lats", 8)
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox.clone()),
            &MemoryEvents::default(),
            Some(whole.clone()),
        )
        .await
        .unwrap();

    // The model dies at the fourth call: the run stops with the task unfinished.
    let cut = dir.path().join("cut.json");
    let mut turns = answers(&script[..3]);
    turns.push(ScriptedTurn::Fail(LlmError::Auth {
        provider: "p".into(),
        status: 401,
        message: "key revoked".into(),
    }));
    let stopped = agent(scripted(turns), "lats", 8)
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox.clone()),
            &MemoryEvents::default(),
            Some(cut.clone()),
        )
        .await;
    assert!(stopped.is_err());
    assert_eq!(
        tree_of(&cut).len(),
        2,
        "root and the first child were saved"
    );

    // Resumed: only the calls not yet made are made.
    let rest = scripted(answers(&script[3..]));
    let resumed = agent(rest.clone(), "lats", 8)
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox),
            &MemoryEvents::default(),
            Some(cut.clone()),
        )
        .await
        .unwrap();
    assert_eq!(rest.calls(), 2, "no call repeated");
    assert_eq!(tree_of(&cut), tree_of(&whole), "the same tree");
    assert_eq!(resumed.candidates, uninterrupted.candidates);
    assert_eq!(resumed.submitted, uninterrupted.submitted);
    assert_eq!(resumed.choice_by_call, uninterrupted.choice_by_call);
    assert_eq!(
        resumed.usage.total_tokens(),
        uninterrupted.usage.total_tokens()
    );
}

#[tokio::test]
async fn a_checkpoint_cut_in_half_is_an_error_naming_it_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("t_add.json");
    let model = scripted(answers(&[WRONG, LESSON, HALF, WRONG_AGAIN, RIGHT]));
    agent(model, "lats", 8)
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox()),
            &MemoryEvents::default(),
            Some(checkpoint.clone()),
        )
        .await
        .unwrap();
    let bytes = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &bytes[..bytes.len() / 2]).unwrap();
    let model = scripted(answers(&[RIGHT]));
    let error = agent(model.clone(), "lats", 8)
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox()),
            &MemoryEvents::default(),
            Some(checkpoint.clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, AgentError::Checkpoint { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("t_add.json") && message.contains("cut short"),
        "{message}"
    );
    assert_eq!(model.calls(), 0, "nothing was asked");
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        bytes[..bytes.len() / 2]
    );
}

#[tokio::test]
async fn best_of_n_stops_at_a_pass_and_otherwise_keeps_the_earliest_best() {
    let model = scripted(answers(&[WRONG, HALF, RIGHT, WRONG]));
    let solved = solve(model.clone(), "best_of_n", 8).await;
    assert_eq!(model.calls(), 3, "stopped at the passing sample");
    assert!(solved.candidates[solved.submitted.unwrap()]
        .content
        .contains("a + b"));
    assert_eq!(solved.choice_by_attempt, [Some(0), Some(1), Some(2)]);
    let temps: Vec<_> = model.requests().iter().map(|r| r.temperature).collect();
    assert_eq!(temps, [Some(0.0), Some(0.8), Some(0.8)]);

    // Within 3 calls and no pass: the half-right sample, not the later equal one.
    let model = scripted(answers(&[WRONG, HALF, HALF]));
    let solved = solve(model, "best_of_n", 3).await;
    assert_eq!(solved.submitted, Some(1));
}

#[tokio::test]
async fn a_greedy_attempt_that_passes_costs_one_call_in_every_strategy() {
    // mcts and voyager act in environments, not on code (their tests refuse a code task).
    let code_strategies = agent_core::strategy::NAMES
        .iter()
        .filter(|s| !["mcts", "voyager"].contains(s));
    for strategy in code_strategies {
        let model = scripted(answers(&[RIGHT]));
        let solved = solve(model.clone(), strategy, 8).await;
        assert_eq!(
            (model.calls(), solved.submitted),
            (1, Some(0)),
            "{strategy}"
        );
    }
}

#[test]
fn an_unknown_strategy_and_a_zero_budget_are_errors_naming_them() {
    let model = scripted(Vec::new());
    let config = AgentConfig {
        strategy: "mcts-magic".into(),
        ..AgentConfig::default()
    };
    let error = Agent::new(model.clone(), Prompts::builtin(), None, config, "r")
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("mcts-magic") && error.contains("lats"),
        "{error}"
    );
    let mut config = AgentConfig::default();
    config.budget.calls = 0;
    let error = Agent::new(model, Prompts::builtin(), None, config, "r")
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("budget.calls"), "{error}");
}

#[tokio::test]
async fn lats_mixes_in_the_models_own_estimate_and_flags_one_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("t_add.json");
    // Root, its estimate ("8"), a reflection, a half-right child, its estimate (no number).
    let model = scripted(answers(&[WRONG, "8", LESSON, HALF, "quite likely"]));
    let mut config = AgentConfig {
        strategy: "lats".into(),
        ..AgentConfig::default()
    };
    config.budget.calls = 5;
    config.lats.self_eval_weight = 0.5;
    let agent = Agent::new(model.clone(), Prompts::builtin(), None, config, "r").unwrap();
    agent
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox()),
            &MemoryEvents::default(),
            Some(checkpoint.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        model.requests()[1].max_tokens,
        Some(8),
        "an estimate is a number"
    );
    let tree = tree_of(&checkpoint);
    let (root, child) = (tree.node(0), tree.node(1));
    assert_eq!(
        (root.self_eval, root.self_eval_unparsed),
        (Some(0.8), false)
    );
    assert!(
        (root.value - 0.4).abs() < 1e-9,
        "0.5 × 0 + 0.5 × 0.8: {}",
        root.value
    );
    assert_eq!(
        (child.self_eval, child.self_eval_unparsed),
        (Some(0.5), true)
    );
    assert!(
        (child.value - 0.5).abs() < 1e-9,
        "0.5 × 0.5 + 0.5 × 0.5: {}",
        child.value
    );
}

#[tokio::test]
async fn best_of_n_with_dual_agreement_submits_the_largest_agreeing_group() {
    // No docstring examples: internal tests cannot tell the candidates apart.
    const INC: &str = r#"{"task_id": "t/inc", "prompt": "def inc(x):\n    \"\"\"Adds one.\"\"\"\n", "entry_point": "inc", "test": "def check(candidate):\n    assert candidate(1) == 2\n"}"#;
    let task = parse_jsonl(INC, "inline", "toy").unwrap().tasks()[0].clone();
    let model = scripted(answers(&[
        "```python\ndef inc(x):\n    return x\n```",
        "```python\nassert inc(1) == 2\nassert inc(5) == 6\n```",
        "```python\ndef inc(x):\n    return x + 2\n```",
        "```python\ndef inc(x):\n    return x + 1\n```",
        "```python\ndef inc(x):\n    return 1 + x\n```",
    ]));
    let mut config = AgentConfig {
        strategy: "best_of_n".into(),
        ..AgentConfig::default()
    };
    config.budget.calls = 5;
    config.best_of_n.dual_agreement = true;
    let agent = Agent::new(model.clone(), Prompts::builtin(), None, config, "r").unwrap();
    let solved = agent
        .solve(
            &task,
            &mut CodingEnv::new(sandbox()),
            &MemoryEvents::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(model.calls(), 5);
    assert_eq!(
        model.requests()[1].temperature,
        Some(0.0),
        "the asserts are greedy"
    );
    // {x + 1, 1 + x} agree on both asserts (2 × 2) and beat every other group.
    let chosen = &solved.candidates[solved.submitted.unwrap()];
    assert!(chosen.content.contains("x + 1"), "{chosen:?}");
}

#[tokio::test]
async fn by_default_lats_children_see_the_reflections_but_not_the_parents_code() {
    let model = scripted(answers(&[WRONG, LESSON, RIGHT]));
    let agent = Agent::new(
        model.clone(),
        Prompts::builtin(),
        None,
        AgentConfig {
            strategy: "lats".into(),
            ..AgentConfig::default()
        },
        "r",
    )
    .unwrap();
    agent
        .solve(
            &task(),
            &mut CodingEnv::new(sandbox()),
            &MemoryEvents::default(),
            None,
        )
        .await
        .unwrap();
    let child = &model.requests()[2].messages[1].content;
    assert!(
        child.contains(LESSON) && !child.contains("return a - b"),
        "{child}"
    );
}
