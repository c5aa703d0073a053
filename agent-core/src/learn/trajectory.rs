//! Trajectories: what the agent did on a task and what its internal tests said, read back
//! from a run's events. Only what the agent saw goes in — its code, the internal-test
//! feedback, its reflections. Hidden-test verdicts (`TrialScore`, `Submission`) are in the
//! same log but have no field here, so nothing learned from a trajectory can depend on them.

use crate::agent::Event;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One attempt at a task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Its label (trial, sample, node + 1).
    pub label: u32,
    /// The code run, if the reply had any.
    pub code: Option<String>,
    /// What the internal tests said.
    pub feedback: String,
    /// Whether the internal tests all passed.
    pub passed: bool,
    /// The reflection written on it, if any.
    pub reflection: Option<String>,
}

/// A task's attempts, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// The task.
    pub task_id: String,
    /// Its prompt.
    pub prompt: String,
    /// Its attempts, in the order they were made.
    pub steps: Vec<Step>,
}

impl Trajectory {
    /// The first attempt that passed its internal tests, if any.
    pub fn first_pass(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.passed && s.code.is_some())
    }

    /// Failed, then passed: the last failed attempt before the first pass, and that pass.
    pub fn fixed(&self) -> Option<(&Step, &Step)> {
        let pass = self.first_pass()?;
        let failed = self.steps[..pass].iter().rev().find(|s| s.code.is_some())?;
        Some((failed, &self.steps[pass]))
    }
}

/// The step `label` of `task`, made when new (and the task put in `order` when new).
fn step_of<'s>(
    steps: &'s mut HashMap<String, Vec<Step>>,
    order: &mut Vec<String>,
    task: &str,
    label: u32,
) -> &'s mut Step {
    let list = steps.entry(task.to_string()).or_insert_with(|| {
        order.push(task.to_string());
        Vec::new()
    });
    let at = match list.iter().position(|s| s.label == label) {
        Some(i) => i,
        None => {
            list.push(Step {
                label,
                ..Step::default()
            });
            list.len() - 1
        }
    };
    &mut list[at]
}

/// The trajectories in `events`, in the order their tasks first appear; `prompt_of` gives a
/// task's prompt (tasks it does not know are left out).
pub fn from_events<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    prompt_of: impl Fn(&str) -> Option<String>,
) -> Vec<Trajectory> {
    let mut order: Vec<String> = Vec::new();
    let mut steps: HashMap<String, Vec<Step>> = HashMap::new();
    for event in events {
        match event {
            Event::Action {
                task_id,
                trial,
                code,
                ..
            } => step_of(&mut steps, &mut order, task_id, *trial).code = Some(code.clone()),
            Event::Evaluation {
                task_id,
                trial,
                feedback,
                passed,
                ..
            } => {
                let s = step_of(&mut steps, &mut order, task_id, *trial);
                s.feedback = feedback.clone();
                s.passed = *passed;
            }
            Event::Reflection {
                task_id,
                trial,
                text,
            } => step_of(&mut steps, &mut order, task_id, *trial).reflection = Some(text.clone()),
            // Hidden-test verdicts and everything else: not the agent's to learn from.
            _ => {}
        }
    }
    order
        .into_iter()
        .filter_map(|task_id| {
            let prompt = prompt_of(&task_id)?;
            let steps = steps.remove(&task_id).unwrap_or_default();
            Some(Trajectory {
                task_id,
                prompt,
                steps,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(task: &str, trial: u32, code: &str) -> Event {
        Event::Action {
            task_id: task.into(),
            trial,
            kind: "test".into(),
            code: code.into(),
        }
    }

    fn evaluation(task: &str, trial: u32, passed: bool) -> Event {
        Event::Evaluation {
            task_id: task.into(),
            trial,
            feedback: format!("trial {trial}: {passed}"),
            reward: if passed { 1.0 } else { 0.0 },
            verdict: "x".into(),
            passed,
        }
    }

    #[test]
    fn attempts_feedback_and_reflections_make_a_trajectory_and_hidden_verdicts_do_not() {
        let events = vec![
            action("a", 1, "def f(): return 1"),
            evaluation("a", 1, false),
            Event::Reflection {
                task_id: "a".into(),
                trial: 1,
                text: "return 2".into(),
            },
            action("b", 1, "def g(): pass"),
            evaluation("b", 1, true),
            Event::TrialScore {
                task_id: "b".into(),
                trial: 1,
                passed: false,
            },
            action("a", 2, "def f(): return 2"),
            evaluation("a", 2, true),
            Event::Submission {
                task_id: "a".into(),
                trial: 2,
                verdict: "failed".into(),
                passed: false,
            },
        ];
        let t = from_events(&events, |id| (id != "c").then(|| format!("prompt {id}")));
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].task_id, "a");
        let (failed, passed) = t[0].fixed().unwrap();
        assert_eq!(failed.reflection.as_deref(), Some("return 2"));
        assert_eq!(passed.code.as_deref(), Some("def f(): return 2"));
        assert_eq!(
            t[1].first_pass(),
            Some(0),
            "the hidden verdict changes nothing"
        );
        assert!(t[1].fixed().is_none());
    }
}
