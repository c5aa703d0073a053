//! `mneme explore crafter`: a lifelong-learning session (the `voyager` strategy) in a shipped
//! environment that runs programs, or the frozen evaluation of a skill library on fixed seeds.
//! Both are ordinary runs (run directory, events, checkpoint after every iteration, `mneme
//! resume`); this module sets them up, follows their iterations on the terminal and sums them
//! up (achievements, skills, the Crafter score).

use crate::config::Config;
use crate::envs::Builtin;
use crate::runner::{self, RunArgs};
use anyhow::Context;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Crafter's 22 achievements.
pub const CRAFTER_ACHIEVEMENTS: [&str; 22] = [
    "collect_coal",
    "collect_diamond",
    "collect_drink",
    "collect_iron",
    "collect_sapling",
    "collect_stone",
    "collect_wood",
    "defeat_skeleton",
    "defeat_zombie",
    "eat_cow",
    "eat_plant",
    "make_iron_pickaxe",
    "make_iron_sword",
    "make_stone_pickaxe",
    "make_stone_sword",
    "make_wood_pickaxe",
    "make_wood_sword",
    "place_furnace",
    "place_plant",
    "place_stone",
    "place_table",
    "wake_up",
];

/// What `mneme explore` was asked.
#[derive(Clone, Debug)]
pub struct ExploreArgs {
    /// The shipped environment (`crafter`).
    pub env: String,
    /// Iterations of the session (per episode when evaluating).
    pub iterations: u32,
    /// The world's seed (training).
    pub seed: u64,
    /// The skill library's name.
    pub library: String,
    /// Evaluate the library, frozen, on this many fixed evaluation seeds (one episode each).
    pub evaluate: Option<usize>,
    /// Ablation: no skill library.
    pub no_skills: bool,
    /// Ablation: the warm-up order as a fixed task list.
    pub no_curriculum: bool,
    /// Ablation: no self-verification critic.
    pub no_critic: bool,
    /// Ablation: no verification at all (neither the critic nor the environment's checks).
    pub no_verification: bool,
    /// A local model id or a model name.
    pub model: Option<String>,
    /// The run's id.
    pub run_id: Option<String>,
    /// Where the run directory goes (default `runs/RUN_ID`).
    pub run_dir: Option<PathBuf>,
    /// Evaluation episodes at once.
    pub concurrency: Option<usize>,
}

/// The shipped environment `name`, if it runs programs.
fn program_env(name: &str) -> anyhow::Result<&'static Builtin> {
    let env = crate::envs::builtin(name)
        .with_context(|| format!("no shipped environment is called {name:?}"))?;
    anyhow::ensure!(
        env.confined,
        "{name} does not run programs; explore needs one that does (crafter)"
    );
    Ok(env)
}

/// Writes the task file of the run: one session on `seed`, or the first `k` evaluation seeds.
fn task_file(config: &Config, env: &Builtin, args: &ExploreArgs) -> anyhow::Result<PathBuf> {
    let dir = config
        .data_dir()
        .join("envs")
        .join(env.name)
        .join("sessions");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (path, text) = match args.evaluate {
        Some(k) => {
            let seeds: Vec<&str> = env
                .tasks
                .1
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            anyhow::ensure!(
                (1..=seeds.len()).contains(&k),
                "--evaluate takes 1 to {} episodes (the fixed evaluation seeds)",
                seeds.len()
            );
            (
                dir.join(format!("eval-{k}.jsonl")),
                seeds[..k].join("\n") + "\n",
            )
        }
        None => {
            let line = serde_json::json!({
                "id": format!("{}-seed-{}", env.name, args.seed),
                "prompt": "Explore the world and unlock as many achievements as you can.",
                "seed": args.seed,
            });
            (
                dir.join(format!("seed-{}.jsonl", args.seed)),
                format!("{line}\n"),
            )
        }
    };
    tools::fsio::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// `mneme explore`.
pub async fn explore(mut config: Config, args: ExploreArgs) -> anyhow::Result<()> {
    let env = program_env(&args.env)?;
    let voyager = &mut config.agent.voyager;
    voyager.iterations = args.iterations;
    voyager.library = args.library.clone();
    voyager.skill_library &= !args.no_skills;
    voyager.curriculum &= !args.no_curriculum;
    voyager.critic &= !(args.no_critic || args.no_verification);
    voyager.environment_checks &= !args.no_verification;
    if args.evaluate.is_some() {
        voyager.learn = false;
        voyager.max_episodes = Some(1);
    }
    let budget = args.iterations * voyager.calls_per_iteration();
    let tasks = task_file(&config, env, &args)?;
    let kind = if args.evaluate.is_some() {
        "eval"
    } else {
        "explore"
    };
    let run_id = args.run_id.clone().unwrap_or_else(|| {
        format!(
            "{}-{kind}-{}-{}",
            env.name,
            args.library,
            memory::record::now()
        )
    });
    let run_dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&run_id));
    let run_args = RunArgs {
        suite: Some(env.name.to_string()),
        env_tasks: Some(tasks),
        strategy: Some("voyager".into()),
        budget: Some(budget),
        concurrency: args.concurrency,
        run_id: Some(run_id),
        model: args.model.clone(),
        run_dir: Some(run_dir.clone()),
        ..RunArgs::default()
    };
    let follow = tokio::spawn(follow_iterations(run_dir.join("events.jsonl")));
    let outcome = runner::run(config, run_args).await;
    follow.abort();
    outcome?;
    print_outcome(&run_dir)
}

/// Sums a finished explore run up on the terminal and writes its report (`mneme resume` of an
/// explore run does the same).
pub fn print_outcome(run_dir: &Path) -> anyhow::Result<()> {
    let (_, html) = crate::report::write(run_dir)?;
    eprintln!("mneme: report: {}", html.display());
    let accounts = accounts(run_dir)?;
    let episodes = episodes_of(&accounts);
    for (i, a) in accounts.iter().enumerate() {
        let unique = strings(&a["unique_achievements"]);
        println!(
            "session {}: {} iterations, {} episodes, {} unique achievements ({}), {} skills",
            i + 1,
            a["iterations"],
            a["episodes"].as_array().map_or(0, Vec::len),
            unique.len(),
            unique.join(", "),
            a["skills"].as_array().map_or(0, Vec::len)
        );
    }
    if let Some(line) = score_line(&episodes) {
        println!("{line}");
    }
    Ok(())
}

/// Every episode's achievements, over the sessions' accounts.
pub fn episodes_of(accounts: &[Value]) -> Vec<Vec<String>> {
    accounts
        .iter()
        .flat_map(|a| a["episodes"].as_array().cloned().unwrap_or_default())
        .map(|e| strings(&e["achievements"]))
        .collect()
}

/// `N episodes: M achievements per episode; Crafter score S%`, or `None` without episodes.
pub fn score_line(episodes: &[Vec<String>]) -> Option<String> {
    if episodes.is_empty() {
        return None;
    }
    let mean = episodes.iter().map(Vec::len).sum::<usize>() as f64 / episodes.len() as f64;
    Some(format!(
        "{} episodes: {mean:.2} achievements per episode; Crafter score {:.2}%",
        episodes.len(),
        crafter_score(episodes)
    ))
}

/// Each finished session's account (the voyager strategy's submitted candidate).
pub fn accounts(run_dir: &Path) -> anyhow::Result<Vec<Value>> {
    let (dir, _) = agent_core::run::RunDir::open(run_dir)?;
    Ok(dir
        .results()?
        .iter()
        .filter_map(|r| r.submitted_code.as_deref())
        .filter_map(|c| serde_json::from_str(c).ok())
        .collect())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Crafter's score over episodes (Hafner 2021): with `s_i` the percentage of episodes that
/// unlocked achievement `i`, `exp(mean_i ln(1 + s_i)) - 1`, over the 22 achievements, in %.
pub fn crafter_score(episodes: &[Vec<String>]) -> f64 {
    if episodes.is_empty() {
        return 0.0;
    }
    let n = episodes.len() as f64;
    let mean_log = CRAFTER_ACHIEVEMENTS
        .iter()
        .map(|a| {
            let hits = episodes.iter().filter(|e| e.iter().any(|x| x == a)).count();
            (1.0 + 100.0 * hits as f64 / n).ln()
        })
        .sum::<f64>()
        / CRAFTER_ACHIEVEMENTS.len() as f64;
    mean_log.exp() - 1.0
}

/// Prints one line per finished iteration as it lands in `events`: the iteration, its task
/// and verdict, achievements and skills so far, tokens.
pub async fn follow_iterations(events: PathBuf) {
    // Iterations logged before (a resumed run) are not shown again.
    let mut seen = std::fs::read_to_string(&events).map_or(0, |t| t.lines().count());
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let Ok(text) = std::fs::read_to_string(&events) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for line in lines.iter().skip(seen) {
            if let Some(shown) = iteration_line(line) {
                eprintln!("{shown}");
            }
        }
        // A line still being written is read again next time.
        seen = lines
            .len()
            .saturating_sub(usize::from(!text.ends_with('\n')));
    }
}

/// The progress line of an `iteration` event, or `None` for other lines.
pub fn iteration_line(line: &str) -> Option<String> {
    let e: Value = serde_json::from_str(line).ok()?;
    (e["type"] == "iteration").then(|| {
        format!(
            "[{}] iteration {} (episode {}): {} {} in {} round(s); {} achievements, {} skills, {} tokens",
            e["task_id"].as_str().unwrap_or(""),
            e["iteration"],
            e["episode"],
            e["goal"].as_str().unwrap_or(""),
            if e["success"] == true { "done" } else { "not done" },
            e["rounds"],
            e["achievements"].as_array().map_or(0, Vec::len),
            e["skills"],
            e["tokens"]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crafter_score_matches_its_definition() {
        assert_eq!(crafter_score(&[]), 0.0);
        // Every achievement in every episode: 100%.
        let all: Vec<String> = CRAFTER_ACHIEVEMENTS.iter().map(|s| s.to_string()).collect();
        assert!((crafter_score(&[all.clone(), all]) - 100.0).abs() < 1e-9);
        // One achievement in half the episodes: exp(ln(51)/22) - 1.
        let half = [vec!["collect_wood".to_string()], vec![]];
        let expected = (51f64.ln() / 22.0).exp() - 1.0;
        assert!((crafter_score(&half) - expected).abs() < 1e-9);
    }

    #[test]
    fn iteration_events_become_progress_lines() {
        let line = r#"{"session":1,"time_ms":5,"type":"iteration","task_id":"crafter-seed-1","iteration":3,"episode":0,"goal":"collect_wood","proposed_by":"model","success":true,"rounds":1,"reason":"ok","new_achievements":["collect_wood"],"achievements":["collect_wood"],"skills":1,"tokens":900}"#;
        let shown = iteration_line(line).unwrap();
        assert!(
            shown.contains("iteration 3") && shown.contains("collect_wood done"),
            "{shown}"
        );
        assert!(
            shown.contains("1 achievements, 1 skills, 900 tokens"),
            "{shown}"
        );
        assert_eq!(iteration_line(r#"{"session":1,"type":"model_call"}"#), None);
    }
}
