//! `voyager`: lifelong learning with a skill library (Wang et al. 2023), in any environment that
//! runs programs (an action of kind `program`; see docs/environments.md). One task is a
//! *session*: many iterations in one world, across episodes.
//!
//! ```text
//! per iteration:
//!   curriculum  the model proposes the next task from the state, the achievements, the tasks
//!               done and failed (the environment's warm-up order when the reply is unusable)
//!               (an urgent need the environment reports comes first: a vital running low;
//!               a task it reports locked gives way to the one it needs first)
//!   retrieve    the top-k skills by the embedding of the task and its context, and the
//!               library's reflections on earlier failures of the same task
//!   up to `rounds` times:
//!     write     a program (a Python function over the environment's API and the skills); in
//!               round 1 the library's skill for the very task, when it has one that works
//!               more often than not, runs instead, without a model call
//!     run       in the environment (its sandboxed child process), feedback: events, errors,
//!               printed output, the new state; a need that appears midway interrupts it and
//!               ends the task's rounds (the need is next; nothing is learned from the run)
//!     judge     the need's own check, programmatic where the task names an achievement,
//!               else the critic
//!   learn       a success stores the program as a skill (versioned, use-counted); a failure
//!               stores a reflection
//!   checkpoint  the environment's snapshot and the session, so a killed session resumes here
//! a death (or the episode's length) starts the next episode in a new world; the library stays
//! ```
//!
//! The session submits its account (episodes and their achievements, skills learned) as its
//! candidate; the achievements are the environment's own report.

mod critic;
mod curriculum;
mod library;
mod program;
pub mod session;

use super::best_of_n::sample_seed;
use super::Strategy;
use crate::agent::{AgentError, Ask, Event, Work};
use crate::llm::Message;
use async_trait::async_trait;
use critic::Verdict;
use environments::{Action, EnvError, Observation};
use library::Found;
use program::Program;
use serde_json::json;
use session::{IterationRecord, Session, Status};

pub use critic::parse_critique;
pub use curriculum::parse_task;

/// Lifelong learning with a skill library.
pub struct Voyager;

#[async_trait]
impl Strategy for Voyager {
    fn name(&self) -> &'static str {
        "voyager"
    }

    async fn solve(&self, work: &mut Work<'_>) -> Result<(), AgentError> {
        super::refuse_code(
            work,
            "voyager",
            "it explores an environment that runs programs (e.g. crafter)",
        )?;
        let mut session = Session::start(work).await?;
        while goes_on(work, &mut session) {
            iterate(work, &mut session).await?;
        }
        let account = session.account();
        let unique = session.unique.len() as f64;
        let offered = work.offer(account.to_string(), unique, false);
        work.choose(Some(offered));
        Ok(())
    }
}

/// Whether another iteration starts: iterations, episodes and calls are left.
fn goes_on(work: &Work<'_>, session: &mut Session) -> bool {
    let config = &work.config().voyager;
    if session.iteration >= config.iterations {
        return false;
    }
    if config
        .max_episodes
        .is_some_and(|m| session.episodes_ended() >= m)
    {
        session.stopped = Some("episodes".into());
        return false;
    }
    if !work.can_call(2) {
        session.stopped = Some("budget".into());
        return false;
    }
    true
}

/// What one round did.
struct Round {
    program: Option<Program>,
    feedback: String,
    verdict: Verdict,
    /// What the environment reported after it.
    status: Status,
    /// The episode ended (by a death or its length).
    ended: bool,
}

/// One iteration: a task, its rounds, what was learned, a checkpoint.
async fn iterate(work: &mut Work<'_>, session: &mut Session) -> Result<(), AgentError> {
    let before = session.observation.clone();
    let working = library::working(work).await?;
    let skilled = library::working_tasks(&working);
    let proposal = curriculum::propose(work, session, &skilled).await?;
    let query = format!("{}\n{}", proposal.goal, context_of(&before));
    let mut found = library::retrieve(work, &query).await?;
    let lessons = library::lessons(work, &proposal.goal).await?;
    let replay = library::for_task(&working, &proposal.goal);
    let replayed = replay
        .as_ref()
        .map(|f| format!("{} v{}", f.skill.name, f.skill.version));
    let rounds = work.config().voyager.rounds;
    let mut last: Option<Round> = None;
    let mut new_achievements = Vec::new();
    let mut episode_over = None;
    let mut used = 0;
    let mut tried: Vec<String> = Vec::new();
    for round in 1..=rounds {
        if !work.can_call(1) {
            break;
        }
        used = round;
        let shown = Shown {
            goal: &proposal.goal,
            check: proposal.check.as_ref(),
            how: proposal.how.as_deref(),
            replay: replay.as_ref().filter(|_| round == 1),
            found: &found,
            lessons: &lessons,
            last: last.as_ref(),
            tried: &tried,
        };
        let played = play_round(work, session, &shown, round).await?;
        tried.extend(played.program.as_ref().map(|p| p.code.clone()));
        new_achievements.extend(played.status.new_achievements.iter().cloned());
        if played.status.died {
            episode_over = Some("died");
        } else if played.ended {
            episode_over = Some("over");
        }
        let success = played.verdict.success;
        let stop = success || episode_over.is_some() || played.status.interrupted.is_some();
        if round == 1 && !stop {
            count_failed_replay(work, replay.as_ref(), played.program.as_ref()).await?;
        }
        last = Some(played);
        if stop {
            break;
        }
    }
    let success = last.as_ref().is_some_and(|r| r.verdict.success);
    // A replayed skill that the last round ran again counts a use like a retrieved one.
    found.extend(replay.filter(|r| !found.iter().any(|f| f.id == r.id)));
    learn(
        work,
        session,
        &proposal.goal,
        &found,
        last.as_ref(),
        success,
    )
    .await?;
    session.iteration += 1;
    if let Some(current) = session.episodes.last_mut() {
        current.iterations += 1;
    }
    let reason = last
        .as_ref()
        .map_or("no round was played (budget)".into(), |r| {
            r.verdict.reason.clone()
        });
    let feedback = last
        .as_ref()
        .filter(|r| r.program.is_some())
        .map(|r| r.feedback.clone())
        .unwrap_or_default();
    session.history.push(IterationRecord {
        iteration: session.iteration,
        episode: session.episode(),
        goal: proposal.goal.clone(),
        success,
        reason: reason.clone(),
    });
    let event = Event::Iteration {
        task_id: work.task().id.clone(),
        iteration: session.iteration,
        episode: session.episode(),
        goal: proposal.goal,
        proposed_by: proposal.by,
        success,
        rounds: used,
        replayed,
        reason,
        feedback,
        new_achievements,
        achievements: session.unique.iter().cloned().collect(),
        skills: session.skills.len() as u32,
        tokens: work.state().usage.total_tokens(),
    };
    if let Some(how) = episode_over {
        session.next_episode(work, how).await?;
    }
    // Logged once the checkpoint holds it: an iteration in the log is never played again.
    session.checkpoint(work).await?;
    work.events().emit(event);
    Ok(())
}

/// Whether `error` is a prompt too long for the model's context window: the round (or the
/// curriculum's or critic's question) fails, the session goes on.
pub(crate) fn too_long(error: &AgentError) -> bool {
    matches!(error, AgentError::Model(e) if e.class() == crate::llm::ErrorClass::ContextLength)
}

/// Asks one greedy question of a session (curriculum, critic, reflection); `Err(why)` inside
/// `Ok` when the prompt did not fit the model's context (the caller falls back, the session
/// goes on).
pub(crate) async fn ask_greedy(
    work: &mut Work<'_>,
    purpose: &str,
    label: u32,
    prompt: String,
    max_tokens: u32,
) -> Result<Result<String, String>, AgentError> {
    let asked = work
        .ask(Ask {
            purpose,
            label,
            messages: vec![Message::user(prompt)],
            temperature: 0.0,
            max_tokens,
            seed: None,
        })
        .await;
    match asked {
        Err(e) if too_long(&e) => Ok(Err(e.to_string())),
        other => other.map(Ok),
    }
}

/// What the program prompt shows.
struct Shown<'s> {
    goal: &'s str,
    /// The environment's check, when the task is an urgent need.
    check: Option<&'s session::Check>,
    /// How the need is done, when the environment says.
    how: Option<&'s str>,
    /// The library's skill for this very task, run instead of asking the model.
    replay: Option<&'s Found>,
    found: &'s [Found],
    lessons: &'s [String],
    last: Option<&'s Round>,
    /// The code of the programs already run for this task in this iteration.
    tried: &'s [String],
}

/// One round: write a program (or take the library's skill for the task), run it, judge it.
async fn play_round(
    work: &mut Work<'_>,
    session: &mut Session,
    shown: &Shown<'_>,
    round: u32,
) -> Result<Round, AgentError> {
    let before = session.observation.clone();
    let program = match shown.replay {
        Some(found) => Ok(Program::of_skill(&found.skill)),
        None => new_program(work, session, shown, round).await?,
    };
    let program = match program {
        Ok(p) => p,
        Err(why) => {
            let verdict = Verdict {
                success: false,
                reason: format!("nothing ran: {why}"),
            };
            return Ok(Round {
                program: None,
                feedback: verdict.reason.clone(),
                verdict,
                status: Status::of(&before),
                ended: false,
            });
        }
    };
    let (status, ended) = run_program(work, session, &program, shown.goal, &before).await?;
    let verdict = critic::judge(work, session, shown.goal, shown.check, &before, &status).await?;
    let text = &session.observation.text;
    let feedback = match &status.error {
        Some(error) if !text.contains(error.as_str()) => format!("{text}\nError: {error}"),
        _ => text.clone(),
    };
    Ok(Round {
        program: Some(program),
        feedback,
        verdict,
        status,
        ended,
    })
}

/// The model's program for this round; `Err(why)` inside `Ok` when there is none to run. A
/// program already run for this task in this iteration is asked for once more, without the
/// previous code in the prompt: shown its failed code, the 1.5B model wrote it again to the
/// letter in 25 of 41 later rounds of a Crafter session (v3), however the feedback read.
async fn new_program(
    work: &mut Work<'_>,
    session: &Session,
    shown: &Shown<'_>,
    round: u32,
) -> Result<Result<Program, String>, AgentError> {
    let mut fresh = false;
    loop {
        let program = match write_program(work, session, shown, round, fresh).await {
            Err(e) if too_long(&e) => {
                return Ok(Err(format!(
                    "the prompt did not fit the model's context ({e})"
                )))
            }
            other => Program::from_reply(&other?, shown.found),
        };
        let repeated = matches!(&program, Ok(p) if shown.tried.contains(&p.code));
        if !repeated || fresh || !work.can_call(1) {
            return Ok(program);
        }
        fresh = true;
    }
}

/// Asks for a program: the API, the skills found, the task, the state, the lessons, and the
/// previous round's code, feedback and critique (`fresh`: without the code, saying the same
/// program was written again).
async fn write_program(
    work: &mut Work<'_>,
    session: &Session,
    shown: &Shown<'_>,
    round: u32,
    fresh: bool,
) -> Result<String, AgentError> {
    let config = work.config().voyager.clone();
    let skills: Vec<_> = shown
        .found
        .iter()
        .map(|f| json!({"name": f.skill.name, "description": f.skill.description, "code": f.skill.code}))
        .collect();
    let previous = shown.last.map(|r| {
        json!({
            "code": r.program.as_ref().filter(|_| !fresh).map(|p| p.code.clone()),
            "feedback": r.feedback,
            "critique": r.verdict.reason,
            "repeated": fresh,
        })
    });
    let context = json!({
        "api": session.world.api,
        "skills": skills,
        "goal": shown.goal,
        "how": shown.how.or_else(|| session.world.context_for(shown.goal)),
        "state": session::state_of(&session.observation),
        "lessons": shown.lessons,
        "previous": previous,
    });
    let prompt = work.prompts().render("voyager_program", &context)?;
    let label = session.iteration + 1;
    let (temperature, seed) = if round == 1 {
        (0.0, None)
    } else {
        let key = format!("{}#{label}", work.task().id);
        (config.retry_temperature, Some(sample_seed(&key, round)))
    };
    work.ask(Ask {
        purpose: "program",
        label,
        messages: vec![Message::user(prompt)],
        temperature,
        max_tokens: config.program_max_tokens,
        seed,
    })
    .await
}

/// Runs `program`, written for `goal` (sent with it), in the environment. The environment's own
/// failures (it died or hung mid-program) become the program's error, and the world returns to
/// the last checkpoint. Returns the status after it and whether the episode ended.
async fn run_program(
    work: &mut Work<'_>,
    session: &mut Session,
    program: &Program,
    goal: &str,
    before: &Observation,
) -> Result<(Status, bool), AgentError> {
    let action = Action {
        kind: "program".into(),
        content: program.source(),
        goal: Some(goal.to_string()),
    };
    match work.env().step(&action).await {
        Ok(step) => {
            let status = session.observe(step.observation);
            Ok((status, step.done))
        }
        Err(e @ EnvError::Reported { .. }) => Ok((
            Status {
                error: Some(e.to_string()),
                ..Status::of(before)
            },
            false,
        )),
        Err(e) if e.is_task_fault() => {
            session.roll_back(work, before).await?;
            let error = format!(
                "the environment failed while running the program ({e}); the world went back to \
                 the last checkpoint"
            );
            Ok((
                Status {
                    error: Some(error),
                    ..Status::of(before)
                },
                false,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A replayed skill that failed in round 1, before the model writes round 2: one failed use
/// (the last round's uses are counted by `learn`), unless the library is frozen.
async fn count_failed_replay(
    work: &mut Work<'_>,
    replay: Option<&Found>,
    program: Option<&Program>,
) -> Result<(), AgentError> {
    match (replay, program) {
        (Some(skill), Some(program)) if work.config().voyager.learn => {
            library::count_uses(work, std::slice::from_ref(skill), program, false).await
        }
        _ => Ok(()),
    }
}

/// After an iteration, unless the library is frozen (`learn` off): a success stores its program
/// as a skill, a failure a reflection; the skills the last program called count a use either
/// way. A run a need interrupted teaches nothing: it stopped through no fault of its own. The
/// library functions it calls assume learning is on.
async fn learn(
    work: &mut Work<'_>,
    session: &mut Session,
    goal: &str,
    found: &[Found],
    last: Option<&Round>,
    success: bool,
) -> Result<(), AgentError> {
    let Some(round) = last else {
        return Ok(());
    };
    if !work.config().voyager.learn || (!success && round.status.interrupted.is_some()) {
        return Ok(());
    }
    if let Some(program) = &round.program {
        library::count_uses(work, found, program, success).await?;
        if success {
            let (world, iteration) = (&session.world, session.iteration + 1);
            let achievement = world.achievement_of(goal);
            let stored = library::store(
                work,
                iteration,
                goal,
                achievement,
                program,
                &world.api_names,
            )
            .await?;
            if let Some(skill) = stored.filter(|s| !session.skills.contains(s)) {
                session.skills.push(skill);
            }
            return Ok(());
        }
    }
    if success || !work.can_call(1) {
        return Ok(());
    }
    let prompt = work.prompts().render(
        "voyager_reflect",
        json!({
            "goal": goal,
            "code": round.program.as_ref().map(|p| p.code.clone()),
            "feedback": round.feedback,
            "critique": round.verdict.reason,
        }),
    )?;
    let max_tokens = work.config().reflection_max_tokens;
    let label = session.iteration + 1;
    let Ok(reply) = ask_greedy(work, "reflect", label, prompt, max_tokens).await? else {
        return Ok(());
    };
    let text = crate::agent::code::prose_only(&reply);
    work.events().emit(Event::Reflection {
        task_id: work.task().id.clone(),
        trial: session.iteration + 1,
        text: text.clone(),
    });
    library::remember_lesson(work, session.iteration + 1, goal, &text).await
}

/// The context a task's skills are searched with: what the agent holds.
fn context_of(observation: &Observation) -> String {
    match observation
        .data
        .get("inventory")
        .and_then(|i| i.as_object())
    {
        Some(items) => {
            let held: Vec<&str> = items.keys().map(String::as_str).collect();
            format!("holding: {}", held.join(", "))
        }
        None => String::new(),
    }
}
