//! `mcts` over an environment's actions with a scripted model: selection, expansion, rollouts,
//! reflections on failed branches, states by snapshot/restore or by checked replay, and a tree
//! that survives a crash.

mod common;

use agent_core::agent::{grade, Agent, AgentConfig, AgentError, MemoryEvents, Prompts, Solved};
use agent_core::llm::{LlmError, ScriptedModel, ScriptedTurn};
use agent_core::strategy::lats::tree::Tree;
use async_trait::async_trait;
use common::{answers, scripted, tree_of};
use environments::{
    Action, EnvError, Environment, Grade, Grader, Observation, Snapshot, Step, Task, TaskKind,
};
use std::path::Path;
use std::sync::Arc;

/// Take the key, then open the door; three actions at most.
#[derive(Default)]
struct Keys {
    has_key: bool,
    steps: u32,
    /// Answers snapshot/restore.
    snapshots: bool,
    /// Snapshots work but every restore is refused.
    restore_refused: bool,
    /// Not deterministic: the start says how many resets there were.
    drifts: bool,
    resets: u32,
    restores: u32,
    /// No three-action limit: an episode ends only at the door.
    unlimited: bool,
    /// The process "dies" at this many steps in all.
    crash_at: Option<u32>,
    stepped: u32,
}

impl Keys {
    /// Three actions were taken (and the limit holds).
    fn over(&self) -> bool {
        !self.unlimited && self.steps >= 3
    }

    fn with_snapshots() -> Self {
        Keys {
            snapshots: true,
            ..Keys::default()
        }
    }
}

#[async_trait]
impl Environment for Keys {
    async fn reset(&mut self, _task: &Task) -> Result<Observation, EnvError> {
        (self.has_key, self.steps) = (false, 0);
        self.resets += 1;
        Ok(Observation::text("A locked door."))
    }

    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        if self.over() {
            return Err(EnvError::Reported {
                env: "keys".into(),
                message: "the episode is over; reset first".into(),
            });
        }
        self.stepped += 1;
        if Some(self.stepped) == self.crash_at {
            return Err(EnvError::Crashed {
                env: "keys".into(),
                op: "step".into(),
                status: "signal: 9 (SIGKILL)".into(),
                stderr: String::new(),
            });
        }
        self.steps += 1;
        let (text, reward) = match action.content.as_str() {
            "take key" => {
                self.has_key = true;
                ("You hold the key.", 0.0)
            }
            "open door" if self.has_key => ("The door opens.", 1.0),
            "explode" => {
                return Err(EnvError::Reported {
                    env: "keys".into(),
                    message: "no such action".into(),
                })
            }
            _ if self.drifts => {
                let text = format!("Nothing happens (reset {}).", self.resets);
                return Ok(Step {
                    observation: Observation::text(text),
                    reward: 0.0,
                    done: self.over(),
                    info: serde_json::Value::Null,
                });
            }
            _ => ("Nothing happens.", 0.0),
        };
        Ok(Step {
            observation: Observation::text(text),
            reward,
            done: reward > 0.0 || self.over(),
            info: serde_json::Value::Null,
        })
    }

    async fn snapshot(&mut self) -> Result<Snapshot, EnvError> {
        if !self.snapshots {
            return Err(EnvError::Unsupported("keys".into()));
        }
        Ok(Snapshot(serde_json::json!([self.has_key, self.steps])))
    }

    async fn restore(&mut self, snapshot: &Snapshot) -> Result<(), EnvError> {
        if self.restore_refused {
            return Err(EnvError::Reported {
                env: "keys".into(),
                message: "restore is broken".into(),
            });
        }
        self.restores += 1;
        (self.has_key, self.steps) = serde_json::from_value(snapshot.0.clone()).unwrap();
        Ok(())
    }

    fn name(&self) -> &str {
        "keys"
    }
}

/// Replays an episode in a fresh `Keys`.
struct Replay;

#[async_trait]
impl Grader for Replay {
    async fn grade(&self, task: &Task, candidate: &str) -> Result<Grade, EnvError> {
        let actions: Vec<Action> = serde_json::from_str(candidate).unwrap();
        let mut env = Keys::default();
        env.reset(task).await?;
        let mut total = 0.0;
        for a in &actions {
            total += env.step(a).await?.reward;
        }
        Ok(Grade {
            passed: total >= 1.0,
            verdict: if total >= 1.0 { "passed" } else { "failed" }.into(),
            reason: None,
        })
    }
}

fn task() -> Task {
    Task {
        id: "keys".into(),
        suite: "keys".into(),
        prompt: "Get through the door.".into(),
        kind: TaskKind::Custom(serde_json::json!({})),
    }
}

fn agent(model: Arc<ScriptedModel>) -> Agent {
    agent_with(model, |_| {})
}

/// The tests' `mcts` agent (12 calls, 2 children, episodes of 3 actions, no re-asks) with
/// `change` applied to its settings.
fn agent_with(model: Arc<ScriptedModel>, change: impl FnOnce(&mut AgentConfig)) -> Agent {
    let mut config = AgentConfig {
        strategy: "mcts".into(),
        ..AgentConfig::default()
    };
    config.budget.calls = 12;
    config.mcts.children = 2;
    config.episode.max_steps = 3;
    config.episode.max_repeats = 0; // the scripted rollouts repeat on purpose
    change(&mut config);
    Agent::new(model, Prompts::builtin(), None, config, "mcts-test").unwrap()
}

const LESSON: &str = "Dancing does nothing; take the key first.";
/// Root: greedy "dance", sampled "take key"; roll out from "dance" (two more dances, the third
/// action ends the episode); reflect; expand "take key": greedy "open door" reaches the goal.
const SCRIPT: [&str; 6] = ["dance", "take key", "dance", "dance", LESSON, "open door"];

async fn solve(model: Arc<ScriptedModel>, env: &mut Keys, checkpoint: Option<&Path>) -> Solved {
    solve_by(&agent(model), env, checkpoint).await
}

async fn solve_by(agent: &Agent, env: &mut Keys, checkpoint: Option<&Path>) -> Solved {
    agent
        .solve(
            &task(),
            env,
            &MemoryEvents::default(),
            checkpoint.map(Path::to_path_buf),
        )
        .await
        .unwrap()
}

fn actions(tree: &Tree) -> Vec<String> {
    tree.ids()
        .map(|id| tree.node(id).code.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn mcts_expands_rolls_out_reflects_and_stops_at_the_goal() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("keys.json");
    let model = scripted(answers(&SCRIPT));
    let mut env = Keys::with_snapshots();
    let solved = solve(model.clone(), &mut env, Some(&checkpoint)).await;

    assert_eq!(model.calls(), 6);
    let tree = tree_of(&checkpoint);
    assert_eq!(
        actions(&tree),
        ["", "dance", "take key", "dance", "dance", "open door"]
    );
    assert_eq!(tree.children(0), [1, 2]);
    assert_eq!(tree.path_to(4), [0, 1, 3, 4], "the rollout is a chain");
    assert!(tree.node(4).terminal && !tree.node(4).passed);
    assert_eq!(tree.node(4).reflection.as_deref(), Some(LESSON));
    assert!(tree.node(5).terminal && tree.node(5).passed);
    assert_eq!(tree.first_passing(), Some(5));
    assert_eq!(tree.node(0).visits, 2, "two episodes backed up");

    let requests = model.requests();
    assert_eq!(
        requests[0].temperature,
        Some(0.0),
        "the first child is greedy"
    );
    assert!(requests[1].seed.is_some(), "the second is a seeded sample");
    assert!(
        requests[5].messages[1].content.contains(LESSON),
        "the reflection reaches later prompts"
    );
    assert!(requests[5].messages[1]
        .content
        .contains("> take key\nYou hold the key."));
    assert!(env.restores >= 1, "states came back by restore");

    let episodes: Vec<&str> = solved
        .candidates
        .iter()
        .map(|c| c.content.as_str())
        .collect();
    let failed = r#"[{"kind":"act","content":"dance"},{"kind":"act","content":"dance"},{"kind":"act","content":"dance"}]"#;
    let won = r#"[{"kind":"act","content":"take key"},{"kind":"act","content":"open door"}]"#;
    assert_eq!(episodes, [failed, won]);
    assert_eq!(solved.submitted, Some(1));
    let result = grade(&task(), &solved, &Replay, 12, &MemoryEvents::default())
        .await
        .unwrap();
    assert!(result.passed, "{result:?}");
}

#[tokio::test]
async fn without_snapshots_states_are_replayed_and_the_tree_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (with, without, refused) = (
        dir.path().join("with.json"),
        dir.path().join("without.json"),
        dir.path().join("refused.json"),
    );
    solve(
        scripted(answers(&SCRIPT)),
        &mut Keys::with_snapshots(),
        Some(&with),
    )
    .await;
    let mut replaying = Keys::default();
    solve(scripted(answers(&SCRIPT)), &mut replaying, Some(&without)).await;
    assert_eq!(replaying.restores, 0);
    assert!(replaying.resets > 2, "states were reached by replay");
    let mut broken = Keys {
        restore_refused: true,
        ..Keys::with_snapshots()
    };
    solve(scripted(answers(&SCRIPT)), &mut broken, Some(&refused)).await;
    assert_eq!(tree_of(&without), tree_of(&with));
    assert_eq!(
        tree_of(&refused),
        tree_of(&with),
        "a refused restore falls back to replay"
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&refused).unwrap()).unwrap();
    let why = saved["strategy"]["replaying"].as_str().unwrap();
    assert!(why.contains("restore is broken"), "{why}");
}

#[tokio::test]
async fn a_replay_that_sees_another_observation_is_an_error_naming_the_step() {
    let mut drifting = Keys {
        drifts: true,
        ..Keys::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("keys.json");
    let solved = solve(scripted(answers(&SCRIPT)), &mut drifting, Some(&checkpoint)).await;
    // Rolling out from "dance" needs its state again: the replay's "dance" answers differently.
    let error = solved.error.expect("the task ends with the divergence");
    assert!(error.contains("replaying action 1 (\"dance\")"), "{error}");
    assert!(error.contains("Nothing happens (reset 1)."), "{error}");
    assert!(
        error.contains("now:      Nothing happens (reset"),
        "{error}"
    );
    assert_eq!(
        tree_of(&checkpoint).len(),
        3,
        "the tree made before is kept"
    );
}

#[tokio::test]
async fn an_action_the_environment_rejects_is_a_failed_branch() {
    let script = ["explode", "take key", LESSON, "open door"];
    let model = scripted(answers(&script));
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("keys.json");
    let solved = solve(model, &mut Keys::with_snapshots(), Some(&checkpoint)).await;
    let tree = tree_of(&checkpoint);
    assert!(tree.node(1).terminal && !tree.node(1).passed);
    assert!(
        tree.node(1).feedback.contains("rejected the action"),
        "{}",
        tree.node(1).feedback
    );
    assert_eq!(tree.node(1).reflection.as_deref(), Some(LESSON));
    assert!(tree.first_passing().is_some());
    assert!(solved.error.is_none());
}

#[tokio::test]
async fn mcts_killed_mid_rollout_resumes_with_the_same_tree_and_no_repeated_call() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    let uninterrupted = solve(
        scripted(answers(&SCRIPT)),
        &mut Keys::with_snapshots(),
        Some(&whole),
    )
    .await;

    for killed_at in 1..SCRIPT.len() {
        let cut = dir.path().join(format!("cut{killed_at}.json"));
        let mut turns = answers(&SCRIPT[..killed_at]);
        turns.push(ScriptedTurn::Fail(LlmError::Auth {
            provider: "p".into(),
            status: 401,
            message: "key revoked".into(),
        }));
        let stopped = agent(scripted(turns))
            .solve(
                &task(),
                &mut Keys::with_snapshots(),
                &MemoryEvents::default(),
                Some(cut.clone()),
            )
            .await;
        assert!(matches!(stopped, Err(AgentError::Model(_))));

        eprintln!("killed at call {killed_at}");
        let rest = scripted(answers(&SCRIPT[killed_at..]));
        // A fresh environment that cannot snapshot: the resumed search replays its way back.
        let resumed = agent(rest.clone())
            .solve(
                &task(),
                &mut Keys::default(),
                &MemoryEvents::default(),
                Some(cut.clone()),
            )
            .await;
        if resumed.is_err() {
            for r in rest.requests() {
                eprintln!("---\n{}", r.messages.last().unwrap().content);
            }
        }
        let resumed = resumed.unwrap();
        assert_eq!(
            rest.calls(),
            SCRIPT.len() - killed_at,
            "killed at call {killed_at}: no call repeated"
        );
        assert_eq!(
            tree_of(&cut),
            tree_of(&whole),
            "killed at call {killed_at}: the same tree"
        );
        assert_eq!(resumed.candidates, uninterrupted.candidates);
        assert_eq!(resumed.submitted, uninterrupted.submitted);
        assert_eq!(resumed.choice_by_call, uninterrupted.choice_by_call);
    }
}

#[tokio::test]
async fn mcts_refuses_a_coding_task() {
    let task = environments::suites::parse_jsonl(
        r#"{"task_id": "t/1", "prompt": "def f():\n    pass\n", "entry_point": "f", "test": "def check(c):\n    pass\n"}"#,
        "inline",
        "toy",
    )
    .unwrap();
    let task = environments::TaskSuite::tasks(&task)[0].clone();
    let error = agent(scripted(vec![]))
        .solve(&task, &mut Keys::default(), &MemoryEvents::default(), None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("for code, use lats"), "{error}");
}

#[tokio::test]
async fn an_environment_that_dies_mid_search_ends_the_task_and_resume_finishes_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    let uninterrupted = solve(
        scripted(answers(&SCRIPT)),
        &mut Keys::with_snapshots(),
        Some(&whole),
    )
    .await;
    let cut = dir.path().join("cut.json");
    let mut dying = Keys {
        crash_at: Some(3),
        ..Keys::with_snapshots()
    };
    let model = scripted(answers(&SCRIPT));
    let ended = solve(model.clone(), &mut dying, Some(&cut)).await;
    let error = ended.error.expect("the task ends with the crash");
    assert!(
        error.contains("exited (signal: 9 (SIGKILL)) during `step`"),
        "{error}"
    );
    assert_eq!(
        tree_of(&cut).len(),
        3,
        "the states made before the crash are kept"
    );

    // The action asked for at call 3 never reached a live environment: the checkpoint holds the
    // books after call 2, and the resumed search asks for it again (a real run gets it from the
    // response cache).
    assert_eq!(model.calls(), 3);
    let rest = scripted(answers(&SCRIPT[2..]));
    let resumed = solve(rest, &mut Keys::with_snapshots(), Some(&cut)).await;
    assert!(resumed.error.is_none());
    assert_eq!(tree_of(&cut), tree_of(&whole));
    assert_eq!(resumed.candidates, uninterrupted.candidates);
}

#[tokio::test]
async fn with_lambda_new_states_are_estimated_and_the_most_promising_is_rolled_out() {
    let script = [
        "dance",
        "take key",
        "7",
        "no idea",
        "dance",
        "dance",
        LESSON,
        "open door",
    ];
    let model = scripted(answers(&script));
    let agent = agent_with(model.clone(), |c| c.mcts.value_weight = 0.5);
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("keys.json");
    solve_by(&agent, &mut Keys::with_snapshots(), Some(&checkpoint)).await;
    assert_eq!(model.calls(), 8);
    let tree = tree_of(&checkpoint);
    assert_eq!(
        (tree.node(1).self_eval, tree.node(1).self_eval_unparsed),
        (Some(0.7), false)
    );
    assert_eq!(
        (tree.node(2).self_eval, tree.node(2).self_eval_unparsed),
        (Some(0.5), true)
    );
    assert!((tree.node(1).value - 0.35).abs() < 1e-9);
    assert_eq!(
        tree.path_to(4),
        [0, 1, 3, 4],
        "the rollout starts at the higher estimate"
    );
    assert!(tree.node(5).passed && tree.parent(5) == Some(2));
    assert!(model.requests()[2].messages[0]
        .content
        .contains("scale from 0"));
}

#[tokio::test]
async fn an_action_repeated_too_often_is_asked_again_with_a_seeded_sample() {
    let script = ["dance", "dance", "dance", "take key", "open door"];
    let model = scripted(answers(&script));
    let agent = agent_with(model.clone(), |c| {
        c.strategy = "simple".into();
        c.episode.max_steps = 10;
        c.episode.max_repeats = 2;
    });
    let mut keys = Keys {
        unlimited: true,
        ..Keys::default()
    };
    let solved = solve_by(&agent, &mut keys, None).await;
    assert_eq!(model.calls(), 5);
    let requests = model.requests();
    assert_eq!(
        requests[2].temperature,
        Some(0.0),
        "the third dance is asked greedily"
    );
    assert_eq!(
        requests[3].temperature,
        Some(0.8),
        "then asked again, sampled"
    );
    assert!(requests[3].seed.is_some());
    let won = r#"[{"kind":"act","content":"dance"},{"kind":"act","content":"dance"},{"kind":"act","content":"take key"},{"kind":"act","content":"open door"}]"#;
    assert_eq!(solved.candidates[0].content, won);
    assert!(solved.candidates[0].passed);
}

#[tokio::test]
async fn a_sibling_of_an_episode_end_is_stepped_from_its_parent_state() {
    // No rollouts: root → "dance" (#1), "wave" (#2); #1 → "dance" (#3), "wave" (#4);
    // #3 → "dance" (#5, the third action: the episode ends) and "take key" (#6), which must be
    // stepped from #3's state, not from #5's, where the episode is over.
    let script = [
        "dance", "wave", "dance", "wave", "dance", "take key", LESSON, LESSON,
    ];
    let model = scripted(answers(&script));
    let agent = agent_with(model, |c| {
        c.budget.calls = 8;
        c.mcts.rollout = false;
    });
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("keys.json");
    let solved = solve_by(&agent, &mut Keys::with_snapshots(), Some(&checkpoint)).await;
    assert!(solved.error.is_none(), "{solved:?}");
    let tree = tree_of(&checkpoint);
    assert_eq!(tree.path_to(6), [0, 1, 3, 6]);
    assert!(tree.node(5).terminal && tree.node(6).terminal);
    assert_eq!(tree.node(6).feedback, "You hold the key.");
}
