//! HumanEval and MBPP through the real sandbox: every canonical solution passes,
//! wrong ones fail, demo code is dropped, hidden tests never leak.

use environments::code::{hidden_check_job, score_submission, HiddenTestGrader};
use environments::{load_suite, Action, CodingEnv, Environment, Grader, Task, TaskKind, TaskSuite};
use std::sync::Arc;
use tools::sandbox::{Sandbox, SandboxConfig, Verdict};

fn sandbox() -> Arc<Sandbox> {
    Arc::new(Sandbox::new(SandboxConfig::default()).expect("bubblewrap is installed"))
}

fn humaneval() -> environments::Suite {
    load_suite("humaneval", &tools::default_data_dir()).expect("HumanEval data")
}

fn canonical(task: &Task) -> String {
    let TaskKind::Code(code) = &task.kind else {
        panic!("coding task")
    };
    format!(
        "{}{}",
        task.prompt,
        code.canonical_solution.as_deref().unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_164_canonical_solutions_pass_in_the_sandbox() {
    let suite = humaneval();
    assert_eq!(suite.tasks().len(), 164);
    let sb = sandbox();
    let checks: Vec<_> = suite
        .tasks()
        .iter()
        .cloned()
        .map(|task| {
            let sb = sb.clone();
            tokio::spawn(async move {
                let outcome = score_submission(&sb, &task, &canonical(&task))
                    .await
                    .unwrap();
                (task.id, outcome)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for c in checks {
        let (id, outcome) = c.await.unwrap();
        if !outcome.passed() {
            failures.push(format!("{id}: {} {:?}", outcome.verdict, outcome.reason));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn a_wrong_solution_fails_with_its_assertion() {
    let suite = humaneval();
    let task = suite.get("HumanEval/0").unwrap();
    let wrong = "def has_close_elements(numbers, threshold):\n    return False\n";
    let outcome = score_submission(&sandbox(), task, wrong).await.unwrap();
    assert_eq!(outcome.verdict, Verdict::Failed);
    let reason = outcome.reason.unwrap();
    assert!(
        reason.starts_with("a hidden test failed at line"),
        "{reason}"
    );
}

#[tokio::test]
async fn demo_code_after_the_solution_does_not_decide_the_verdict() {
    let suite = humaneval();
    let task = suite.get("HumanEval/2").unwrap(); // truncate_number: float part
    let with_demo = format!(
        "{}\nprint(truncate_number(3.5))\nassert truncate_number(1.1) == 0.1  # float ==, fails\nif __name__ == '__main__':\n    raise SystemExit(1)\n",
        canonical(task)
    );
    let outcome = score_submission(&sandbox(), task, &with_demo)
        .await
        .unwrap();
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    assert_eq!(outcome.outcome.stdout, "", "the demo print never ran");
}

#[tokio::test]
async fn helpers_defined_by_the_prompt_are_available() {
    let suite = humaneval();
    let task = suite.get("HumanEval/38").unwrap(); // decode_cyclic needs the prompt's encode_cyclic
    let solution = "def decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n";
    let outcome = score_submission(&sandbox(), task, solution).await.unwrap();
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    // A candidate's own encode_cyclic does not replace the prompt's in the tests.
    let redefined = format!("{solution}def encode_cyclic(s: str):\n    return s\n");
    let check = hidden_check_job(
        task,
        match &task.kind {
            TaskKind::Code(c) => c,
            _ => unreachable!(),
        },
        &redefined,
    );
    let direct = check.judge(sandbox().run(&check.job).await);
    assert_eq!(direct.verdict, Verdict::Failed, "{direct:?}");
}

#[tokio::test]
async fn a_solution_without_the_entry_point_is_named() {
    let suite = humaneval();
    let task = suite.get("HumanEval/0").unwrap();
    let outcome = score_submission(&sandbox(), task, "def helper():\n    return 1\n")
        .await
        .unwrap();
    assert_eq!(outcome.verdict, Verdict::Failed);
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("does not define has_close_elements()"),
        "{reason}"
    );
}

#[tokio::test]
async fn internal_tests_give_feedback_and_the_grader_reveals_only_the_verdict() {
    let suite = humaneval();
    let task = suite.get("HumanEval/0").unwrap();
    let mut env = CodingEnv::new(sandbox());
    let obs = env.reset(task).await.unwrap();
    assert_eq!(obs.text, task.prompt);

    let good = env.step(&Action::test(canonical(task))).await.unwrap();
    assert_eq!(good.reward, 1.0, "{}", good.observation.text);
    assert!(
        good.observation
            .text
            .starts_with("2/2 internal tests passed"),
        "{}",
        good.observation.text
    );

    let wrong = "def has_close_elements(numbers, threshold):\n    return True\n";
    env.set_internal_asserts(vec![
        "assert has_close_elements([1.0, 5.0], 0.5) == False".into()
    ]);
    let bad = env.step(&Action::test(wrong)).await.unwrap();
    assert!(!bad.done && bad.reward < 1.0);
    let text = &bad.observation.text;
    assert!(
        text.contains("has_close_elements([1.0, 2.0, 3.0], 0.5) returned True, expected False"),
        "{text}"
    );
    assert!(text.contains("(left side was True)"), "{text}");

    let looping = "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n";
    let hang = env.step(&Action::test(looping)).await.unwrap();
    assert!(
        hang.observation.text.contains("did not finish"),
        "{}",
        hang.observation.text
    );

    // The environment cannot run the hidden tests; only a grader can, and it tells the verdict.
    assert!(env
        .step(&Action {
            kind: "submit".into(),
            content: wrong.into(),
            goal: None,
        })
        .await
        .is_err());
    let grade = HiddenTestGrader::new(sandbox())
        .grade(task, wrong)
        .await
        .unwrap();
    assert!(!grade.passed);
    assert_eq!(grade.verdict, "failed");
    let added = env
        .step(&Action::add_tests(&[format!(
            "assert {}(1) == 1",
            "nothing"
        )]))
        .await
        .unwrap();
    // One more besides the assert set above.
    assert_eq!(added.info["asserts"], 2, "{added:?}");
    assert_eq!(added.observation.text, "1 internal test assert(s) added");
}

#[tokio::test]
async fn most_humaneval_prompts_yield_docstring_examples() {
    let suite = humaneval();
    let with = suite
        .tasks()
        .iter()
        .filter(|t| matches!(&t.kind, TaskKind::Code(c) if !c.examples.is_empty()))
        .count();
    assert!(with >= 120, "only {with} of 164 prompts gave examples");
    // The examples of a canonical solution hold (a check of the extraction itself).
    let sb = sandbox();
    let mut env = CodingEnv::new(sb);
    let mut wrong = Vec::new();
    for task in suite.tasks() {
        let TaskKind::Code(c) = &task.kind else {
            continue;
        };
        if c.examples.is_empty() {
            continue;
        }
        env.reset(task).await.unwrap();
        let step = env.step(&Action::test(canonical(task))).await.unwrap();
        if step.info["internal_tests"] != 0 && step.reward < 1.0 {
            wrong.push(format!("{}: {}", task.id, step.observation.text));
        }
    }
    // HumanEval/47 and /148 have wrong examples in their docstrings.
    let known_bad = ["HumanEval/47:", "HumanEval/148:"];
    wrong.retain(|w| !known_bad.iter().any(|k| w.starts_with(k)));
    assert!(
        wrong.is_empty(),
        "examples disagreeing with canonical solutions: {wrong:#?}"
    );
}

#[test]
#[cfg_attr(
    not(mbpp_data),
    ignore = "needs the MBPP data, which no registry ships: set MNEME_SHARED_DATA to its folder"
)]
fn mbpp_loads_from_shared_data() {
    let suite = load_suite("mbpp", &tools::default_data_dir()).expect("MBPP data from shared/data");
    assert_eq!(suite.tasks().len(), 397);
    let t = &suite.tasks()[0];
    assert!(t.id.starts_with("MBPP/"));
    assert!(
        format!("{t:?}").contains("hidden"),
        "hidden tests stay redacted in Debug"
    );
}
