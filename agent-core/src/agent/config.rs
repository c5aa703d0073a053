//! What an agent does and how: the strategy's name, the per-task budget, and the settings of
//! each built-in strategy. Everything that matters for a result is here, so `run.json` holds it.

use serde::{Deserialize, Serialize};

/// Where internal tests come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InternalTests {
    /// The prompt's docstring examples.
    #[default]
    Docstring,
    /// Asserts the model writes from the prompt.
    Model,
    /// Both.
    Both,
}

/// What one task may spend. Every model call counts, whatever its purpose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskBudget {
    /// Model calls per task (at least 1).
    pub calls: u32,
    /// Tokens (prompt + completion) per task; no new call starts once they are spent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

impl Default for TaskBudget {
    fn default() -> Self {
        Self {
            calls: 8,
            tokens: None,
        }
    }
}

/// `best_of_n`: the greedy attempt plus samples; the best by internal tests is submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BestOfNConfig {
    /// Candidates at most, the greedy one included (the call budget may stop it sooner).
    pub n: u32,
    /// Temperature of the samples after the greedy one.
    pub temperature: f32,
    /// CodeT-style dual agreement when no candidate passes its internal tests: the model writes
    /// `model_tests` asserts once (one call), and the candidate submitted comes from the group
    /// of candidates passing the same asserts with the most (candidates × asserts passed).
    pub dual_agreement: bool,
}

impl Default for BestOfNConfig {
    fn default() -> Self {
        Self {
            n: 8,
            temperature: 0.8,
            dual_agreement: false,
        }
    }
}

/// `lats`: Monte Carlo tree search over code attempts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatsConfig {
    /// Children per expansion.
    pub children: u32,
    /// Temperature of children (the first child of each expansion is sampled too).
    pub temperature: f32,
    /// UCT's exploration constant.
    pub exploration: f64,
    /// Subtracted from a node's UCT per level of depth.
    pub depth_penalty: f64,
    /// Subtracted from the UCT of a child whose code repeats an earlier node's.
    pub duplicate_penalty: f64,
    /// Weight of the model's own estimate of a node in its value (0: internal tests only).
    pub self_eval_weight: f64,
    /// Nodes deeper than this are not expanded.
    pub max_depth: u32,
    /// Show a child the parent's code and test results (besides the reflections on its path).
    /// Off by default: shown its parent's code, Qwen2.5-Coder-0.5B wrote it again in 111 of 200
    /// children on HumanEval, and the search gained 2 tasks over `simple`; not shown it, 10 of
    /// 178 were duplicates and it gained 9 (docs/benchmarks.md).
    pub show_parent_code: bool,
}

impl Default for LatsConfig {
    fn default() -> Self {
        Self {
            children: 3,
            temperature: 0.8,
            exploration: 1.0,
            depth_penalty: 0.0,
            duplicate_penalty: 0.5,
            self_eval_weight: 0.0,
            max_depth: 4,
            show_parent_code: false,
        }
    }
}

/// `mcts`: Monte Carlo tree search over the actions of an environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MctsConfig {
    /// Candidate actions asked for per expanded state (the first greedy when the state has no
    /// child yet, the others sampled with their own seeds).
    pub children: u32,
    /// Temperature of the sampled candidate actions.
    pub temperature: f32,
    /// Weight of UCT's exploration term.
    pub exploration: f64,
    /// Play on from a new state with greedy actions until the episode ends (a rollout), so the
    /// environment's reward reaches the tree; without it, only expansions reach the end.
    pub rollout: bool,
    /// Nodes (states) in the tree at most; the call budget may stop it sooner.
    pub max_nodes: u32,
    /// Actions from the start at most (by default `episode.max_steps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    /// λ: weight of the model's own estimate of a state's promise (0–10, one call) mixed into
    /// the value of a state the search stops at before the episode ends. 0 turns it off; a reply
    /// without a number is a neutral 0.5, flagged on the node.
    pub value_weight: f64,
}

impl Default for MctsConfig {
    fn default() -> Self {
        Self {
            children: 3,
            temperature: 0.8,
            exploration: 1.0,
            rollout: true,
            max_nodes: 400,
            max_depth: None,
            value_weight: 0.0,
        }
    }
}

/// Learning across tasks: what a run reads from (and, with `learn`, adds to) a library of
/// cross-task memory — ExpeL-style insights, coding skills and other tasks' reflections, all
/// tagged `library:NAME` so a study learns on one set of tasks and is scored on another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// The library: insights, skills and (with `cross_task`) reflections come from records
    /// tagged `library:NAME`. Empty: no library (cross-task reflections of any other task).
    pub library: String,
    /// Add to the library: a submitted function that passed its internal tests becomes a
    /// skill, reflections are tagged with the library, and helpers' use counts are kept. Off:
    /// the library is read only (frozen).
    pub learn: bool,
    /// Show the library's insights (the rules with most votes) on every attempt.
    pub insights: bool,
    /// Tokens the insights may take in a prompt (estimated at 4 characters a token).
    pub insights_tokens: u32,
    /// Show the library's skills most similar to the task as helpers the code may call.
    pub skills: bool,
    /// Helpers shown at most.
    pub skills_k: usize,
    /// The least similarity (cosine, task prompt against skill description) a helper needs.
    pub skills_min_score: f32,
    /// What cross-task memory (helpers, then insights) may add to the first-attempt prompt, as
    /// a fraction of it (in characters); what does not fit is left out. 0: no limit.
    pub max_growth: f32,
    /// The first attempt (trial) shown insights and helpers: 1, every attempt; 2, retries
    /// only, so a first attempt is the one the run would make without a library and cross-task
    /// memory can change only a task whose first attempt failed its internal tests.
    pub from_trial: u32,
}

impl Default for LearningConfig {
    fn default() -> Self {
        Self {
            library: String::new(),
            learn: false,
            insights: false,
            insights_tokens: 200,
            skills: false,
            skills_k: 3,
            skills_min_score: 0.5,
            max_growth: 0.3,
            from_trial: 1,
        }
    }
}

/// `voyager`: lifelong learning in an environment that runs programs (Wang et al. 2023).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoyagerConfig {
    /// Iterations of the session (one curriculum task each); the call budget may stop it sooner.
    pub iterations: u32,
    /// Rounds of code writing per task (each: a program, its execution, the critic).
    pub rounds: u32,
    /// Skills retrieved for a task (top-k by the embedding of the task and its context).
    pub skills_k: usize,
    /// Use the skill library: retrieve skills into prompts and store new ones (off: every
    /// program is written from scratch; an ablation).
    pub skill_library: bool,
    /// Ask the model for the next task (off: the environment's warm-up order as a fixed list;
    /// an ablation).
    pub curriculum: bool,
    /// Ask the model whether a program did its task (off: a program that ran without an error
    /// counts as done, unless a programmatic check applies; an ablation).
    pub critic: bool,
    /// Judge a round by what the environment reports where it can: a need's own check, an
    /// achievement the task names (off: only the critic judges, or, without it, a program that
    /// ran without an error counts as done; with the critic off too, this is Voyager's ablation
    /// without self-verification).
    pub environment_checks: bool,
    /// Learn: store skills, usage counts and reflections (off: a frozen library, for evaluation).
    pub learn: bool,
    /// Run the library's best skill for the very task first, without asking the model (a
    /// skill stored when the same task was done, with more successes than failures); the model
    /// writes the next rounds if it fails.
    pub reuse_skills: bool,
    /// Take the environment's urgent needs (`data.needs`, a vital running low) as the next task
    /// before the curriculum, each judged by its own check.
    pub needs: bool,
    /// Episodes at most (a death or the episode's length ends one; the next starts a new
    /// world); `None`: until the iterations run out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_episodes: Option<u32>,
    /// The library's name: skills and reflections are tagged `library:NAME` and only that
    /// library's are retrieved.
    pub library: String,
    /// A task proposed after failing this many times (in a row, this episode) is replaced by
    /// the next one of the warm-up order.
    pub max_task_failures: u32,
    /// Completion tokens of a program.
    pub program_max_tokens: u32,
    /// Temperature of rounds after the first.
    pub retry_temperature: f32,
}

impl Default for VoyagerConfig {
    fn default() -> Self {
        Self {
            iterations: 50,
            rounds: 4,
            skills_k: 5,
            skill_library: true,
            curriculum: true,
            critic: true,
            environment_checks: true,
            learn: true,
            reuse_skills: true,
            needs: true,
            max_episodes: None,
            library: "default".into(),
            max_task_failures: 3,
            program_max_tokens: 512,
            retry_temperature: 0.7,
        }
    }
}

impl VoyagerConfig {
    /// Model calls one iteration may make at most: the curriculum, a program and a critic per
    /// round, and a reflection.
    pub fn calls_per_iteration(&self) -> u32 {
        1 + 2 * self.rounds + 1
    }
}

/// Episodes of a custom environment: one attempt is one episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpisodeConfig {
    /// Actions per episode at most.
    pub max_steps: u32,
    /// Total reward that counts as success.
    pub success_reward: f64,
    /// Completion tokens per action.
    pub action_max_tokens: u32,
    /// The same action this many times in a row is a loop: the model is asked again, with a
    /// seeded sample at `repeat_temperature` (up to two more calls, each counted), before an
    /// action repeats once more. 0 turns it off. (Greedy small models otherwise send one
    /// failing action until the episode ends: docs/benchmarks.md, TextCraft.)
    pub max_repeats: u32,
    /// Temperature of those re-asks.
    pub repeat_temperature: f32,
}

impl Default for EpisodeConfig {
    fn default() -> Self {
        Self {
            max_steps: 10,
            success_reward: 1.0,
            action_max_tokens: 24,
            max_repeats: 2,
            repeat_temperature: 0.8,
        }
    }
}

/// What the agent does and how; every part that matters for the gain is here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// The strategy's name: `simple`, `reflexion`, `best_of_n`, `lats` (see
    /// [`crate::strategy::NAMES`]).
    pub strategy: String,
    /// What one task may spend.
    pub budget: TaskBudget,
    /// Trials per task (reflexion; the call budget may stop it sooner).
    pub trials: u32,
    /// Also retrieve reflections from other, similar tasks.
    pub cross_task: bool,
    /// Where internal tests come from.
    pub internal_tests: InternalTests,
    /// How many asserts to ask the model for.
    pub model_tests: usize,
    /// Temperature of the first attempt.
    pub first_temperature: f32,
    /// Temperature of later attempts (reflexion).
    pub retry_temperature: f32,
    /// Reflections of this task shown to the actor (the most recent ones).
    pub reflections_kept: usize,
    /// Reflections of other tasks shown with cross-task memory.
    pub cross_task_k: usize,
    /// The first trial that sees other tasks' reflections (1: every attempt; 2: only retries).
    pub cross_task_from_trial: u32,
    /// The least similarity (cosine, task prompt against reflection) another task's reflection
    /// needs to be shown.
    pub cross_task_min_score: f32,
    /// Show the previous attempt and its test results to the actor (reflexion; the reflector
    /// always sees them). Off by default: Qwen2.5-Coder-0.5B shown its failed code wrote it
    /// again to the letter in 79 of 96 retries on HumanEval and fixed none; without it, 5
    /// (docs/benchmarks.md).
    pub show_previous_attempt: bool,
    /// Keep only the prose of a reflection. A small model often pastes its failed code into
    /// the "lesson", and then copies that code again on the retry.
    pub reflection_prose_only: bool,
    /// Completion tokens of a reflection (it should be two or three sentences).
    pub reflection_max_tokens: u32,
    /// Completion tokens per call.
    pub max_tokens: u32,
    /// `best_of_n` settings.
    pub best_of_n: BestOfNConfig,
    /// `lats` settings.
    pub lats: LatsConfig,
    /// `mcts` settings.
    pub mcts: MctsConfig,
    /// `voyager` settings.
    pub voyager: VoyagerConfig,
    /// Learning across tasks: insights, coding skills, a library of cross-task memory.
    pub learning: LearningConfig,
    /// Episodes of custom environments.
    pub episode: EpisodeConfig,
    /// A directory of template overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts_dir: Option<std::path::PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            strategy: "reflexion".into(),
            budget: TaskBudget::default(),
            trials: 3,
            cross_task: false,
            internal_tests: InternalTests::Docstring,
            model_tests: 5,
            first_temperature: 0.0,
            retry_temperature: 0.0,
            reflections_kept: 3,
            cross_task_k: 2,
            cross_task_from_trial: 2,
            cross_task_min_score: 0.0,
            show_previous_attempt: false,
            reflection_prose_only: true,
            reflection_max_tokens: 192,
            max_tokens: 768,
            best_of_n: BestOfNConfig::default(),
            lats: LatsConfig::default(),
            mcts: MctsConfig::default(),
            voyager: VoyagerConfig::default(),
            learning: LearningConfig::default(),
            episode: EpisodeConfig::default(),
            prompts_dir: None,
        }
    }
}

/// A setting that cannot work, named.
#[derive(Debug, thiserror::Error)]
#[error("agent.{field} = {value}: {problem}")]
pub struct ConfigError {
    /// The setting, e.g. `budget.calls`.
    pub field: String,
    /// Its value.
    pub value: String,
    /// Why it cannot work.
    pub problem: String,
}

impl AgentConfig {
    /// Checks the settings that would make a run meaningless (a budget of 0, no children),
    /// naming the first one that is wrong. The strategy's name is checked where strategies
    /// are looked up ([`crate::strategy::by_name`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let wrong = |field: &str, value: String, problem: &str| ConfigError {
            field: field.into(),
            value,
            problem: problem.into(),
        };
        if self.budget.calls == 0 {
            return Err(wrong(
                "budget.calls",
                "0".into(),
                "a task needs at least one model call",
            ));
        }
        if self.budget.tokens == Some(0) {
            return Err(wrong(
                "budget.tokens",
                "0".into(),
                "a task needs tokens to spend",
            ));
        }
        if self.trials == 0 {
            return Err(wrong("trials", "0".into(), "at least one trial"));
        }
        if self.best_of_n.n == 0 {
            return Err(wrong("best_of_n.n", "0".into(), "at least one candidate"));
        }
        if self.lats.children == 0 {
            return Err(wrong(
                "lats.children",
                "0".into(),
                "an expansion needs a child",
            ));
        }
        if !(0.0..=1.0).contains(&self.lats.self_eval_weight) {
            let value = self.lats.self_eval_weight.to_string();
            return Err(wrong("lats.self_eval_weight", value, "must lie in 0..=1"));
        }
        if self.mcts.children == 0 {
            return Err(wrong(
                "mcts.children",
                "0".into(),
                "an expansion needs a child",
            ));
        }
        if !(0.0..=1.0).contains(&self.mcts.value_weight) {
            let value = self.mcts.value_weight.to_string();
            return Err(wrong("mcts.value_weight", value, "must lie in 0..=1"));
        }
        if self.voyager.rounds == 0 {
            return Err(wrong("voyager.rounds", "0".into(), "a task needs a round"));
        }
        if self.voyager.library.trim().is_empty() {
            return Err(wrong(
                "voyager.library",
                format!("{:?}", self.voyager.library),
                "a library needs a name",
            ));
        }
        let learning = &self.learning;
        let uses_library = learning.learn || learning.insights || learning.skills;
        if uses_library && learning.library.trim().is_empty() {
            return Err(wrong(
                "learning.library",
                "\"\"".into(),
                "learn, insights and skills need a library's name",
            ));
        }
        if self.episode.max_steps == 0 {
            return Err(wrong(
                "episode.max_steps",
                "0".into(),
                "an episode needs an action",
            ));
        }
        Ok(())
    }
}
