//! Learning across tasks with a scripted model, a real sandbox (the linked helper runs in
//! Python) and a real embedded store: coding skills stored, shown, linked and counted;
//! ExpeL insights extracted from a run's events and shown within their token budget.

mod common;

use common::memory;

use agent_core::agent::{grade, Agent, AgentConfig, Event, MemoryEvents, Prompts};
use agent_core::learn::{self, expel, insights, ExtractConfig};
use agent_core::llm::ScriptedModel;
use environments::code::HiddenTestGrader;
use environments::{CodingEnv, Task};
use memory::{MemoryBank, Record, Skill};
use std::sync::Arc;
use tools::sandbox::{Sandbox, SandboxConfig};

const TASKS: &str = r#"{"task_id": "t/prime", "prompt": "def is_prime(n: int) -> bool:\n    \"\"\"Return True if n is a prime number.\n    >>> is_prime(7)\n    True\n    \"\"\"\n", "entry_point": "is_prime", "test": "def check(candidate):\n    assert candidate(11)\n    assert not candidate(9)\n"}
{"task_id": "t/count", "prompt": "def count_primes(xs: list) -> int:\n    \"\"\"Return how many numbers of xs are prime numbers.\n    >>> count_primes([2, 4, 7])\n    2\n    \"\"\"\n", "entry_point": "count_primes", "test": "def check(candidate):\n    assert candidate([3, 5, 8, 9]) == 2\n"}"#;

const IS_PRIME: &str = "```python\ndef is_prime(n: int) -> bool:\n    def small(k):\n        return k < 2\n    if small(n):\n        return False\n    return all(n % d for d in range(2, int(n ** 0.5) + 1))\n```";
/// Calls the helper, and defines its own `small` that must not replace the helper's.
const COUNT: &str = "```python\ndef small(k):\n    return 'not the helper'\n\ndef count_primes(xs: list) -> int:\n    return sum(1 for x in xs if is_prime(x))\n```";

fn tasks() -> Vec<Task> {
    common::tasks_of(TASKS)
}

fn learning(learn: bool, skills: bool, insights: bool) -> AgentConfig {
    let mut config = AgentConfig {
        strategy: "simple".into(),
        ..AgentConfig::default()
    };
    config.learning.library = "lib".into();
    config.learning.learn = learn;
    config.learning.skills = skills;
    config.learning.insights = insights;
    config.learning.skills_min_score = -1.0;
    config.learning.max_growth = 0.0;
    config
}

async fn solve(agent: &Agent, task: &Task, events: &MemoryEvents) -> agent_core::agent::TaskResult {
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).unwrap());
    let mut env = CodingEnv::new(sandbox.clone());
    let solved = agent.solve(task, &mut env, events, None).await.unwrap();
    let grader = HiddenTestGrader::new(sandbox);
    grade(task, &solved, &grader, 8, events).await.unwrap()
}

/// Stores `code` (a function `is_prime`) in library `lib` as a skill.
async fn store_is_prime(bank: &MemoryBank, code: &str) {
    let tag = vec![memory::library_tag("lib")];
    let skill = learn::skills::skill_from(code, "is_prime", "", "lib", tag).unwrap();
    learn::skills::store(bank, skill).await.unwrap();
}

async fn library(bank: &MemoryBank) -> Vec<Skill> {
    bank.library_skills("lib")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.record {
            Record::Skill(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_passing_submission_becomes_a_helper_that_a_later_task_calls_in_its_own_scope() {
    let dir = tempfile::tempdir().unwrap();
    let bank = memory(dir.path());
    let [prime, count] = <[Task; 2]>::try_from(tasks()).unwrap();

    // Learning run: the submission passed its internal tests, so it is stored.
    let model = Arc::new(ScriptedModel::answering(&[IS_PRIME]));
    let agent = Agent::new(
        model,
        Prompts::builtin(),
        Some(bank.clone()),
        learning(true, false, false),
        "learn",
    )
    .unwrap();
    let events = MemoryEvents::default();
    assert!(solve(&agent, &prime, &events).await.passed);
    let skills = library(&bank).await;
    assert_eq!(skills.len(), 1);
    assert_eq!(
        skills[0].description,
        "def is_prime(n: int) -> bool: Return True if n is a prime number."
    );
    assert!(events.events().iter().any(
        |e| matches!(e, Event::SkillWrite { name, outcome, .. } if name == "is_prime" && outcome == "new")
    ));

    // A later task sees it as a helper, calls it, and the program the sandbox runs has it.
    let model = Arc::new(ScriptedModel::answering(&[COUNT]));
    let agent = Agent::new(
        model.clone(),
        Prompts::builtin(),
        Some(bank.clone()),
        learning(true, true, false),
        "use",
    )
    .unwrap();
    let events = MemoryEvents::default();
    let result = solve(&agent, &count, &events).await;
    let prompt = &model.requests()[0].messages[1].content;
    assert!(
        prompt.contains("- is_prime(n: int) -> bool: Return True if n is a prime number."),
        "{prompt}"
    );
    assert!(
        result.passed,
        "the linked helper ran in the sandbox: {result:?}"
    );
    let used = library(&bank).await;
    let names: Vec<&str> = used.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["count_primes", "is_prime"],
        "the learning run stored its own"
    );
    assert_eq!(
        (used[1].successes, used[1].failures),
        (2, 0),
        "a use that passed is counted"
    );
    assert!(events.events().iter().any(
        |e| matches!(e, Event::Library { helpers, .. } if helpers[0].starts_with("is_prime"))
    ));

    // A frozen library (learn off) changes nothing: no new skill, no count.
    let model = Arc::new(ScriptedModel::answering(&[COUNT]));
    let agent = Agent::new(
        model,
        Prompts::builtin(),
        Some(bank.clone()),
        learning(false, true, false),
        "frozen",
    )
    .unwrap();
    assert!(solve(&agent, &count, &MemoryEvents::default()).await.passed);
    assert_eq!(library(&bank).await, used);
}

#[tokio::test]
async fn a_helper_named_like_the_task_function_is_left_out_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bank = memory(dir.path());
    let [prime, _] = <[Task; 2]>::try_from(tasks()).unwrap();
    store_is_prime(
        &bank,
        "def is_prime(n):\n    \"\"\"Always true.\"\"\"\n    return True",
    )
    .await;
    let model = Arc::new(ScriptedModel::answering(&[IS_PRIME]));
    let agent = Agent::new(
        model.clone(),
        Prompts::builtin(),
        Some(bank),
        learning(false, true, false),
        "r",
    )
    .unwrap();
    let events = MemoryEvents::default();
    assert!(solve(&agent, &prime, &events).await.passed);
    assert!(!model.requests()[0].messages[1]
        .content
        .contains("Always true"));
    let left_out = events.events().into_iter().find_map(|e| match e {
        Event::Library { left_out, .. } => Some(left_out),
        _ => None,
    });
    assert_eq!(
        left_out.unwrap(),
        ["skill is_prime left out: its name is the task's function"]
    );
}

#[tokio::test]
async fn insights_are_extracted_from_a_runs_events_voted_capped_and_shown_within_budget() {
    let dir = tempfile::tempdir().unwrap();
    let bank = memory(dir.path());
    let [prime, _] = <[Task; 2]>::try_from(tasks()).unwrap();

    // A run where the first attempt fails and the second passes (reflexion).
    let wrong = "```python\ndef is_prime(n: int) -> bool:\n    return n % 2 == 0\n```";
    let model = Arc::new(ScriptedModel::answering(&[
        wrong,
        "Checking evenness is wrong: 7 is prime. Test divisors up to the square root.",
        IS_PRIME,
    ]));
    let config = AgentConfig {
        strategy: "reflexion".into(),
        ..AgentConfig::default()
    };
    let agent = Agent::new(model, Prompts::builtin(), Some(bank.clone()), config, "r").unwrap();
    let events = MemoryEvents::default();
    solve(&agent, &prime, &events).await;
    let all = events.events();
    let trajectories =
        learn::from_events(&all, |id| (id == prime.id).then(|| prime.prompt.clone()));
    let comparisons = expel::comparisons(&trajectories, 4);
    assert_eq!(comparisons.len(), 1, "one task fixed by a retry");

    // The model's operations: two adds, one malformed line, one op beyond the per-call cap.
    let reply = "ADD: Check every divisor up to the square root, not only parity.\nEDIT: no number\nADD: Handle numbers below 2 first.\nADD: one too many.";
    let extractor = ScriptedModel::answering(&[reply]);
    let config = ExtractConfig {
        library: "lib".into(),
        max_ops: 2,
        ..ExtractConfig::default()
    };
    let step = expel::extract_one(
        &extractor,
        &Prompts::builtin(),
        &bank,
        &config,
        &comparisons[0],
        "r",
    )
    .await
    .unwrap();
    let prompt = &extractor.requests()[0].messages[1].content;
    assert!(prompt.contains("return n % 2 == 0") && prompt.contains("Checking evenness"));
    assert!(
        !prompt.contains("assert not candidate(9)"),
        "hidden tests never shown"
    );
    assert_eq!(step.outcome.applied.len(), 2);
    assert_eq!(
        step.outcome.discarded.len(),
        2,
        "{:?}",
        step.outcome.discarded
    );
    assert_eq!(step.rules, 2);
    let rules = insights::rules(&bank, "lib").await.unwrap();
    assert!(rules.iter().all(|r| r.votes == 2), "ADD starts at 2 votes");

    // AGREE 2 and REMOVE 1 twice: rule 1 drops at 0, rule 2 leads with 3.
    let ops = vec![
        insights::Operation::Agree { n: 2 },
        insights::Operation::Remove { n: 1 },
        insights::Operation::Remove { n: 1 },
    ];
    let applied = insights::apply(&bank, "lib", &rules, ops, 20)
        .await
        .unwrap();
    assert_eq!(applied.applied.len(), 3);
    let rules = insights::rules(&bank, "lib").await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].votes, rules[0].text.as_str()),
        (3, "Handle numbers below 2 first.")
    );
    // A full list refuses an ADD; a number past the end is discarded; nothing is lost.
    let ops = vec![
        insights::Operation::Add {
            text: "A new rule.".into(),
        },
        insights::Operation::Agree { n: 7 },
    ];
    let applied = insights::apply(&bank, "lib", &rules, ops, 1).await.unwrap();
    let reasons: Vec<&str> = applied
        .discarded
        .iter()
        .map(|d| d.reason.as_str())
        .collect();
    assert!(
        reasons[0].contains("holds 1 rules") && reasons[1].contains("no rule 7"),
        "{reasons:?}"
    );
    assert_eq!(insights::rules(&bank, "lib").await.unwrap(), rules);

    // Shown to the next task, within the token budget.
    bank.add_insight("lib", &"Long rule. ".repeat(30), 1)
        .await
        .unwrap();
    let model = Arc::new(ScriptedModel::answering(&[IS_PRIME]));
    let mut config = learning(false, false, true);
    config.learning.insights_tokens = 40;
    let agent = Agent::new(
        model.clone(),
        Prompts::builtin(),
        Some(bank.clone()),
        config,
        "t",
    )
    .unwrap();
    solve(&agent, &prime, &MemoryEvents::default()).await;
    let prompt = &model.requests()[0].messages[1].content;
    assert!(
        prompt.contains("- Handle numbers below 2 first."),
        "{prompt}"
    );
    assert!(!prompt.contains("Long rule."), "over the budget: {prompt}");
}

#[tokio::test]
async fn from_trial_two_leaves_the_first_attempt_as_without_a_library_and_shows_helpers_to_retries()
{
    let dir = tempfile::tempdir().unwrap();
    let bank = memory(dir.path());
    let [_, count] = <[Task; 2]>::try_from(tasks()).unwrap();
    store_is_prime(
        &bank,
        "def is_prime(n: int) -> bool:\n    \"\"\"Return True if n is a prime number.\"\"\"\n    return n > 1 and all(n % d for d in range(2, n))",
    )
    .await;
    let wrong = "```python\ndef count_primes(xs: list) -> int:\n    return len(xs)\n```";
    let model = Arc::new(ScriptedModel::answering(&[
        wrong,
        "Counting every number is wrong: count only the primes.",
        COUNT,
    ]));
    let mut config = learning(false, true, false);
    config.strategy = "reflexion".into();
    config.learning.from_trial = 2;
    let agent = Agent::new(model.clone(), Prompts::builtin(), Some(bank), config, "r").unwrap();
    let events = MemoryEvents::default();
    let result = solve(&agent, &count, &events).await;
    let requests = model.requests();
    assert_eq!(requests.len(), 3, "attempt, reflection, attempt");
    let acts = [&requests[0], &requests[2]].map(|r| r.messages[1].content.clone());
    let helper = "- is_prime(n: int) -> bool: Return True if n is a prime number.";
    assert!(!acts[0].contains(helper), "first attempt: {}", acts[0]);
    assert!(acts[1].contains(helper), "retry: {}", acts[1]);
    assert!(result.passed, "the retry called the helper: {result:?}");
    let trials: Vec<u32> = events
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Library { trial, .. } => Some(*trial),
            _ => None,
        })
        .collect();
    assert_eq!(trials, [2], "the library is looked up for the retry only");
}
