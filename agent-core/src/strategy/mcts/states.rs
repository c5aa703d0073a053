//! Going back to a state of the search tree: by the environment's `snapshot`/`restore` where it
//! has them, else by replaying the state's actions from `reset` and checking that every
//! observation is the one recorded. A replay that sees another observation is an error naming
//! the step ([`AgentError::Diverged`]), never a silently wrong tree.

use crate::agent::{AgentError, Work};
use crate::strategy::lats::tree::Tree;
use environments::{Action, EnvError, Snapshot};
use std::collections::HashMap;

/// How the states of one task's tree are reached.
pub struct States {
    /// Why states are replayed rather than restored; `None` while snapshots work.
    replaying: Option<String>,
    /// Saved states by node (in this process only: a resumed search replays once, then saves).
    snapshots: HashMap<usize, Snapshot>,
    /// The node whose state the environment is in; `None` when unknown.
    at: Option<usize>,
}

impl States {
    /// Resets the environment to the task's start and checks its observation against the
    /// root's (when resuming a tree); tries a snapshot to learn whether the environment has them.
    pub async fn start(
        work: &mut Work<'_>,
        tree: Option<&Tree>,
    ) -> Result<(Self, String), AgentError> {
        let task = work.task();
        let observation = work.env().reset(task).await?.text;
        if let Some(tree) = tree {
            check(work, 0, "", &tree.node(0).feedback, &observation)?;
        }
        let mut states = States {
            replaying: None,
            snapshots: HashMap::new(),
            at: Some(0),
        };
        states.arrived(work, 0).await?;
        Ok((states, observation))
    }

    /// Why states are replayed, if they are.
    pub fn replaying(&self) -> Option<&str> {
        self.replaying.as_deref()
    }

    /// The environment's state is no longer known (an action was rejected, say).
    pub fn lost(&mut self) {
        self.at = None;
    }

    /// The environment has just stepped into `node`'s state, where the episode ended: it is
    /// never returned to, so nothing is saved, but the environment is no longer where it was.
    pub fn passed_through(&mut self, node: usize) {
        self.at = Some(node);
    }

    /// The environment has just stepped into `node`'s state: save it where snapshots work.
    pub async fn arrived(&mut self, work: &mut Work<'_>, node: usize) -> Result<(), AgentError> {
        self.at = Some(node);
        if self.replaying.is_some() {
            return Ok(());
        }
        match work.env().snapshot().await {
            Ok(snapshot) => {
                self.snapshots.insert(node, snapshot);
                Ok(())
            }
            Err(e) if can_do_without(&e) => {
                self.replay_from_now_on(format!("snapshot: {e}"));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Puts the environment in `node`'s state.
    pub async fn go_to(
        &mut self,
        work: &mut Work<'_>,
        tree: &Tree,
        node: usize,
    ) -> Result<(), AgentError> {
        if self.at == Some(node) {
            return Ok(());
        }
        if let Some(snapshot) = self
            .snapshots
            .get(&node)
            .filter(|_| self.replaying.is_none())
        {
            match work.env().restore(snapshot).await {
                Ok(()) => {
                    self.at = Some(node);
                    return Ok(());
                }
                Err(e) if can_do_without(&e) => self.replay_from_now_on(format!("restore: {e}")),
                Err(e) => return Err(e.into()),
            }
        }
        self.replay(work, tree, node).await
    }

    /// Resets and replays the actions on the path to `node`, checking each observation.
    async fn replay(
        &mut self,
        work: &mut Work<'_>,
        tree: &Tree,
        node: usize,
    ) -> Result<(), AgentError> {
        self.at = None;
        let task = work.task();
        let start = work.env().reset(task).await?.text;
        check(work, 0, "", &tree.node(0).feedback, &start)?;
        for (step, id) in tree.path_to(node).into_iter().enumerate().skip(1) {
            let recorded = tree.node(id);
            let action = recorded.code.clone().unwrap_or_default();
            let now = work.env().step(&Action::act(&action)).await?;
            check(
                work,
                step,
                &action,
                &recorded.feedback,
                &now.observation.text,
            )?;
        }
        self.arrived(work, node).await
    }

    fn replay_from_now_on(&mut self, why: String) {
        tracing::warn!("mcts: states will be replayed from the start ({why})");
        self.replaying = Some(why);
        self.snapshots.clear();
    }
}

/// An environment that cannot snapshot or restore (it says so, or answers with an error) is
/// searched by replay instead; a crash or a hang is the task's failure, not a fallback.
fn can_do_without(error: &EnvError) -> bool {
    matches!(error, EnvError::Unsupported(_) | EnvError::Reported { .. })
}

fn check(
    work: &Work<'_>,
    step: usize,
    action: &str,
    recorded: &str,
    now: &str,
) -> Result<(), AgentError> {
    if recorded == now {
        return Ok(());
    }
    let cut = |text: &str| text.chars().take(300).collect::<String>();
    Err(AgentError::Diverged {
        task: work.task().id.clone(),
        step,
        action: action.to_string(),
        expected: cut(recorded),
        got: cut(now),
    })
}
