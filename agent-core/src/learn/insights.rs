//! ExpeL's rule list (Zhao et al. 2023): operations the model writes on a numbered list of
//! insights, how they are read, and how they change the votes kept in memory — ADD starts a
//! rule at 2 votes, AGREE and EDIT add 1, REMOVE takes 1, a rule at 0 votes is dropped, and
//! the list holds at most `max_rules`. An operation that cannot be applied is discarded with
//! its reason; nothing already stored is lost by a bad reply.

use memory::{MemoryBank, Record, Stored};
use serde::{Deserialize, Serialize};

/// Votes a new rule starts with.
pub const ADD_VOTES: i32 = 2;

/// One operation on the numbered rule list (numbers are 1-based, as shown to the model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "UPPERCASE")]
pub enum Operation {
    /// A new rule.
    Add {
        /// The rule.
        text: String,
    },
    /// Rule `n` rewritten (and agreed with).
    Edit {
        /// The rule's number.
        n: usize,
        /// Its new text.
        text: String,
    },
    /// Rule `n` confirmed.
    Agree {
        /// The rule's number.
        n: usize,
    },
    /// Rule `n` contradicted.
    Remove {
        /// The rule's number.
        n: usize,
    },
}

/// An operation line that was not applied, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discarded {
    /// The line as the model wrote it.
    pub line: String,
    /// Why it was discarded.
    pub reason: String,
}

/// The longest rule kept, in characters.
pub const MAX_RULE_CHARS: usize = 300;

const KEYWORDS: [&str; 4] = ["ADD", "EDIT", "AGREE", "REMOVE"];

/// The operations in a reply, at most `max_ops` of them; lines that start like an operation
/// but cannot be one (no number, no text, a placeholder, a rule too long or with code in it),
/// operations beyond `max_ops`, and a second operation on one rule are discarded with a reason
/// (both, when they contradict each other). Other lines (prose) are ignored.
pub fn parse_operations(reply: &str, max_ops: usize) -> (Vec<Operation>, Vec<Discarded>) {
    let mut ops = Vec::new();
    let mut discarded = Vec::new();
    for line in reply.lines() {
        let Some(parsed) = parse_line(line) else {
            continue;
        };
        let discard = |reason: String| Discarded {
            line: line.trim().to_string(),
            reason,
        };
        match parsed {
            Ok(_) if ops.len() >= max_ops => discarded.push(discard(format!(
                "more than {max_ops} operations in one reply"
            ))),
            Ok(op) => ops.push(op),
            Err(reason) => discarded.push(discard(reason)),
        }
    }
    let ops = one_per_rule(ops, &mut discarded);
    (ops, discarded)
}

/// `None` for a line that is not an operation; else the operation or why it is malformed.
fn parse_line(line: &str) -> Option<Result<Operation, String>> {
    // Bullets, numbering and emphasis a model puts in front: "- ", "1. ", "**".
    let line = line
        .trim()
        .trim_start_matches(|c: char| c == '-' || c == '*' || c == '#' || c.is_whitespace());
    let line = strip_numbering(line).trim_start_matches('*');
    let keyword = KEYWORDS.iter().find(|k| {
        line.get(..k.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(k))
    })?;
    let rest = &line[keyword.len()..];
    if rest.starts_with(|c: char| c.is_alphanumeric()) {
        return None; // "Additionally, …", "Agreed …": prose.
    }
    let rest = rest.trim_start_matches('*').trim();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let number = digits.parse::<usize>().ok();
    let text = rest[digits.len()..]
        .trim_start()
        .trim_start_matches([':', '.', '-', ')'])
        .trim()
        .trim_matches('*')
        .trim();
    Some(operation(keyword, number, text))
}

/// Whether `text` is the instructions' placeholder (`<a new rule>`, "Add a new rule") rather
/// than a rule: small models copy the format line.
fn is_placeholder(text: &str) -> bool {
    let lower = text.to_lowercase();
    let t = lower.trim();
    t.starts_with('<')
        || t.ends_with('>')
        || [
            "new rule",
            "existing rule",
            "improved rule",
            "modified rule",
            "rule number",
        ]
        .iter()
        .any(|p| t.contains(p))
}

/// Keeps one operation per rule: a second operation on a rule already operated on in the same
/// reply is discarded, and when they disagree (AGREE and REMOVE, EDIT and REMOVE) the first is
/// taken back too.
fn one_per_rule(ops: Vec<Operation>, discarded: &mut Vec<Discarded>) -> Vec<Operation> {
    let number = |op: &Operation| match op {
        Operation::Add { .. } => None,
        Operation::Edit { n, .. } | Operation::Agree { n } | Operation::Remove { n } => Some(*n),
    };
    let removes = |op: &Operation| matches!(op, Operation::Remove { .. });
    let mut kept: Vec<Operation> = Vec::new();
    let mut contradicted = Vec::new();
    for op in ops {
        let Some(n) = number(&op) else {
            kept.push(op);
            continue;
        };
        match kept.iter().find(|k| number(k) == Some(n)) {
            None => kept.push(op),
            Some(first) => {
                let reason = if removes(first) != removes(&op) {
                    contradicted.push(n);
                    format!("contradicts the reply's other operation on rule {n}")
                } else {
                    format!("a second operation on rule {n} in one reply")
                };
                discarded.push(Discarded {
                    line: format!("{op:?}"),
                    reason,
                });
            }
        }
    }
    kept.retain(|op| {
        let drop = number(op).is_some_and(|n| contradicted.contains(&n));
        if drop {
            discarded.push(Discarded {
                line: format!("{op:?}"),
                reason: "contradicted by the reply's other operation on the same rule".into(),
            });
        }
        !drop
    });
    kept
}

fn strip_numbering(line: &str) -> &str {
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && line[digits..].starts_with(['.', ')']) {
        line[digits + 1..].trim_start()
    } else {
        line
    }
}

fn operation(keyword: &str, number: Option<usize>, text: &str) -> Result<Operation, String> {
    let needs_number = || match number {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(format!("{keyword} needs the number of an existing rule")),
    };
    let needs_text = || {
        if text.is_empty() {
            Err(format!("{keyword} needs the rule's text"))
        } else if text.contains("```") || text.contains("def ") {
            Err("a rule is a sentence, not code".to_string())
        } else if is_placeholder(text) {
            Err("a placeholder copied from the instructions, not a rule".to_string())
        } else if text.chars().count() > MAX_RULE_CHARS {
            Err(format!("a rule of more than {MAX_RULE_CHARS} characters"))
        } else {
            Ok(text.to_string())
        }
    };
    match keyword {
        // ExpeL's format numbers a new rule too ("ADD 3: …"); the number means nothing.
        "ADD" => Ok(Operation::Add {
            text: needs_text()?,
        }),
        "EDIT" => Ok(Operation::Edit {
            n: needs_number()?,
            text: needs_text()?,
        }),
        "AGREE" => Ok(Operation::Agree { n: needs_number()? }),
        _ => Ok(Operation::Remove { n: needs_number()? }),
    }
}

/// Splits off the ADDs and EDITs that are about one of the compared tasks rather than general:
/// a rule that names one of `names` (the tasks' functions), or one that restates a task's
/// description (see [`restates`]). They are discarded with the reason.
pub fn general_only(
    ops: Vec<Operation>,
    names: &[String],
    prompts: &[&str],
) -> (Vec<Operation>, Vec<Discarded>) {
    let mut kept = Vec::new();
    let mut discarded = Vec::new();
    for op in ops {
        let text = match &op {
            Operation::Add { text } | Operation::Edit { text, .. } => text.as_str(),
            _ => "",
        };
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        let reason = match names.iter().find(|n| words.contains(&n.as_str())) {
            Some(name) => Some(format!("the rule names the task's function {name}: not general")),
            None => prompts.iter().find_map(|p| restates(text, p)).map(|share| {
                format!(
                    "{:.0}% of the rule's words come from one task's description: it restates the task",
                    100.0 * share
                )
            }),
        };
        match reason {
            Some(reason) => discarded.push(Discarded {
                line: format!("{op:?}"),
                reason,
            }),
            None => kept.push(op),
        }
    }
    (kept, discarded)
}

/// The share of a rule's content words (four letters or more, not English function words) found
/// in `prompt`, when it is at least [`RESTATES_TASK`] and the rule has three or more of them.
/// The 0.5B model's "rules" were often the task itself ("Check if the length of the string is a
/// prime number."); a general rule ("check for an empty list before indexing it") shares a word
/// or two with a task, not most of its words.
pub fn restates(rule: &str, prompt: &str) -> Option<f64> {
    let rule_words = content_words(rule);
    if rule_words.len() < 3 {
        return None;
    }
    let prompt_words = content_words(prompt);
    let shared = rule_words.intersection(&prompt_words).count();
    let share = shared as f64 / rule_words.len() as f64;
    (share >= RESTATES_TASK).then_some(share)
}

/// See [`restates`].
const RESTATES_TASK: f64 = 0.75;

/// English function words of four letters or more, left out of [`content_words`].
const FUNCTION_WORDS: [&str; 16] = [
    "that", "this", "with", "from", "then", "than", "when", "what", "which", "will", "have",
    "into", "each", "their", "there", "should",
];

fn content_words(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .filter(|w| !FUNCTION_WORDS.contains(&w.as_str()))
        .collect()
}

/// A rule of the list as shown to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Its record id in memory.
    pub id: String,
    /// Its text.
    pub text: String,
    /// Its votes.
    pub votes: i32,
}

/// The rules of `library`, most votes first (the numbering shown to the model).
pub async fn rules(memory: &MemoryBank, library: &str) -> memory::Result<Vec<Rule>> {
    let insights = memory.top_insights(library, usize::MAX).await?;
    Ok(insights
        .into_iter()
        .filter_map(|r| match r.record {
            Record::Insight(i) => Some(Rule {
                id: r.id,
                text: i.text,
                votes: i.votes,
            }),
            _ => None,
        })
        .collect())
}

/// What applying one reply's operations did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Operations applied, each with what it did.
    pub applied: Vec<(Operation, String)>,
    /// Operations (and lines) discarded, with the reason.
    pub discarded: Vec<Discarded>,
}

/// Applies `ops` (numbered against `shown`, the list the model saw) to `library` in memory,
/// in order. A number outside the list, a rule already removed by an earlier operation of the
/// same reply, or an ADD to a full list is discarded with its reason.
pub async fn apply(
    memory: &MemoryBank,
    library: &str,
    shown: &[Rule],
    ops: Vec<Operation>,
    max_rules: usize,
) -> memory::Result<Applied> {
    let mut ids: Vec<Option<String>> = shown.iter().map(|r| Some(r.id.clone())).collect();
    let mut count = rules(memory, library).await?.len();
    let mut out = Applied::default();
    for op in ops {
        let discard = |reason: String| Discarded {
            line: format!("{op:?}"),
            reason,
        };
        let target = match &op {
            Operation::Add { .. } => None,
            Operation::Edit { n, .. } | Operation::Agree { n } | Operation::Remove { n } => {
                match ids.get(n - 1) {
                    Some(Some(id)) => Some((*n, id.clone())),
                    Some(None) => {
                        out.discarded
                            .push(discard(format!("rule {n} was removed by this reply")));
                        continue;
                    }
                    None => {
                        let reason = format!("there is no rule {n} (the list has {})", ids.len());
                        out.discarded.push(discard(reason));
                        continue;
                    }
                }
            }
        };
        let did = match (&op, target) {
            (Operation::Add { text }, _) => {
                if count >= max_rules {
                    out.discarded.push(discard(format!(
                        "the list holds {max_rules} rules: ADD refused (EDIT, AGREE or REMOVE instead)"
                    )));
                    continue;
                }
                match memory.add_insight(library, text, ADD_VOTES).await? {
                    Stored::New(_) => {
                        count += 1;
                        "added".to_string()
                    }
                    Stored::Unchanged(_) => "already a rule: unchanged".to_string(),
                    Stored::Merged { .. } => "a near-duplicate rule got a vote".to_string(),
                }
            }
            (Operation::Edit { text, .. }, Some((n, id))) => {
                let new_id = memory.edit_insight(&id, text).await?;
                let votes = memory.vote_insight(&new_id, 1).await?;
                ids[n - 1] = Some(new_id);
                format!("rule {n} rewritten, {votes} votes")
            }
            (Operation::Agree { .. }, Some((n, id))) => {
                let votes = memory.vote_insight(&id, 1).await?;
                format!("rule {n}: {votes} votes")
            }
            (Operation::Remove { .. }, Some((n, id))) => {
                let votes = memory.vote_insight(&id, -1).await?;
                if votes == 0 {
                    ids[n - 1] = None;
                    count -= 1;
                    format!("rule {n} dropped at 0 votes")
                } else {
                    format!("rule {n}: {votes} votes")
                }
            }
            _ => unreachable!("every numbered operation has its target"),
        };
        out.applied.push((op, did));
    }
    Ok(out)
}

/// The rules to show in a prompt: the most voted of `library`, in that order, as many as fit
/// `token_budget` (estimated at 4 characters a token).
pub async fn for_prompt(
    memory: &MemoryBank,
    library: &str,
    token_budget: u32,
) -> memory::Result<Vec<String>> {
    let mut left = token_budget as usize * 4;
    let mut shown = Vec::new();
    for rule in rules(memory, library).await? {
        let cost = rule.text.len() + 3; // "- " and a newline
        if cost > left {
            break;
        }
        left -= cost;
        shown.push(rule.text);
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_in_expel_format_and_looser_ones_are_read() {
        let reply = "Here are my operations:\n\
            ADD: Check empty inputs before indexing.\n\
            1. EDIT 2: Use integer division for counts.\n\
            - AGREE 1: Some text\n\
            **REMOVE 3**\n\
            ADD 4: Return a list, not a generator.\n\
            Additionally, I think the rules are fine.";
        let (ops, discarded) = parse_operations(reply, 10);
        assert_eq!(
            ops,
            [
                Operation::Add {
                    text: "Check empty inputs before indexing.".into()
                },
                Operation::Edit {
                    n: 2,
                    text: "Use integer division for counts.".into()
                },
                Operation::Agree { n: 1 },
                Operation::Remove { n: 3 },
                Operation::Add {
                    text: "Return a list, not a generator.".into()
                },
            ]
        );
        assert!(discarded.is_empty(), "{discarded:?}");
    }

    #[test]
    fn placeholders_and_contradictions_are_discarded() {
        let reply = "AGREE 1: x\nREMOVE 1: x\nEDIT 2: <add a new rule>\nADD: Add a new rule\nAGREE 3\nAGREE 3\nADD: Sort before pairing.";
        let (ops, discarded) = parse_operations(reply, 10);
        assert_eq!(
            ops,
            [
                Operation::Agree { n: 3 },
                Operation::Add {
                    text: "Sort before pairing.".into()
                }
            ]
        );
        let reasons: Vec<&str> = discarded.iter().map(|d| d.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "a placeholder copied from the instructions, not a rule",
                "a placeholder copied from the instructions, not a rule",
                "contradicts the reply's other operation on rule 1",
                "a second operation on rule 3 in one reply",
                "contradicted by the reply's other operation on the same rule",
            ]
        );
    }

    #[test]
    fn a_rule_naming_the_tasks_function_is_not_general() {
        let ops = vec![
            Operation::Add {
                text: "The function `find_closest` should check for an empty list.".into(),
            },
            Operation::Edit {
                n: 1,
                text: "Call pair_up(sorted(xs)) as pair_up does.".into(),
            },
            Operation::Agree { n: 2 },
        ];
        let (kept, discarded) = general_only(ops, &["find_closest".into(), "pair_up".into()], &[]);
        assert_eq!(kept, [Operation::Agree { n: 2 }]);
        assert_eq!(discarded.len(), 2);
        assert!(
            discarded[0].reason.contains("find_closest"),
            "{discarded:?}"
        );
    }

    #[test]
    fn a_rule_that_restates_a_task_is_not_general() {
        // Rules the 0.5B model wrote from HumanEval/82's trajectories, and a general one.
        let prompt = "def prime_length(string):\n    \"\"\"Write a function that takes a string and returns True if the string\n    length is a prime number or False otherwise\"\"\"";
        let add = |text: &str| Operation::Add { text: text.into() };
        let ops = vec![
            add("Add a function that takes a string and returns True if the string length is a prime number or False otherwise."),
            add("Check if the length of the string is a prime number."),
            add("Check that a list is not empty before reading its first element."),
        ];
        let (kept, discarded) = general_only(ops, &[], &[prompt]);
        assert_eq!(
            kept,
            [add(
                "Check that a list is not empty before reading its first element."
            )]
        );
        assert_eq!(discarded.len(), 2);
        assert!(
            discarded[1].reason.contains("restates the task"),
            "{discarded:?}"
        );
        assert_eq!(
            restates("Use a set.", prompt),
            None,
            "too few words to judge"
        );
    }

    #[test]
    fn malformed_operations_are_discarded_with_a_reason() {
        let long = "x".repeat(MAX_RULE_CHARS + 1);
        let reply = format!(
            "AGREE: no number\nEDIT 2:\nREMOVE 0\nADD: ```python\nADD: {long}\nADD: fine\nADD: one too many"
        );
        let (ops, discarded) = parse_operations(&reply, 1);
        assert_eq!(
            ops,
            [Operation::Add {
                text: "fine".into()
            }]
        );
        let reasons: Vec<&str> = discarded.iter().map(|d| d.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "AGREE needs the number of an existing rule",
                "EDIT needs the rule's text",
                "REMOVE needs the number of an existing rule",
                "a rule is a sentence, not code",
                "a rule of more than 300 characters",
                "more than 1 operations in one reply",
            ]
        );
    }
}
