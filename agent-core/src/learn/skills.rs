//! A coding skill library: a submitted function that passed its internal tests becomes a skill
//! (name, signature, a description from its docstring, its code); later tasks are shown the
//! most similar skills as helpers they may call, and a helper that the code calls is put into
//! the program the sandbox runs. Helpers' use counts follow the internal tests.

use crate::agent::code::{calls_name, function_docstring, function_signature, top_level_defs};
use memory::{MemoryBank, Record, Skill, Stored};
use serde::{Deserialize, Serialize};

/// How much a helper's rank falls per failure beyond its successes.
const FAILURE_PENALTY: f32 = 0.05;

/// The longest description kept, in characters.
const MAX_DESCRIPTION: usize = 400;

/// A skill shown to the model as a helper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Helper {
    /// Its record id (for use counts).
    pub id: String,
    /// Its function's name.
    pub name: String,
    /// `name(…) -> …`, as the prompt shows it.
    pub signature: String,
    /// What it does.
    pub description: String,
    /// Its code (self-contained: imports and the functions it needs).
    pub code: String,
    /// Similarity to the task.
    pub score: f32,
}

/// The description of a function: its docstring up to the first example (`>>>`, "Example",
/// "For example"), whitespace collapsed, at most 400 characters; `None` without one.
pub fn describe(docstring: &str) -> Option<String> {
    let mut kept = Vec::new();
    for line in docstring.lines() {
        let t = line.trim();
        let lower = t.to_lowercase();
        if t.starts_with(">>>") || lower.starts_with("example") || lower.starts_with("for example")
        {
            break;
        }
        kept.push(t);
    }
    let text = kept
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let text: String = text.chars().take(MAX_DESCRIPTION).collect();
    (!text.is_empty()).then_some(text)
}

/// Why a submission cannot become a skill, or the skill it becomes. The description comes
/// from the task's docstring (else the code's); `name` must be defined by `code`.
pub fn skill_from(
    code: &str,
    name: &str,
    prompt: &str,
    library: &str,
    tags: Vec<String>,
) -> Result<Skill, String> {
    if !top_level_defs(code).iter().any(|d| d == name) {
        return Err(format!("the code does not define {name} at the top level"));
    }
    let signature = function_signature(code, name)
        .ok_or_else(|| format!("no signature of {name} in the code"))?;
    let description = function_docstring(prompt, name)
        .or_else(|| function_docstring(code, name))
        .and_then(|d| describe(&d))
        .ok_or_else(|| format!("{name} has no docstring to describe it"))?;
    Ok(Skill {
        name: name.to_string(),
        description: format!("{signature}: {description}"),
        code: code.trim().to_string(),
        language: "python".into(),
        version: 1,
        successes: 1,
        failures: 0,
        library: library.to_string(),
        tags,
        created_at: memory::record::now(),
    })
}

/// Stores `skill` in its library: the same code under the same name is `unchanged`, new code
/// under a known name its next version. Returns what happened and the version.
pub async fn store(memory: &MemoryBank, mut skill: Skill) -> memory::Result<(String, u32)> {
    let latest = memory
        .library_skills(&skill.library)
        .await?
        .into_iter()
        .find_map(|r| match r.record {
            Record::Skill(s) if s.name == skill.name => Some(s),
            _ => None,
        });
    if let Some(old) = &latest {
        if old.code == skill.code {
            return Ok(("unchanged".into(), old.version));
        }
        skill.version = old.version + 1;
    }
    let version = skill.version;
    let outcome = match memory.remember(Record::Skill(skill)).await? {
        Stored::New(_) if version > 1 => "new_version",
        Stored::New(_) => "new",
        _ => "unchanged",
    };
    Ok((outcome.into(), version))
}

/// The helpers for a task: the `k` skills of `library` most similar to `prompt` with at least
/// `min_score`. A skill named like the task's function (`entry_point`) is left out, with the
/// reason returned beside the helpers.
pub async fn helpers(
    memory: &MemoryBank,
    library: &str,
    prompt: &str,
    entry_point: &str,
    (k, min_score): (usize, f32),
) -> memory::Result<(Vec<Helper>, Vec<String>)> {
    let ranked = memory
        .ranked_skills(prompt, library, k + 1, FAILURE_PENALTY)
        .await?;
    let mut shown = Vec::new();
    let mut left_out = Vec::new();
    for hit in ranked {
        let Record::Skill(skill) = hit.record else {
            continue;
        };
        if hit.score < min_score {
            continue;
        }
        if skill.name == entry_point {
            left_out.push(format!(
                "skill {} left out: its name is the task's function",
                skill.name
            ));
            continue;
        }
        if shown.len() == k {
            break;
        }
        let header = function_signature(&skill.code, &skill.name)
            .unwrap_or_else(|| format!("def {}(…)", skill.name));
        let description = skill
            .description
            .strip_prefix(&format!("{header}: "))
            .unwrap_or(&skill.description)
            .to_string();
        // Shown as a call, not a `def` line: a small model copies a `def …: text` line into its
        // code, where it is a syntax error.
        let signature = header
            .trim_start_matches("async ")
            .trim_start_matches("def ")
            .to_string();
        shown.push(Helper {
            id: hit.id,
            name: skill.name,
            signature,
            description,
            code: skill.code,
            score: hit.score,
        });
    }
    Ok((shown, left_out))
}

/// The program with the helpers `code` calls but does not define put in front of it, each in
/// a scope of its own (its imports and inner functions cannot clash with the code's), and the
/// ids of the helpers put in.
pub fn link(code: &str, helpers: &[Helper]) -> (String, Vec<String>) {
    let cleaned = without_copied_lines(code, helpers);
    let code = cleaned.as_str();
    let defined = top_level_defs(code);
    let mut parts = Vec::new();
    let mut used = Vec::new();
    for h in helpers {
        if defined.contains(&h.name) || !calls_name(code, &h.name) {
            continue;
        }
        parts.push(scoped(h));
        used.push(h.id.clone());
    }
    if parts.is_empty() {
        return (code.to_string(), used);
    }
    parts.push(code.to_string());
    (parts.join("\n\n"), used)
}

/// `code` without the lines that copy a helper's line of the prompt (`name(…): description`,
/// with or without `def`): a syntax error that would also hide the helper.
fn without_copied_lines(code: &str, helpers: &[Helper]) -> String {
    let copied = |line: &str| {
        let t = line.trim().trim_start_matches("- ");
        let t = t.strip_prefix("def ").unwrap_or(t);
        // A real definition's header ends with its colon; a copied line ends with prose.
        !t.ends_with(':')
            && helpers.iter().any(|h| {
                !h.description.is_empty()
                    && t.starts_with(&format!("{}(", h.name))
                    && t.ends_with(h.description.as_str())
            })
    };
    if !code.lines().any(copied) {
        return code.to_string();
    }
    code.lines()
        .filter(|l| !copied(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `helper`'s code inside a function that returns its function, bound to its name.
fn scoped(helper: &Helper) -> String {
    let maker = format!("_mneme_helper_{}", helper.name);
    let body: Vec<String> = helper
        .code
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect();
    format!(
        "def {maker}():\n{}\n    return {name}\n{name} = {maker}()",
        body.join("\n"),
        name = helper.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "def is_prime(n: int) -> bool:\n    \"\"\"Return True if n is prime.\n    >>> is_prime(7)\n    True\n    \"\"\"\n";

    #[test]
    fn a_skill_is_described_by_its_docstring_up_to_the_examples() {
        let code = "import math\n\ndef is_prime(n: int) -> bool:\n    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))";
        let skill = skill_from(code, "is_prime", PROMPT, "lib", vec![]).unwrap();
        assert_eq!(
            skill.description,
            "def is_prime(n: int) -> bool: Return True if n is prime."
        );
        assert!(skill_from("x = 1", "is_prime", PROMPT, "lib", vec![])
            .unwrap_err()
            .contains("does not define is_prime"));
        assert!(
            skill_from("def f():\n    return 1", "f", "def f():\n", "l", vec![])
                .unwrap_err()
                .contains("no docstring")
        );
    }

    #[test]
    fn a_called_helper_is_linked_in_its_own_scope_and_an_uncalled_one_is_not() {
        let helper = |name: &str, code: &str| Helper {
            id: format!("id-{name}"),
            name: name.into(),
            signature: format!("def {name}(n)"),
            description: String::new(),
            code: code.into(),
            score: 0.9,
        };
        let helpers = [
            helper(
                "is_prime",
                "def aux(n):\n    return n > 1\n\ndef is_prime(n):\n    return aux(n)",
            ),
            helper("unused", "def unused():\n    pass"),
        ];
        let code =
            "def aux():\n    return 0\n\ndef count(xs):\n    return sum(is_prime(x) for x in xs)";
        let (linked, used) = link(code, &helpers);
        assert_eq!(used, ["id-is_prime"]);
        assert!(linked.starts_with("def _mneme_helper_is_prime():\n    def aux(n):"));
        assert!(linked.contains("    return is_prime\nis_prime = _mneme_helper_is_prime()"));
        assert!(linked.ends_with(code) && !linked.contains("unused"));
        // A helper's prompt line copied into the code is dropped, and the helper linked.
        let mut described = helpers[0].clone();
        described.description = "Return True if n is prime.".into();
        let copied =
            "def is_prime(n): Return True if n is prime.\n\ndef f(x):\n    return is_prime(x)";
        let (linked, used) = link(copied, &[described]);
        assert_eq!(used, ["id-is_prime"]);
        assert!(
            linked.ends_with("def f(x):\n    return is_prime(x)"),
            "{linked}"
        );
        assert!(!linked.contains("def is_prime(n): Return"), "{linked}");
        let (same, none) = link("def is_prime(n):\n    return True", &helpers);
        assert!(
            none.is_empty() && same == "def is_prime(n):\n    return True",
            "{none:?} {same:?}"
        );
    }
}
