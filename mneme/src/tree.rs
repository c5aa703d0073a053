//! `mneme tree RUN_DIR TASK_ID`: a `lats` task's search tree from its checkpoint
//! (`RUN_DIR/tasks/ID.json`), printed as an outline and exported as DOT or SVG.

use agent_core::run::{checkpoint_file, RunDir};
use agent_core::strategy::lats::tree::Tree;
use anyhow::Context;
use std::path::Path;

/// A task's tree and the node it submitted (the node holding the chosen candidate).
pub struct TaskTree {
    /// The tree.
    pub tree: Tree,
    /// The submitted node, if any.
    pub submitted: Option<usize>,
}

/// The tree of `task_id` in the run at `run_dir`; `None` when the task has no tree (not a
/// `lats` task, or not started). A file that does not parse is an error naming it.
pub fn load(run_dir: &Path, task_id: &str) -> anyhow::Result<Option<TaskTree>> {
    RunDir::open(run_dir)?;
    load_file(&checkpoint_file(run_dir, task_id))
}

/// The tree in the checkpoint file `path`; `None` when there is no file or it holds no tree.
pub fn load_file(path: &Path) -> anyhow::Result<Option<TaskTree>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let what = path.display().to_string();
    let file: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{what} is not a complete checkpoint (cut short?)"))?;
    let Some(tree) = file.get("strategy").and_then(|s| s.get("tree")) else {
        return Ok(None);
    };
    let tree = Tree::from_json(&serde_json::to_vec(tree)?, &what)?;
    let chosen = file["work"]["choice"].as_u64().map(|c| c as usize);
    let submitted = tree
        .ids()
        .find(|&id| chosen.is_some() && tree.node(id).candidate == chosen);
    Ok(Some(TaskTree { tree, submitted }))
}

/// Prints the outline; writes DOT and SVG where asked.
pub fn print(
    run_dir: &Path,
    task_id: &str,
    dot: Option<&Path>,
    svg: Option<&Path>,
) -> anyhow::Result<()> {
    let Some(t) = load(run_dir, task_id)? else {
        anyhow::bail!(
            "{} has no search tree for task {task_id} (only `lats` tasks that started have one)",
            run_dir.display()
        );
    };
    print!("{}", t.tree.render_text(t.submitted));
    if let Some(path) = dot {
        std::fs::write(path, t.tree.to_dot(t.submitted))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = svg {
        std::fs::write(path, t.tree.to_svg(t.submitted))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
