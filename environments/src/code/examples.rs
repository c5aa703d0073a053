//! Internal tests from a prompt's docstring: `>>>` doctest lines and
//! `f(x) == y` / `f(x) ==> y` / `f(x) ➞ y` / `f(x) -> y` example lines.

use serde::{Deserialize, Serialize};

/// One docstring example: an expression and the value it should have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// A Python expression calling the entry point.
    pub expr: String,
    /// The expected value, as Python source (or repr text).
    pub expected: String,
}

const ARROWS: &[&str] = &["==>", "➞", "=>", "->", "=="];

/// Extracts the examples of `entry_point` from `prompt`.
pub fn extract(prompt: &str, entry_point: &str) -> Vec<Example> {
    let lines: Vec<&str> = prompt.lines().collect();
    let call = format!("{entry_point}(");
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(expr) = line.strip_prefix(">>>") {
            let expr = expr.trim();
            let mut expected = Vec::new();
            let mut j = i + 1;
            while j < lines.len() {
                let next = lines[j].trim();
                if next.is_empty()
                    || next.starts_with(">>>")
                    || next.starts_with("\"\"\"")
                    || next.starts_with("'''")
                {
                    break;
                }
                expected.push(next.trim_end_matches("\"\"\"").trim());
                j += 1;
            }
            if expr.contains(&call) && !expected.is_empty() && !expr.ends_with(':') {
                out.push(Example {
                    expr: expr.to_string(),
                    expected: final_value(&expected.join(" ")),
                });
            }
            i = j;
            continue;
        }
        if !line.starts_with("def ") && line.contains(&call) {
            if let Some(ex) = arrow_example(line, &call) {
                out.push(ex);
            }
        }
        i += 1;
    }
    out.dedup();
    out
}

/// `f(1, 2) == 3`, `f(1) ==> 3`, `f(1) ➞ 3`, `f(1) -> 3`, with or without a leading label.
fn arrow_example(line: &str, call: &str) -> Option<Example> {
    let start = line.find(call)?;
    let rest = &line[start..];
    let close = matching_paren(rest, call.len() - 1)?;
    let expr = &rest[..=close];
    let after = rest[close + 1..].trim_start();
    let arrow = ARROWS.iter().find(|a| after.starts_with(**a))?;
    let expected = after[arrow.len()..]
        .trim()
        .trim_end_matches(['.', ','])
        .trim();
    if expected.is_empty() {
        return None;
    }
    Some(Example {
        expr: expr.to_string(),
        expected: final_value(expected),
    })
}

/// `19 - 5 - 6 = 8` → `8`: docstrings sometimes show the working.
fn final_value(expected: &str) -> String {
    match expected.rsplit_once(" = ") {
        Some((_, value)) => value.trim().to_string(),
        None => expected.trim().to_string(),
    }
}

/// Index of the parenthesis closing the one at `open`.
fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctest_and_arrow_forms() {
        let prompt = "def f(a, b):\n    \"\"\" Adds.\n    >>> f(1, 2)\n    3\n    >>> f([1], [2])\n    [1, 2]\n    \"\"\"\n";
        let ex = extract(prompt, "f");
        assert_eq!(ex.len(), 2);
        assert_eq!(
            ex[1],
            Example {
                expr: "f([1], [2])".into(),
                expected: "[1, 2]".into()
            }
        );

        let prompt = "def g(s):\n    \"\"\"\n    For example:\n    g('a(b)') == 'b'\n    g(\"x\") ==> True\n    g(3) ➞ 9.\n    \"\"\"\n";
        let ex = extract(prompt, "g");
        assert_eq!(
            ex.iter().map(|e| e.expected.as_str()).collect::<Vec<_>>(),
            ["'b'", "True", "9"]
        );
        assert_eq!(ex[0].expr, "g('a(b)')");
    }

    #[test]
    fn nothing_to_find() {
        assert!(extract("def h(x):\n    \"\"\"Returns x.\"\"\"\n", "h").is_empty());
    }
}
