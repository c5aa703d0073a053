//! `voyager`'s control flow with a scripted model, a real embedded memory store and a small
//! world that reads programs by their calls (the real one, Crafter, runs them in a sandboxed
//! child process: mneme/tests/explore.rs).

mod common;

use common::memory;

use agent_core::agent::{Agent, AgentConfig, Event, MemoryEvents, Prompts, Solved};
use agent_core::llm::ScriptedModel;
use async_trait::async_trait;
use common::{answers, scripted};
use environments::{Action, EnvError, Environment, Observation, Snapshot, Step, Task, TaskKind};
use memory::{Filter, MemoryBank, Record, RecordKind};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

/// A world of two achievements. A program's line `collect('wood'…)` adds a wood (achievement
/// `collect_wood`), `make('pickaxe')` needs a wood (`make_pickaxe`), `raise` is an error the
/// world reports, `die()` ends the episode, `crash()` kills the world's "process" (the next
/// reset revives it). A `thirsty` world also loses 3 drink per program (of 9), reports the
/// need `restore_drink` at 3 or less, and `drink()` fills it. `interrupt()` makes the world
/// thirsty at once and stops the program there (the need interrupts it). A `locking` world
/// reports `make_pickaxe` locked (do `collect_wood` first) while it holds no wood.
#[derive(Default)]
struct Forge {
    thirsty: bool,
    locking: bool,
    thirst: u32,
    interrupted: Option<String>,
    wood: u32,
    achievements: Vec<String>,
    dead: bool,
    programs: Vec<String>,
    goals: Vec<Option<String>>,
    resets: Vec<serde_json::Value>,
}

impl Forge {
    fn observation(&self, new: Vec<String>, error: Option<String>, died: bool) -> Observation {
        Observation {
            text: format!(
                "wood: {}; achievements: {:?}; error: {error:?}",
                self.wood, self.achievements
            ),
            data: json!({
                "api": "collect(item, n): gathers; make(tool): makes a tool from a wood",
                "warmup": ["collect_wood", "make_pickaxe"],
                "achievements_all": ["collect_wood", "make_pickaxe"],
                "api_names": ["collect", "make", "gather_wood"],
                "task_context": {"make_pickaxe": "call make('pickaxe'); needs 1 wood"},
                "task_aliases": {"chop_tree": "collect_wood"},
                "inventory": {"wood": self.wood},
                "vitals": {"drink": 9 - self.thirst},
                "needs": if self.thirst >= 6 {
                    json!([{"task": "restore_drink", "check": {"field": "vitals.drink", "at_least": 7},
                            "how": "call drink()"},
                           {"task": "malformed"}])
                } else {
                    json!([])
                },
                "locked": if self.locking && self.wood == 0 {
                    json!({"make_pickaxe": "collect_wood"})
                } else {
                    json!({})
                },
                "achievements": self.achievements,
                "new_achievements": new,
                "error": error,
                "died": died,
                "interrupted": self.interrupted,
            }),
        }
    }

    fn unlock(&mut self, name: &str, new: &mut Vec<String>) {
        if !self.achievements.iter().any(|a| a == name) {
            self.achievements.push(name.into());
            new.push(name.into());
        }
    }
}

#[async_trait]
impl Environment for Forge {
    async fn reset(&mut self, task: &Task) -> Result<Observation, EnvError> {
        if let TaskKind::Custom(fields) = &task.kind {
            self.resets.push(fields.clone());
        }
        *self = Forge {
            thirsty: self.thirsty,
            locking: self.locking,
            programs: std::mem::take(&mut self.programs),
            goals: std::mem::take(&mut self.goals),
            resets: std::mem::take(&mut self.resets),
            ..Forge::default()
        };
        Ok(self.observation(vec![], None, false))
    }

    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        assert_eq!(action.kind, "program");
        assert!(!self.dead, "a step after the process died, without a reset");
        let code = action.content.clone();
        self.programs.push(code.clone());
        self.goals.push(action.goal.clone());
        if code.contains("crash()") {
            self.dead = true;
            return Err(EnvError::Crashed {
                env: "forge".into(),
                op: "step".into(),
                status: "signal 9".into(),
                stderr: "killed".into(),
            });
        }
        let mut new = Vec::new();
        let mut error = None;
        self.interrupted = None;
        if self.thirsty {
            self.thirst = (self.thirst + 3).min(9);
        }
        for line in code.lines().map(str::trim) {
            if line.starts_with("raise") {
                error = Some(format!("Traceback: {line}"));
                break;
            } else if line.starts_with("interrupt()") {
                self.thirst = 6;
                self.interrupted = Some("restore_drink".into());
                error = Some("interrupted: a new need comes first: restore_drink".into());
                break;
            } else if line.starts_with("collect('wood'") {
                self.wood += 1;
                self.unlock("collect_wood", &mut new);
            } else if line.starts_with("drink()") {
                self.thirst = 0;
            } else if line.starts_with("make('pickaxe')") && self.wood > 0 {
                self.wood -= 1;
                self.unlock("make_pickaxe", &mut new);
            }
        }
        let died = code.contains("die()");
        Ok(Step {
            reward: new.len() as f64,
            observation: self.observation(new, error, died),
            done: died,
            info: serde_json::Value::Null,
        })
    }

    async fn snapshot(&mut self) -> Result<Snapshot, EnvError> {
        Ok(Snapshot(
            json!({"wood": self.wood, "thirst": self.thirst, "achievements": self.achievements}),
        ))
    }

    async fn restore(&mut self, snapshot: &Snapshot) -> Result<(), EnvError> {
        self.wood = snapshot.0["wood"].as_u64().unwrap() as u32;
        self.thirst = snapshot.0["thirst"].as_u64().unwrap() as u32;
        self.achievements = serde_json::from_value(snapshot.0["achievements"].clone()).unwrap();
        Ok(())
    }

    fn name(&self) -> &str {
        "forge"
    }
}

fn task() -> Task {
    Task {
        id: "forge-1".into(),
        suite: "forge".into(),
        prompt: "Explore.".into(),
        kind: TaskKind::Custom(json!({"seed": 1})),
    }
}

fn agent(
    model: Arc<ScriptedModel>,
    memory: Option<MemoryBank>,
    change: impl FnOnce(&mut AgentConfig),
) -> Agent {
    let mut config = AgentConfig {
        strategy: "voyager".into(),
        ..AgentConfig::default()
    };
    config.budget.calls = 100;
    config.voyager.iterations = 2;
    config.voyager.rounds = 2;
    change(&mut config);
    Agent::new(model, Prompts::builtin(), memory, config, "voyager-test").unwrap()
}

async fn solve(agent: &Agent, env: &mut Forge, checkpoint: Option<&Path>) -> (Solved, Vec<Event>) {
    let events = MemoryEvents::default();
    let solved = agent
        .solve(&task(), env, &events, checkpoint.map(Path::to_path_buf))
        .await
        .unwrap();
    (solved, events.events())
}

fn iterations(events: &[Event]) -> Vec<(String, bool, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Iteration {
                goal,
                success,
                rounds,
                ..
            } => Some((goal.clone(), *success, *rounds)),
            _ => None,
        })
        .collect()
}

/// One field of every `Event::Iteration` in `events`, in order.
macro_rules! of_iterations {
    ($events:expr, $field:ident) => {
        $events
            .iter()
            .filter_map(|e| match e {
                Event::Iteration { $field, .. } => Some($field.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
}

async fn skills(memory: &MemoryBank) -> Vec<memory::Skill> {
    let mut out: Vec<memory::Skill> = memory
        .records(&Filter::kind(RecordKind::Skill))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.record {
            Record::Skill(s) => Some(s),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

const GET_WOOD: &str =
    "```python\ndef get_wood():\n    \"\"\"Collects one wood.\"\"\"\n    collect('wood', 1)\n```";
const BROKEN_PICK: &str = "```python\ndef make_pick():\n    raise ValueError('oops')\n```";
const MAKE_PICK: &str = "```python\ndef make_pick():\n    \"\"\"Makes a pickaxe from fresh wood.\"\"\"\n    get_wood()\n    make('pickaxe')\n```";

#[tokio::test]
async fn a_success_becomes_a_skill_that_a_later_program_calls() {
    let dir = tempfile::tempdir().unwrap();
    let model = scripted(answers(&[
        "Task: collect_wood",
        GET_WOOD,
        "Task: make_pickaxe",
        BROKEN_PICK,
        MAKE_PICK,
    ]));
    let memory = memory(dir.path());
    let agent = agent(model.clone(), Some(memory.clone()), |_| {});
    let mut env = Forge::default();
    let (solved, events) = solve(&agent, &mut env, None).await;
    assert_eq!(
        iterations(&events),
        vec![
            ("collect_wood".into(), true, 1),
            ("make_pickaxe".into(), true, 2)
        ]
    );
    // Both tasks name achievements: checked against the world, no critic call.
    assert_eq!(solved.calls, 5);
    // The log keeps what the world answered each iteration's last program.
    let answers: Vec<String> = of_iterations!(events, feedback);
    assert!(answers[0].starts_with("wood: 1;"), "{answers:?}");
    // Each program is sent with the task it was written for.
    let goals: Vec<_> = env.goals.iter().map(|g| g.as_deref()).collect();
    let wanted = ["collect_wood", "make_pickaxe", "make_pickaxe"].map(Some);
    assert_eq!(goals, wanted);
    // A task with the environment's context is shown it.
    assert!(env_source_has(
        &model,
        3,
        "Task: make_pickaxe\nHow: call make('pickaxe'); needs 1 wood"
    ));
    assert!(!env_source_has(&model, 1, "How:"));
    // Round 2 was shown round 1's error, and sent the skill it calls with its own code.
    let second_try = &model.requests()[4].messages[0].content;
    assert!(
        second_try.contains("Traceback: raise ValueError('oops')"),
        "{second_try}"
    );
    assert!(
        second_try.contains("def get_wood"),
        "retrieved: {second_try}"
    );
    let sent = env.programs.last().unwrap();
    assert!(
        sent.starts_with("def get_wood():") && sent.ends_with("make_pick()\n"),
        "{sent}"
    );
    let stored = skills(&memory).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].name, "get_wood");
    assert_eq!((stored[0].successes, stored[0].failures), (2, 0));
    assert!(stored[1].code.starts_with("def get_wood") && stored[1].code.contains("def make_pick"));
    assert!(stored[1]
        .description
        .starts_with("Makes a pickaxe from fresh wood."));
    // The session's account is its candidate.
    let account: serde_json::Value =
        serde_json::from_str(&solved.candidates[solved.submitted.unwrap()].content).unwrap();
    assert_eq!(
        account["unique_achievements"],
        json!(["collect_wood", "make_pickaxe"])
    );
    assert_eq!(account["skills"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_free_form_task_is_judged_by_the_critic_and_a_failure_leaves_a_lesson() {
    let dir = tempfile::tempdir().unwrap();
    let wander = "```python\ndef wander():\n    collect('stone', 1)\n```";
    let wander_more = "```python\ndef wander():\n    collect('stone', 2)\n```";
    let lesson = "It never built anything. Place blocks next time.";
    let model = scripted(answers(&[
        "Task: build a house",
        wander,
        r#"{"critique": "No house was built.", "success": false}"#,
        wander_more,
        "I cannot tell.",
        lesson,
        "Task: build a house",
        wander,
        "The house stands.\nsuccess: true",
    ]));
    let memory = memory(dir.path());
    let agent = agent(model.clone(), Some(memory.clone()), |_| {});
    let (solved, events) = solve(&agent, &mut Forge::default(), None).await;
    assert_eq!(
        iterations(&events),
        vec![
            ("build a house".into(), false, 2),
            ("build a house".into(), true, 1)
        ]
    );
    assert_eq!(solved.calls, 9);
    let requests = model.requests();
    let critique = &requests[3].messages[0].content;
    assert!(
        critique.contains("Critique: No house was built."),
        "{critique}"
    );
    let retry = &requests[7].messages[0].content;
    assert!(
        retry.contains(lesson),
        "the lesson is shown on the next try: {retry}"
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::Iteration { reason, success: false, .. }
        if reason.contains("neither success true nor false"))
    ));
    let stored = skills(&memory).await;
    assert_eq!(
        stored.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["wander"]
    );
    // The lesson is kept under the task as it is matched, however it was written.
    let lessons = memory
        .records(&Filter::kind(RecordKind::Reflection))
        .await
        .unwrap();
    assert!(
        matches!(&lessons[..], [r] if matches!(&r.record, Record::Reflection(x) if x.task_id == "forge:build_house")),
        "{lessons:?}"
    );
}

#[tokio::test]
async fn a_program_written_again_is_asked_for_once_more_without_its_old_code() {
    let wander = "```python\ndef wander():\n    collect('stone', 1)\n```";
    let build = "```python\ndef build():\n    collect('wood', 1)\n```";
    let no = r#"{"critique": "No house was built.", "success": false}"#;
    let yes = r#"{"critique": "The house stands.", "success": true}"#;
    let once = |change: fn(&mut AgentConfig)| {
        move |c: &mut AgentConfig| {
            c.voyager.iterations = 1;
            change(c);
        }
    };
    // The second round writes the first round's program again: asked once more, it writes
    // another, and only that one runs.
    let model = scripted(answers(&[
        "Task: build a house",
        wander,
        no,
        wander,
        build,
        yes,
    ]));
    let mut env = Forge::default();
    let (solved, events) = solve(&agent(model.clone(), None, once(|_| {})), &mut env, None).await;
    assert_eq!(iterations(&events), vec![("build a house".into(), true, 2)]);
    assert_eq!(solved.calls, 6);
    assert_eq!(env.programs.len(), 2, "{:?}", env.programs);
    assert!(env.programs[1].contains("def build"), "{:?}", env.programs);
    let requests = model.requests();
    let (again, fresh) = (
        &requests[3].messages[0].content,
        &requests[4].messages[0].content,
    );
    assert!(again.contains("Your previous program") && !again.contains("same program again"));
    assert!(
        !fresh.contains("Your previous program")
            && fresh.contains("Critique: No house was built.")
            && fresh.contains("You wrote the same program again"),
        "{fresh}"
    );
    // Written a third time, it runs: one more question per round at most.
    let lesson = "Build, do not wander.";
    let model = scripted(answers(&[
        "Task: build a house",
        wander,
        no,
        wander,
        wander,
        no,
        lesson,
    ]));
    let mut env = Forge::default();
    let (solved, events) = solve(&agent(model, None, once(|_| {})), &mut env, None).await;
    assert_eq!(
        iterations(&events),
        vec![("build a house".into(), false, 2)]
    );
    assert_eq!((solved.calls, env.programs.len()), (7, 2));
}

#[tokio::test]
async fn a_session_killed_between_iterations_resumes_in_the_same_world() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("session.json");
    // Only the first iteration's answers: the second iteration's first call fails the task.
    let first = scripted(answers(&["Task: collect_wood", GET_WOOD]));
    let memory = memory(dir.path());
    let mut env = Forge::default();
    let events = MemoryEvents::default();
    let stopped = agent(first, Some(memory.clone()), |_| {})
        .solve(&task(), &mut env, &events, Some(checkpoint.clone()))
        .await;
    assert!(stopped.is_err(), "the script ran out: the run stops");
    // A fresh world; the session resumes at iteration 2 with the wood it had.
    let make = "```python\ndef make_pick():\n    make('pickaxe')\n```";
    let rest = scripted(answers(&["Task: make_pickaxe", make]));
    let mut fresh = Forge::default();
    let (solved, events) = solve(
        &agent(rest.clone(), Some(memory), |_| {}),
        &mut fresh,
        Some(&checkpoint),
    )
    .await;
    assert_eq!(iterations(&events), vec![("make_pickaxe".into(), true, 1)]);
    assert_eq!(rest.calls(), 2);
    assert_eq!(solved.calls, 4, "the books count both sessions' calls");
    let account: serde_json::Value =
        serde_json::from_str(&solved.candidates[solved.submitted.unwrap()].content).unwrap();
    assert_eq!(account["iterations"], 2);
}

#[tokio::test]
async fn a_world_that_dies_mid_program_goes_back_to_the_checkpoint() {
    let crash = "```python\ndef get_wood():\n    collect('wood', 1)\n    crash()\n```";
    let model = scripted(answers(&["Task: collect_wood", crash, GET_WOOD]));
    let mut env = Forge::default();
    let (_, events) = solve(
        &agent(model.clone(), None, |c| c.voyager.iterations = 1),
        &mut env,
        None,
    )
    .await;
    assert_eq!(iterations(&events), vec![("collect_wood".into(), true, 2)]);
    let retry = &model.requests()[2].messages[0].content;
    assert!(
        retry.contains("the environment failed while running the program")
            && retry.contains("wood: 0"),
        "the world was rolled back and the failure shown: {retry}"
    );
    assert_eq!(env.wood, 1);
}

#[tokio::test]
async fn a_death_starts_the_next_episode_in_a_new_world() {
    let dir = tempfile::tempdir().unwrap();
    let fatal = "```python\ndef get_wood():\n    collect('wood', 1)\n    die()\n```";
    let model = scripted(answers(&[
        "Task: collect_wood",
        fatal,
        "Task: collect_wood",
        GET_WOOD,
    ]));
    let mut env = Forge::default();
    let (solved, events) = solve(
        &agent(model, Some(memory(dir.path())), |c| {
            c.voyager.max_episodes = Some(2);
            // The fatal program did its task: it would be run again, not written anew.
            c.voyager.reuse_skills = false;
        }),
        &mut env,
        None,
    )
    .await;
    assert_eq!(of_iterations!(events, episode), vec![0, 1]);
    let resets: Vec<_> = env.resets.iter().map(|r| r["episode"].clone()).collect();
    assert_eq!(resets, vec![json!(0), json!(1)]);
    let account: serde_json::Value =
        serde_json::from_str(&solved.candidates[solved.submitted.unwrap()].content).unwrap();
    assert_eq!(account["episodes"][0]["ended"], "died");
    assert_eq!(
        account["episodes"][0]["achievements"],
        json!(["collect_wood"])
    );
    assert_eq!(
        account["episodes"][1]["achievements"],
        json!(["collect_wood"])
    );
}

fn proposed_by(events: &[Event]) -> Vec<String> {
    of_iterations!(events, proposed_by)
}

fn replays(events: &[Event]) -> Vec<Option<String>> {
    of_iterations!(events, replayed)
}

#[tokio::test]
async fn a_skill_stored_for_an_alias_is_found_for_its_achievement() {
    let dir = tempfile::tempdir().unwrap();
    let memory = memory(dir.path());
    let model = scripted(answers(&["Task: chop a tree", GET_WOOD]));
    let a = agent(model, Some(memory.clone()), |c| c.voyager.iterations = 1);
    solve(&a, &mut Forge::default(), None).await;
    let tags = &skills(&memory).await[0].tags;
    assert!(tags.contains(&"task:chop a tree".to_string()), "{tags:?}");
    assert!(tags.contains(&"task:collect_wood".to_string()), "{tags:?}");
    // The warm-up order's collect_wood runs it without asking the model.
    let quiet = scripted(answers(&[]));
    let a = agent(quiet, Some(memory.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 1;
    });
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(replays(&events), vec![Some("get_wood v1".into())]);
    assert_eq!(solved.calls, 0);
}

#[tokio::test]
async fn a_task_done_before_runs_its_skill_without_asking_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let fatal_pick = "```python\ndef make_pick():\n    make('pickaxe')\n    die()\n```";
    // Episode 0: collect_wood (stored), make_pickaxe (the player dies). Episode 1: collect_wood
    // again, by the stored skill: no model call. Then the frozen library's skill fails, and the
    // model writes round 2.
    let model = scripted(answers(&[GET_WOOD, fatal_pick]));
    let memory = memory(dir.path());
    let a = agent(model.clone(), Some(memory.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 3;
    });
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(
        iterations(&events),
        vec![
            ("collect_wood".into(), true, 1),
            ("make_pickaxe".into(), true, 1),
            ("collect_wood".into(), true, 1)
        ]
    );
    assert_eq!(
        replays(&events),
        vec![None, None, Some("get_wood v1".into())]
    );
    assert_eq!(solved.calls, 2, "the replayed round asked nothing");
    let wood = skills(&memory)
        .await
        .into_iter()
        .find(|s| s.name == "get_wood")
        .unwrap();
    assert_eq!(
        (wood.successes, wood.failures),
        (2, 0),
        "the replay counts a use"
    );
    assert!(wood.tags.contains(&"task:collect_wood".to_string()));
    // With reuse off, the model writes every program.
    let model = scripted(answers(&[GET_WOOD]));
    let a = agent(model.clone(), Some(memory.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 1;
        c.voyager.reuse_skills = false;
    });
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!((solved.calls, replays(&events)), (1, vec![None]));
    // A replay that fails leaves the next round to the model, shown the skill's code and error.
    let dir2 = tempfile::tempdir().unwrap();
    let memory2 = common::memory(dir2.path());
    let a = agent(scripted(answers(&[GET_WOOD])), Some(memory2.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 1;
    });
    solve(&a, &mut Forge::default(), None).await;
    let broken = memory::Skill {
        code: "def get_wood():\n    raise ValueError('no')".into(),
        version: 2,
        successes: 3,
        ..skills(&memory2).await[0].clone()
    };
    memory2.remember(Record::Skill(broken)).await.unwrap();
    let model = scripted(answers(&[GET_WOOD]));
    let a = agent(model.clone(), Some(memory2.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 1;
        c.voyager.learn = false;
    });
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(replays(&events), vec![Some("get_wood v2".into())]);
    assert_eq!(iterations(&events), vec![("collect_wood".into(), true, 2)]);
    assert_eq!(solved.calls, 1);
    assert!(env_source_has(&model, 0, "raise ValueError('no')"));
    assert!(env_source_has(&model, 0, "Traceback"));
    // Learning, the failed replay counts a failure of its own, though round 2 (which succeeds)
    // does not call it.
    let a = agent(scripted(answers(&[GET_WOOD])), Some(memory2.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 1;
    });
    let (_, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("collect_wood".into(), true, 2)]);
    let v2 = skills(&memory2)
        .await
        .into_iter()
        .find(|s| s.version == 2)
        .unwrap();
    assert_eq!((v2.successes, v2.failures), (3, 1));
}

#[tokio::test]
async fn a_need_that_interrupts_a_program_ends_its_task_and_comes_next() {
    let dir = tempfile::tempdir().unwrap();
    let interrupted = "```python\ndef make_pick():\n    interrupt()\n    make('pickaxe')\n```";
    let drink = "```python\ndef drink_up():\n    drink()\n```";
    let model = scripted(answers(&["Task: make_pickaxe", interrupted, drink]));
    let memory = memory(dir.path());
    let a = agent(model, Some(memory.clone()), |c| c.voyager.iterations = 2);
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    // No round 2 for the interrupted task, no reflection on it: the need is next.
    assert_eq!(
        iterations(&events),
        vec![
            ("make_pickaxe".into(), false, 1),
            ("restore_drink".into(), true, 1)
        ]
    );
    assert_eq!(proposed_by(&events)[1], "need");
    assert_eq!(solved.calls, 3);
    let lessons = memory
        .records(&Filter::kind(RecordKind::Reflection))
        .await
        .unwrap();
    assert!(lessons.is_empty(), "{lessons:?}");
    let names: Vec<String> = skills(&memory).await.into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["drink_up"]);
    // A task done before the need stopped the program is done.
    let wood_then_stopped = "```python\ndef wood():\n    collect('wood', 1)\n    interrupt()\n```";
    let model = scripted(answers(&["Task: collect_wood", wood_then_stopped]));
    let a = agent(model, None, |c| c.voyager.iterations = 1);
    let (_, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("collect_wood".into(), true, 1)]);
}

#[tokio::test]
async fn a_task_the_world_reports_locked_gives_way_to_what_it_needs_first() {
    let model = scripted(answers(&["Task: Make a pickaxe", GET_WOOD]));
    let a = agent(model, None, |c| c.voyager.iterations = 1);
    let mut env = Forge {
        locking: true,
        ..Forge::default()
    };
    let (solved, events) = solve(&a, &mut env, None).await;
    assert_eq!(iterations(&events), vec![("collect_wood".into(), true, 1)]);
    assert_eq!(
        proposed_by(&events),
        ["prerequisite: \"Make a pickaxe\" needs collect_wood first"]
    );
    assert_eq!(solved.calls, 2);
    // A task the library has a working skill for stays: the skill may do what it needs first.
    let dir = tempfile::tempdir().unwrap();
    let memory = memory(dir.path());
    let learn = scripted(answers(&[
        "Task: collect_wood",
        GET_WOOD,
        "Task: make_pickaxe",
        MAKE_PICK,
    ]));
    solve(
        &agent(learn, Some(memory.clone()), |_| {}),
        &mut Forge::default(),
        None,
    )
    .await;
    let a = agent(
        scripted(answers(&["Task: Make a pickaxe"])),
        Some(memory),
        |c| c.voyager.iterations = 1,
    );
    let mut env = Forge {
        locking: true,
        ..Forge::default()
    };
    let (solved, events) = solve(&a, &mut env, None).await;
    assert_eq!(
        iterations(&events),
        vec![("Make a pickaxe".into(), true, 1)]
    );
    assert_eq!(proposed_by(&events), ["model"]);
    assert_eq!(replays(&events), [Some("make_pick v1".into())]);
    assert_eq!(solved.calls, 1);
}

#[tokio::test]
async fn a_prerequisite_that_failed_too_often_gives_way_like_the_task_itself() {
    let failing = ["Task: Make a pickaxe", BROKEN_PICK, "Check first."];
    let mut script: Vec<&str> = failing.repeat(3);
    script.extend(["Task: Make a pickaxe", GET_WOOD]);
    let a = agent(scripted(answers(&script)), None, |c| {
        c.voyager.iterations = 4;
        c.voyager.rounds = 1;
    });
    let mut env = Forge {
        locking: true,
        ..Forge::default()
    };
    let (_, events) = solve(&a, &mut env, None).await;
    let by = proposed_by(&events);
    assert_eq!(by.len(), 4, "{by:?}");
    assert!(
        by[..3].iter().all(|b| b.starts_with("prerequisite:")),
        "{by:?}"
    );
    assert!(
        by[3].starts_with(
            "fallback: \"Make a pickaxe\" needs collect_wood first, which failed 3 times"
        ),
        "{by:?}"
    );
}

#[tokio::test]
async fn what_the_library_can_do_comes_first_and_the_curriculum_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let memory = memory(dir.path());
    let self_pick = "```python\ndef self_pick():\n    \"\"\"Gets a wood and makes a pickaxe.\"\"\"\n    collect('wood', 1)\n    make('pickaxe')\n```";
    let learn = scripted(answers(&["Task: make_pickaxe", self_pick]));
    let a = agent(learn, Some(memory.clone()), |c| c.voyager.iterations = 1);
    solve(&a, &mut Forge::default(), None).await;
    // The fixed order (collect_wood, make_pickaxe) takes make_pickaxe first: the library can
    // do it, without a model call (and its skill collects the wood itself).
    let model = scripted(answers(&[]));
    let a = agent(model, Some(memory.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 1;
        c.voyager.learn = false;
    });
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("make_pickaxe".into(), true, 1)]);
    assert_eq!(replays(&events), [Some("self_pick v1".into())]);
    assert_eq!(solved.calls, 0);
    // The curriculum's prompt names what the library can do of what is not unlocked yet.
    let model = scripted(answers(&["Task: collect_wood", GET_WOOD]));
    let a = agent(model.clone(), Some(memory), |c| {
        c.voyager.iterations = 1;
        c.voyager.learn = false;
    });
    solve(&a, &mut Forge::default(), None).await;
    assert!(env_source_has(
        &model,
        0,
        "the skill library can do (quickly, with a skill that worked before): make_pickaxe\n"
    ));
    // Without a library, no such line.
    let model = scripted(answers(&["Task: collect_wood", GET_WOOD]));
    let a = agent(model.clone(), None, |c| c.voyager.iterations = 1);
    solve(&a, &mut Forge::default(), None).await;
    assert!(!env_source_has(&model, 0, "skill library can do"));
}

#[tokio::test]
async fn an_urgent_need_comes_before_the_curriculum_and_is_judged_by_its_check() {
    let drink = "```python\ndef drink_up():\n    drink()\n```";
    let still_thirsty = "```python\ndef drink_up():\n    collect('wood', 1)\n```";
    // Two programs leave drink at 3: the world reports the need; the third iteration takes it
    // without a curriculum call; a program that does not drink fails the check, one that does
    // passes it (the critic is never asked).
    let model = scripted(answers(&[
        "Task: collect_wood",
        GET_WOOD,
        "Task: make_pickaxe",
        MAKE_PICK,
        still_thirsty,
        drink,
    ]));
    let env_with_thirst = || Forge {
        thirsty: true,
        ..Forge::default()
    };
    let mut env = env_with_thirst();
    let a = agent(model.clone(), None, |c| c.voyager.iterations = 3);
    let (solved, events) = solve(&a, &mut env, None).await;
    assert_eq!(
        iterations(&events),
        vec![
            ("collect_wood".into(), true, 1),
            ("make_pickaxe".into(), true, 1),
            ("restore_drink".into(), true, 2)
        ]
    );
    let by = proposed_by(&events);
    assert_eq!(by[2], "need");
    assert_eq!(solved.calls, 6, "no curriculum or critic call for the need");
    assert!(env_source_has(
        &model,
        5,
        "does not report vitals.drink at least 7"
    ));
    assert!(env_source_has(
        &model,
        4,
        "Task: restore_drink\nHow: call drink()"
    ));
    assert_eq!(env.thirst, 0);
    // With needs off, the curriculum is asked as before.
    let model = scripted(answers(&[
        "Task: collect_wood",
        GET_WOOD,
        "Task: make_pickaxe",
        MAKE_PICK,
        "Task: collect_wood",
        GET_WOOD,
        "success: true",
    ]));
    let a = agent(model, None, |c| {
        c.voyager.iterations = 3;
        c.voyager.needs = false;
    });
    let (_, events) = solve(&a, &mut env_with_thirst(), None).await;
    assert!(iterations(&events)
        .iter()
        .all(|(g, _, _)| g != "restore_drink"));
}

#[tokio::test]
async fn ablations_change_only_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    // No curriculum: the warm-up order, no curriculum call.
    let memory1 = memory(dir.path());
    let model = scripted(answers(&[GET_WOOD, MAKE_PICK]));
    let a = agent(model.clone(), Some(memory1.clone()), |c| {
        c.voyager.curriculum = false;
        c.voyager.skill_library = false;
    });
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(
        iterations(&events),
        vec![
            ("collect_wood".into(), true, 1),
            ("make_pickaxe".into(), true, 1)
        ]
    );
    assert_eq!(solved.calls, 2);
    // No skill library: nothing retrieved (the program calls an unknown get_wood) or stored.
    assert!(!env_source_has(&model, 1, "Skills learned earlier"));
    assert!(skills(&memory1).await.is_empty());
    // No critic: a free-form task that ran without an error is done.
    let model = scripted(answers(&[
        "Task: build a house",
        "```python\ndef h():\n    collect('stone', 1)\n```",
    ]));
    let a = agent(model, None, |c| {
        c.voyager.critic = false;
        c.voyager.iterations = 1;
    });
    let (solved, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("build a house".into(), true, 1)]);
    assert_eq!(solved.calls, 2);
    // No verification: an achievement the program did not unlock still counts as done; with
    // the environment's checks on, the same program fails its round.
    let no_pickaxe = [
        "Task: make_pickaxe",
        "```python\ndef p():\n    collect('stone', 1)\n```",
    ];
    let a = agent(scripted(answers(&no_pickaxe)), None, |c| {
        c.voyager.critic = false;
        c.voyager.environment_checks = false;
        c.voyager.iterations = 1;
        c.voyager.rounds = 1;
    });
    let (_, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("make_pickaxe".into(), true, 1)]);
    let reflected = [no_pickaxe[0], no_pickaxe[1], "It never made a pickaxe."];
    let a = agent(scripted(answers(&reflected)), None, |c| {
        c.voyager.critic = false;
        c.voyager.iterations = 1;
        c.voyager.rounds = 1;
    });
    let (_, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("make_pickaxe".into(), false, 1)]);
    // A frozen library: skills are retrieved, nothing is stored or counted.
    let dir2 = tempfile::tempdir().unwrap();
    let memory2 = memory(dir2.path());
    let learn = scripted(answers(&["Task: collect_wood", GET_WOOD]));
    let a = agent(learn, Some(memory2.clone()), |c| c.voyager.iterations = 1);
    solve(&a, &mut Forge::default(), None).await;
    let frozen = scripted(answers(&["Task: make_pickaxe", MAKE_PICK]));
    let a = agent(frozen.clone(), Some(memory2.clone()), |c| {
        c.voyager.iterations = 1;
        c.voyager.learn = false;
    });
    let (_, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("make_pickaxe".into(), true, 1)]);
    assert!(env_source_has(&frozen, 1, "def get_wood"));
    let stored = skills(&memory2).await;
    assert_eq!(stored.len(), 1, "nothing new stored");
    assert_eq!(stored[0].successes, 1, "uses are not counted");
}

fn env_source_has(model: &ScriptedModel, request: usize, text: &str) -> bool {
    model.requests()[request].messages[0].content.contains(text)
}

#[tokio::test]
async fn unusable_replies_are_recorded_failures_not_errors() {
    let model = scripted(answers(&[
        "   ",
        "I would collect some wood.",
        "```python\ndef g():\n    collect('wood', 1)\n```",
        "Task: collect wood",
        "```python\ndef p():\n    make('pickaxe')\n```",
    ]));
    let mut env = Forge::default();
    let (_, events) = solve(&agent(model.clone(), None, |_| {}), &mut env, None).await;
    // The curriculum said nothing: the warm-up order's first task; the first program had no
    // code: nothing ran, and the second round was told why. Then the curriculum named an
    // achievement unlocked already: the warm-up order's next task instead.
    assert_eq!(
        iterations(&events),
        vec![
            ("collect_wood".into(), true, 2),
            ("make_pickaxe".into(), true, 1)
        ]
    );
    let by = proposed_by(&events);
    assert!(
        by[0].starts_with("fallback: the reply named no task"),
        "{by:?}"
    );
    assert!(by[1].contains("is unlocked already"), "{by:?}");
    assert!(env_source_has(
        &model,
        2,
        "nothing ran: the reply has no ```python code block"
    ));
    assert_eq!(env.programs.len(), 2);
}

#[tokio::test]
async fn an_environment_without_a_program_api_is_refused() {
    struct Plain;
    #[async_trait]
    impl Environment for Plain {
        async fn reset(&mut self, _: &Task) -> Result<Observation, EnvError> {
            Ok(Observation::text("a room"))
        }
        async fn step(&mut self, _: &Action) -> Result<Step, EnvError> {
            unreachable!()
        }
        fn name(&self) -> &str {
            "plain"
        }
    }
    let model = scripted(answers(&[]));
    let events = MemoryEvents::default();
    let err = agent(model, None, |_| {})
        .solve(&task(), &mut Plain, &events, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("data.api"), "{err}");
}

#[tokio::test]
async fn a_corrupt_checkpoint_is_an_error_naming_it_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("session.json");
    std::fs::write(&checkpoint, "{\"work\": {\"candid").unwrap();
    let events = MemoryEvents::default();
    let err = agent(scripted(answers(&[])), None, |_| {})
        .solve(
            &task(),
            &mut Forge::default(),
            &events,
            Some(checkpoint.clone()),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("session.json") && text.contains("not a complete checkpoint"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&checkpoint).unwrap(),
        "{\"work\": {\"candid",
        "left as it was"
    );
}

#[tokio::test]
async fn a_program_named_like_an_api_function_is_stored_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let memory = memory(dir.path());
    let shadow = "```python\ndef gather_wood():\n    \"\"\"Collects a wood.\"\"\"\n    collect('wood', 1)\n\ngather_wood()\n```";
    let model = scripted(answers(&["Task: collect_wood", shadow]));
    let a = agent(model, Some(memory.clone()), |c| c.voyager.iterations = 1);
    let (_, events) = solve(&a, &mut Forge::default(), None).await;
    assert_eq!(iterations(&events), vec![("collect_wood".into(), true, 1)]);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::SkillWrite { outcome, name, .. }
        if name == "gather_wood_skill" && outcome == "new (renamed from gather_wood, an API function's name)")));
    let stored = skills(&memory).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "gather_wood_skill");
    assert!(stored[0].code.starts_with("def gather_wood_skill():"));
    assert!(!stored[0].code.contains("def gather_wood("));
    // Run again by its new name, without the model.
    let mut env = Forge::default();
    let a = agent(scripted(answers(&[])), Some(memory), |c| {
        c.voyager.curriculum = false;
        c.voyager.iterations = 1;
    });
    let (solved, events) = solve(&a, &mut env, None).await;
    assert_eq!(replays(&events), [Some("gather_wood_skill v1".into())]);
    assert_eq!(solved.calls, 0);
    assert!(
        env.programs[0].ends_with("\ngather_wood_skill()\n"),
        "{}",
        env.programs[0]
    );
}

#[tokio::test]
async fn a_prompt_too_long_for_the_context_fails_the_round_not_the_session() {
    use agent_core::llm::{LlmError, ScriptedTurn};
    let too_long = || {
        ScriptedTurn::Fail(LlmError::ContextLength {
            provider: "p".into(),
            message: "4100 tokens > 4096".into(),
        })
    };
    let turns = vec![
        too_long(), // the curriculum: the warm-up order instead
        too_long(), // round 1's program: nothing ran
        ScriptedTurn::Answer(GET_WOOD.into()),
    ];
    let model = scripted(turns);
    let (solved, events) = solve(
        &agent(model.clone(), None, |c| c.voyager.iterations = 1),
        &mut Forge::default(),
        None,
    )
    .await;
    assert_eq!(iterations(&events), vec![("collect_wood".into(), true, 2)]);
    assert!(solved.error.is_none());
    assert!(env_source_has(&model, 2, "did not fit the model's context"));
}

#[tokio::test]
async fn two_libraries_in_one_store_keep_their_own_skills() {
    let dir = tempfile::tempdir().unwrap();
    let memory = memory(dir.path());
    for library in ["a", "b"] {
        let model = scripted(answers(&["Task: collect_wood", GET_WOOD]));
        let a = agent(model, Some(memory.clone()), |c| {
            c.voyager.iterations = 1;
            c.voyager.library = library.into();
        });
        let (_, events) = solve(&a, &mut Forge::default(), None).await;
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::SkillWrite { outcome, .. } if outcome == "new")),
            "library {library} stores its own get_wood"
        );
    }
    let libraries: Vec<String> = skills(&memory)
        .await
        .into_iter()
        .map(|s| s.library)
        .collect();
    assert_eq!(libraries.len(), 2);
    assert!(libraries.contains(&"a".to_string()) && libraries.contains(&"b".to_string()));
}
