//! The agent loop's control flow with a scripted model, a real sandbox and a real
//! embedded memory store.

mod common;

use common::memory;

use agent_core::agent::{grade, Agent, AgentConfig, Event, MemoryEvents, Prompts, TaskResult};
use agent_core::llm::{
    Budget, ChatModel, Ledger, LlmError, Metered, PriceTable, ScriptedModel, ScriptedTurn, Usage,
};
use agent_core::run::{execute, EnvFactory, RunDir, RunSpec, RunStatus, Runner};
use environments::code::HiddenTestGrader;
use environments::{CodingEnv, Environment, Task};
use memory::MemoryBank;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tools::sandbox::{Sandbox, SandboxConfig};

const TASKS: &str = r#"{"task_id": "t/add", "prompt": "def add(a, b):\n    \"\"\"Adds two numbers.\n    >>> add(1, 2)\n    3\n    \"\"\"\n", "entry_point": "add", "test": "def check(candidate):\n    assert candidate(2, 5) == 7\n    assert candidate(-1, 1) == 0\n"}
{"task_id": "t/neg", "prompt": "def neg(x):\n    \"\"\"Negates.\n    >>> neg(3)\n    -3\n    \"\"\"\n", "entry_point": "neg", "test": "def check(candidate):\n    assert candidate(5) == -5\n"}"#;

const WRONG_ADD: &str = "```python\ndef add(a, b):\n    return a - b\n```";
const RIGHT_ADD: &str = "```python\ndef add(a, b):\n    return a + b\n```";
const RIGHT_NEG: &str = "```python\ndef neg(x):\n    return -x\n```";

fn tasks() -> Vec<Task> {
    common::tasks_of(TASKS)
}

fn sandbox() -> Arc<Sandbox> {
    Arc::new(Sandbox::new(SandboxConfig::default()).unwrap())
}

fn reflexion(trials: u32) -> AgentConfig {
    AgentConfig {
        strategy: "reflexion".into(),
        trials,
        ..AgentConfig::default()
    }
}

/// Works on `task` in a fresh coding environment, then grades what the agent submitted.
async fn solve(agent: &Agent, task: &Task, events: &MemoryEvents) -> TaskResult {
    let sandbox = sandbox();
    let mut env = CodingEnv::new(sandbox.clone());
    let solved = agent.solve(task, &mut env, events, None).await.unwrap();
    let grader = HiddenTestGrader::new(sandbox);
    let budget = agent.config().budget.calls;
    grade(task, &solved, &grader, budget, events).await.unwrap()
}

/// A runner over coding environments graded by the hidden tests.
fn runner(agent: Agent) -> Runner {
    let sandbox = sandbox();
    let envs_sandbox = sandbox.clone();
    let envs: EnvFactory = Arc::new(move |_| {
        Ok(Box::new(CodingEnv::new(envs_sandbox.clone())) as Box<dyn Environment>)
    });
    Runner {
        agent: Arc::new(agent),
        envs,
        grader: Arc::new(HiddenTestGrader::new(sandbox)),
    }
}

#[tokio::test]
async fn a_failed_attempt_is_reflected_on_and_the_second_passes() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(ScriptedModel::answering(&[
        WRONG_ADD,
        "The function subtracts instead of adding; use a + b.",
        RIGHT_ADD,
    ]));
    let bank = memory(dir.path());
    let agent = Agent::new(
        model.clone(),
        Prompts::builtin(),
        Some(bank.clone()),
        reflexion(3),
        "run-1",
    )
    .unwrap();
    let events = MemoryEvents::default();
    let result = solve(&agent, &tasks()[0], &events).await;

    assert!(result.passed, "{result:?}");
    assert_eq!(result.trials_used, 2);
    assert_eq!(result.passed_by_trial, vec![false, true]);
    assert_eq!(result.usage.calls, 3);
    assert_eq!(result.calls, 3);
    // After call 1 the failed first attempt would be submitted; after the reflection (call 2)
    // still that one; from call 3 on, the passing retry.
    assert_eq!(
        result.passed_by_call,
        [false, false, true, true, true, true, true, true]
    );
    assert!(result.any_passed);
    // A reflection is asked for in few tokens, an attempt in many.
    let limits: Vec<_> = model.requests().iter().map(|r| r.max_tokens).collect();
    assert_eq!(limits, [Some(768), Some(192), Some(768)]);
    // The reflector saw the failed attempt and its feedback; the retry sees the lesson and, by
    // default, not the failed code (a small model copies it).
    let reflect_prompt = &model.requests()[1].messages[1].content;
    assert!(
        reflect_prompt.contains("return a - b")
            && reflect_prompt.contains("add(1, 2) returned -1, expected 3"),
        "{reflect_prompt}"
    );
    let second_prompt = &model.requests()[2].messages[1].content;
    assert!(second_prompt.contains("use a + b"), "{second_prompt}");
    assert!(!second_prompt.contains("return a - b"), "{second_prompt}");
    // The hidden tests never did.
    for r in model.requests() {
        for m in r.messages {
            assert!(
                !m.content.contains("candidate(2, 5)"),
                "hidden test leaked: {}",
                m.content
            );
        }
    }
    // Events: act, test, evaluation(failed), reflect call, reflection, memory write, act, ...;
    // the hidden tests score the attempts only after the strategy has returned.
    let kinds: Vec<&str> = events
        .events()
        .iter()
        .map(|e| match e {
            Event::ModelCall { purpose, .. } if purpose == "act" => "act",
            Event::ModelCall { .. } => "call",
            Event::Action { kind, .. } if kind == "test" => "test",
            Event::Action { .. } => "submit",
            Event::Evaluation { passed: false, .. } => "fail",
            Event::Evaluation { .. } => "pass",
            Event::TrialScore { .. } => "score",
            Event::Reflection { .. } => "reflection",
            Event::MemoryWrite { .. } => "memory",
            Event::Retrieval { .. } => "retrieval",
            Event::Library { .. } => "library",
            Event::Submission { passed: true, .. } => "submitted-pass",
            Event::Submission { .. } => "submitted-fail",
            Event::TaskError { .. } => "error",
            Event::Iteration { .. } => "iteration",
            Event::SkillWrite { .. } => "skill",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "act",
            "test",
            "fail",
            "call",
            "reflection",
            "memory",
            "retrieval",
            "act",
            "test",
            "pass",
            "score",
            "score",
            "submit",
            "submitted-pass"
        ]
    );
    assert_eq!(bank.stats().await.unwrap().reflections, 1);
}

#[tokio::test]
async fn code_pasted_into_a_reflection_is_not_kept_as_a_lesson() {
    let dir = tempfile::tempdir().unwrap();
    let pasted = format!("It subtracts; add instead. Corrected code:\n{WRONG_ADD}");
    let prompts = actor_prompts(
        &memory(dir.path()),
        reflexion(2),
        "r",
        &tasks()[0],
        &[WRONG_ADD, &pasted, RIGHT_ADD],
    )
    .await;
    // The retry prompt holds the lesson's prose and, since retries are not shown the failed
    // attempt, no copy of the failed code at all.
    let retry = &prompts[1];
    assert!(retry.contains("It subtracts; add instead."), "{retry}");
    assert!(!retry.contains("return a - b"), "{retry}");
}

#[tokio::test]
async fn a_retry_can_be_shown_the_failed_code_and_its_test_results() {
    let dir = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        show_previous_attempt: true,
        ..reflexion(2)
    };
    let lesson = "It subtracts; add instead.";
    let prompts = actor_prompts(
        &memory(dir.path()),
        config,
        "r",
        &tasks()[0],
        &[WRONG_ADD, lesson, RIGHT_ADD],
    )
    .await;
    assert!(prompts[1].contains(lesson), "{}", prompts[1]);
    assert!(
        prompts[1].contains("return a - b")
            && prompts[1].contains("add(1, 2) returned -1, expected 3"),
        "{}",
        prompts[1]
    );
}

#[tokio::test]
async fn simple_submits_its_one_attempt() {
    let model = Arc::new(ScriptedModel::answering(&[WRONG_ADD]));
    let agent = Agent::new(
        model,
        Prompts::builtin(),
        None,
        AgentConfig {
            strategy: "simple".into(),
            ..AgentConfig::default()
        },
        "r",
    )
    .unwrap();
    let result = solve(&agent, &tasks()[0], &MemoryEvents::default()).await;
    assert!(!result.passed);
    assert_eq!((result.trials_used, result.verdict.as_str()), (1, "failed"));
    assert_eq!(result.passed_by_trial, vec![false]);
}

/// Solves `task` with a fresh scripted model and returns the user message of every actor call.
async fn actor_prompts(
    bank: &MemoryBank,
    config: AgentConfig,
    run_id: &str,
    task: &Task,
    replies: &[&str],
) -> Vec<String> {
    let model = Arc::new(ScriptedModel::answering(replies));
    let agent = Agent::new(
        model.clone(),
        Prompts::builtin(),
        Some(bank.clone()),
        config,
        run_id,
    )
    .unwrap();
    solve(&agent, task, &MemoryEvents::default()).await;
    model
        .requests()
        .iter()
        .filter(|r| r.messages[0].content.contains("You write correct"))
        .map(|r| r.messages[1].content.clone())
        .collect()
}

#[tokio::test]
async fn cross_task_lessons_start_at_the_configured_trial_and_respect_the_score_floor() {
    let dir = tempfile::tempdir().unwrap();
    let bank = memory(dir.path());
    let (add, neg) = (&tasks()[0], &tasks()[1]);
    let lesson = "ADD-LESSON: it subtracted; return a + b.";
    actor_prompts(
        &bank,
        reflexion(3),
        "r1",
        add,
        &[WRONG_ADD, lesson, RIGHT_ADD],
    )
    .await;

    let wrong_neg = "```python\ndef neg(x):\n    return x\n```";
    let cross = |from_trial, min_score| AgentConfig {
        cross_task: true,
        cross_task_from_trial: from_trial,
        cross_task_min_score: min_score,
        ..reflexion(3)
    };
    // From trial 2: the first attempt sees no other task's lesson, the retry does.
    let prompts = actor_prompts(
        &bank,
        cross(2, -1.0),
        "r2",
        neg,
        &[wrong_neg, "NEG-LESSON: negate x.", RIGHT_NEG],
    )
    .await;
    assert_eq!(prompts.len(), 2);
    assert!(!prompts[0].contains("ADD-LESSON"), "{}", prompts[0]);
    assert!(
        prompts[1].contains("ADD-LESSON") && prompts[1].contains("NEG-LESSON"),
        "{}",
        prompts[1]
    );
    // From trial 1: the first attempt sees it, unless it is less similar than the floor.
    let first = actor_prompts(&bank, cross(1, -1.0), "r3", neg, &[RIGHT_NEG]).await;
    assert!(first[0].contains("ADD-LESSON"), "{}", first[0]);
    let floored = actor_prompts(&bank, cross(1, 1.01), "r4", neg, &[RIGHT_NEG]).await;
    assert!(!floored[0].contains("ADD-LESSON"), "{}", floored[0]);
    // A task never sees its own reflections of other runs as cross-task lessons.
    assert!(!first[0].contains("NEG-LESSON"), "{}", first[0]);
}

#[tokio::test]
async fn a_reply_without_code_is_reasked_once_then_counts_as_failed() {
    let model = Arc::new(ScriptedModel::answering(&[
        "I would add the two numbers together.",
        "Simply return their sum.",
    ]));
    let agent = Agent::new(model.clone(), Prompts::builtin(), None, reflexion(1), "r").unwrap();
    let events = MemoryEvents::default();
    let result = solve(&agent, &tasks()[0], &events).await;
    assert_eq!(model.calls(), 2, "asked once more");
    assert!(model.requests()[1]
        .messages
        .last()
        .unwrap()
        .content
        .contains("no ```python code block"));
    assert!(!result.passed && result.verdict == "no_code", "{result:?}");
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, Event::Evaluation { verdict, .. } if verdict == "no_code")));
}

#[tokio::test]
async fn a_prompt_too_long_for_the_model_fails_the_task_with_the_error() {
    let model = Arc::new(ScriptedModel::new(
        "scripted",
        vec![
            ScriptedTurn::Answer(WRONG_ADD.into()),
            ScriptedTurn::Fail(LlmError::ContextLength {
                provider: "p".into(),
                message: "4100 tokens > 4096".into(),
            }),
        ],
        Usage {
            prompt_tokens: 5,
            completion_tokens: 5,
        },
    ));
    let agent = Agent::new(model, Prompts::builtin(), None, reflexion(3), "r").unwrap();
    let events = MemoryEvents::default();
    let result = solve(&agent, &tasks()[0], &events).await;
    assert!(!result.passed);
    assert_eq!(result.verdict, "error");
    assert!(result.error.as_deref().unwrap().contains("4100 tokens"));
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, Event::TaskError { .. })));
}

#[tokio::test]
async fn an_unreachable_model_server_leaves_the_task_unfinished_for_resume() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run_dir = RunDir::create(&path, &spec("down", 1), "").unwrap();
    let unreachable = || LlmError::RetriesExhausted {
        attempts: 4,
        last: Box::new(LlmError::Connection {
            provider: "local".into(),
            message: "connection refused".into(),
        }),
    };
    let revoked = LlmError::Auth {
        provider: "p".into(),
        status: 401,
        message: "key revoked".into(),
    };
    for error in [unreachable(), revoked] {
        let model = Arc::new(ScriptedModel::new(
            "scripted",
            vec![ScriptedTurn::Fail(error)],
            Usage::default(),
        ));
        let ended = try_run_tasks(&run_dir, &spec("down", 1), model, 2).await;
        assert!(ended.is_err(), "the run stops with the error: {ended:?}");
        assert!(
            run_dir.results().unwrap().is_empty(),
            "no task is recorded as finished"
        );
    }
    let (reopened, spec2) = RunDir::open(&path).unwrap();
    let model = Arc::new(ScriptedModel::answering(&[RIGHT_ADD, RIGHT_NEG]));
    let summary = run_tasks(&reopened, &spec2, model, 2).await;
    assert_eq!(
        (summary.tasks_done, summary.passed),
        (2, 2),
        "resume redid both"
    );
}

fn spec(run_id: &str, concurrency: usize) -> RunSpec {
    RunSpec {
        run_id: run_id.into(),
        suite: "toy".into(),
        task_ids: tasks().iter().map(|t| t.id.clone()).collect(),
        agent: reflexion(2),
        model: "scripted".into(),
        concurrency,
        shard: None,
        created_at: 0,
        env_command: None,
    }
}

/// Runs the toy tasks in `run_dir` with a memoryless reflexion agent of `trials` trials.
async fn run_tasks(
    run_dir: &RunDir,
    spec: &RunSpec,
    model: Arc<dyn ChatModel>,
    trials: u32,
) -> agent_core::run::Summary {
    try_run_tasks(run_dir, spec, model, trials).await.unwrap()
}

/// [`run_tasks`], returning the run's error.
async fn try_run_tasks(
    run_dir: &RunDir,
    spec: &RunSpec,
    model: Arc<dyn ChatModel>,
    trials: u32,
) -> Result<agent_core::run::Summary, agent_core::run::RunError> {
    let agent = Agent::new(
        model,
        Prompts::builtin(),
        None,
        reflexion(trials),
        &spec.run_id,
    )
    .unwrap();
    execute(
        run_dir,
        spec,
        runner(agent),
        tasks(),
        Arc::new(AtomicBool::new(false)),
        |_, _| {},
    )
    .await
}

#[tokio::test]
async fn a_budget_stops_the_run_cleanly_and_resume_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir =
        RunDir::create(&dir.path().join("run"), &spec("budget-run", 1), "# test\n").unwrap();
    // Each call costs 10 tokens; 10 tokens of budget let exactly one call start.
    let scripted = ScriptedModel::new(
        "scripted",
        vec![
            ScriptedTurn::Answer(RIGHT_ADD.into()),
            ScriptedTurn::Answer(RIGHT_NEG.into()),
        ],
        Usage {
            prompt_tokens: 5,
            completion_tokens: 5,
        },
    );
    let ledger = Arc::new(Ledger::new(Budget {
        max_tokens: Some(10),
        max_cost_usd: None,
    }));
    let model: Arc<dyn ChatModel> = Arc::new(Metered::new(scripted, PriceTable::default(), ledger));
    let summary = run_tasks(&run_dir, &spec("budget-run", 1), model, 2).await;
    assert_eq!(summary.status, RunStatus::StoppedBudget);
    assert_eq!(
        summary.tasks_done, 1,
        "the first task finished, the second never started a call"
    );
    assert_eq!(run_dir.results().unwrap().len(), 1);

    // Resume with a fresh budget: only the unfinished task runs.
    let (reopened, spec2) = RunDir::open(&dir.path().join("run")).unwrap();
    let model = Arc::new(ScriptedModel::answering(&[RIGHT_NEG]));
    let summary = run_tasks(&reopened, &spec2, model.clone(), 2).await;
    assert_eq!(summary.status, RunStatus::Complete);
    assert_eq!((summary.tasks_done, summary.passed), (2, 2));
    assert_eq!(model.calls(), 1, "the finished task was not redone");
    assert_eq!(summary.pass_at_1_by_trial, vec![1.0]);
    assert_eq!(summary.pass_at_1_by_call[0], 1.0);
    let events = std::fs::read_to_string(dir.path().join("run/events.jsonl")).unwrap();
    assert!(
        events.lines().any(|l| l.contains("\"session\":2")),
        "resumed events are marked"
    );
}

#[tokio::test]
async fn a_cut_off_results_line_is_dropped_and_the_task_redone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run_dir = RunDir::create(&path, &spec("cut", 2), "").unwrap();
    let model = Arc::new(ScriptedModel::answering(&[RIGHT_ADD, RIGHT_NEG]));
    run_tasks(&run_dir, &spec("cut", 1), model, 1).await;
    // Simulate a power cut in the middle of writing the second line.
    let text = std::fs::read_to_string(path.join("results.jsonl")).unwrap();
    let first_len = text.find('\n').unwrap() + 1;
    std::fs::write(path.join("results.jsonl"), &text[..first_len + 20]).unwrap();
    let (reopened, spec2) = RunDir::open(&path).unwrap();
    assert_eq!(
        reopened.results().unwrap().len(),
        1,
        "the cut-off line is dropped"
    );
    let model = Arc::new(ScriptedModel::answering(&[RIGHT_NEG, RIGHT_ADD]));
    let summary = run_tasks(&reopened, &spec2, model.clone(), 1).await;
    assert_eq!((summary.tasks_done, summary.passed), (2, 2));
    assert_eq!(model.calls(), 1);
    let lines = std::fs::read_to_string(path.join("results.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
}

#[tokio::test]
async fn resume_names_tasks_the_suite_no_longer_has_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = RunDir::create(&dir.path().join("run"), &spec("gone", 1), "").unwrap();
    let agent = Agent::new(
        Arc::new(ScriptedModel::answering(&[RIGHT_ADD])),
        Prompts::builtin(),
        None,
        reflexion(1),
        "gone",
    )
    .unwrap();
    let only_add = tasks().into_iter().take(1).collect();
    let ended = execute(
        &run_dir,
        &spec("gone", 1),
        runner(agent),
        only_add,
        Arc::new(AtomicBool::new(false)),
        |_, _| {},
    )
    .await;
    let error = ended.expect_err("a run whose tasks are gone does not go on");
    assert!(
        matches!(&error, agent_core::run::RunError::MissingTasks(ids) if ids == &["t/neg"]),
        "{error}"
    );
    assert!(error.to_string().contains("t/neg"), "{error}");
    assert!(run_dir.results().unwrap().is_empty(), "nothing ran");
}
