//! Getting code out of a model's reply.

/// The code of the reply: the first ```python (or bare ```) block; `None` when the
/// reply has no code block at all (prose only).
pub fn extract_code(reply: &str) -> Option<String> {
    let mut rest = reply;
    let mut fallback = None;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let (lang, body_start) = match after.find('\n') {
            Some(nl) => (after[..nl].trim().to_lowercase(), nl + 1),
            None => return fallback,
        };
        let body = &after[body_start..];
        // An unterminated block (the reply was cut off) still counts.
        let (code, next) = match body.find("```") {
            Some(end) => (&body[..end], &body[end + 3..]),
            None => (body, ""),
        };
        let code = code.trim_end().to_string();
        if !code.trim().is_empty() {
            if lang == "python" || lang == "py" || lang == "python3" {
                return Some(code);
            }
            if lang.is_empty() && fallback.is_none() {
                fallback = Some(code);
            }
        }
        rest = next;
    }
    fallback
}

/// The prose of a reply: fenced code blocks (also one cut off at the end) removed, blank runs
/// collapsed, and a last sentence that was cut off mid-way dropped when a whole one precedes it.
pub fn prose_only(reply: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut in_code = false;
    for line in reply.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let line = line.trim_end();
        if line.trim().is_empty() && kept.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        kept.push(line);
    }
    let text = kept.join("\n").trim().to_string();
    let ends_sentence = |t: &str| t.ends_with(['.', '!', '?', ')', '`', '"']);
    if ends_sentence(&text) {
        return text;
    }
    match text.rfind(". ").max(text.rfind(".\n")) {
        Some(i) => text[..=i].to_string(),
        None => text,
    }
}

/// Assert lines from a model-written test block.
pub fn extract_asserts(reply: &str, entry_point: &str) -> Vec<String> {
    let text = extract_code(reply).unwrap_or_else(|| reply.to_string());
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("assert ") && l.contains(&format!("{entry_point}(")))
        .map(str::to_string)
        .collect()
}

/// Whether `code` calls `name(…)` (a whole identifier followed by an opening parenthesis),
/// outside its own `def name(` line.
pub fn calls_name(code: &str, name: &str) -> bool {
    code.lines()
        .filter(|l| !l.trim_start().starts_with(&format!("def {name}(")))
        .any(|line| {
            whole_identifier_at(line, name)
                .any(|i| line[i + name.len()..].trim_start().starts_with('('))
        })
}

/// Where `name` stands in `text` as a whole identifier: not part of a longer name, not an
/// attribute after `.`.
fn whole_identifier_at<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).map(|(i, _)| i).filter(move |&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident)
    })
}

/// `code` with the identifier `from` renamed `to` wherever it stands whole (not part of a longer
/// name, not an attribute after `.`): a module's definition of `from` and every use of it.
pub fn rename_identifier(code: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut last = 0;
    for i in whole_identifier_at(code, from) {
        out.push_str(&code[last..i]);
        out.push_str(to);
        last = i + from.len();
    }
    out.push_str(&code[last..]);
    out
}

/// The names of the functions `code` defines at the top level, in order.
pub fn top_level_defs(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| {
            l.strip_prefix("def ")
                .or_else(|| l.strip_prefix("async def "))
        })
        .filter_map(|rest| rest.split('(').next())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .collect()
}

/// The index of the line that starts defining function `name`.
fn def_line(lines: &[&str], name: &str) -> Option<usize> {
    lines.iter().position(|l| {
        let t = l.trim_start();
        t.starts_with(&format!("def {name}(")) || t.starts_with(&format!("async def {name}("))
    })
}

/// The `def name(…)` header of function `name` in `code` (joined when it spans lines), without
/// the final colon; `None` when `code` does not define it.
pub fn function_signature(code: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = code.lines().collect();
    let start = def_line(&lines, name)?;
    let mut header = String::new();
    for line in &lines[start..] {
        header.push_str(line.trim());
        header.push(' ');
        if line.trim_end().ends_with(':') {
            break;
        }
    }
    Some(header.trim().trim_end_matches(':').trim().to_string())
}

/// The docstring of function `name` in `code`, its lines dedented and trimmed; `None` when the
/// function has none (or is not there).
pub fn function_docstring(code: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = code.lines().collect();
    let def = def_line(&lines, name)?;
    let body = lines[def..]
        .iter()
        .position(|l| l.trim_end().ends_with(':'))?
        + def
        + 1;
    let first = lines[body..].iter().position(|l| !l.trim().is_empty())? + body;
    let opening = lines[first].trim();
    let opening = opening.trim_start_matches(['r', 'u', 'R', 'U']);
    let quote = ["\"\"\"", "'''"]
        .into_iter()
        .find(|q| opening.starts_with(q))?;
    let mut text = Vec::new();
    let mut rest = &opening[quote.len()..];
    for line in lines[first + 1..].iter().chain(std::iter::once(&"")) {
        if let Some(end) = rest.find(quote) {
            text.push(rest[..end].trim());
            break;
        }
        text.push(rest.trim());
        rest = line;
    }
    let doc = text.join("\n").trim().to_string();
    (!doc.is_empty()).then_some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identifier_is_renamed_where_it_stands_whole() {
        let code = "def place_stone():\n    x.place_stone()\n    place_stone_now(1)\n    return place_stone ()";
        assert_eq!(
            rename_identifier(code, "place_stone", "place_stone_skill"),
            "def place_stone_skill():\n    x.place_stone()\n    place_stone_now(1)\n    return place_stone_skill ()"
        );
    }

    #[test]
    fn finds_python_blocks() {
        assert_eq!(
            extract_code("Here:\n```python\ndef f():\n    return 1\n```\nDone."),
            Some("def f():\n    return 1".into())
        );
        assert_eq!(
            extract_code("```\ndef g(): pass\n```"),
            Some("def g(): pass".into())
        );
        assert_eq!(
            extract_code("```text\nhi\n```\n```py\nx = 1\n```"),
            Some("x = 1".into())
        );
        assert_eq!(
            extract_code("```python\ndef cut(:\n    ret"),
            Some("def cut(:\n    ret".into())
        );
        assert_eq!(extract_code("I would use a loop over the list."), None);
    }

    #[test]
    fn prose_only_drops_pasted_code_and_a_cut_off_sentence() {
        // What the 0.5B model wrote as a "lesson" on HumanEval/20: the lesson, then its failed
        // code again as "the corrected code".
        let reply = "It did not sort the list first.\n\nTo fix this, sort first. Here's the corrected code:\n\n```python\ndef f(x):\n    return x\n```\n\nThis code first sorts the list.";
        assert_eq!(
            prose_only(reply),
            "It did not sort the list first.\n\nTo fix this, sort first. Here's the corrected code:\n\nThis code first sorts the list."
        );
        assert_eq!(
            prose_only("Off by one at the end. Use range(n + 1) and che"),
            "Off by one at the end."
        );
        assert_eq!(
            prose_only("Check the empty list.\n```python\ndef f(:"),
            "Check the empty list."
        );
        assert_eq!(
            prose_only("It loops once too often.\n\nFirst, sort. Next, use a set and che"),
            "It loops once too often.\n\nFirst, sort."
        );
        assert_eq!(
            prose_only("First, sort. It loops once too often.\n\nNext, use a set and che"),
            "First, sort. It loops once too often."
        );
        assert_eq!(prose_only("```python\nx = 1\n```"), "");
        assert_eq!(
            prose_only("no sentence end at all"),
            "no sentence end at all"
        );
    }

    #[test]
    fn finds_asserts() {
        let reply =
            "```python\nassert f(1) == 2\nprint(3)\nassert g(1) == 1\n  assert f(0) == 1\n```";
        assert_eq!(
            extract_asserts(reply, "f"),
            vec!["assert f(1) == 2", "assert f(0) == 1"]
        );
    }

    #[test]
    fn signatures_and_docstrings_are_read_from_code() {
        let code = "from typing import List\n\ndef has_close(numbers: List[float],\n              t: float) -> bool:\n    \"\"\" Check if two numbers\n    are closer than t.\n    >>> has_close([1.0], 0.5)\n    False\n    \"\"\"\n    return False\n\ndef one():\n    '''One line.'''\n    return 1\n\ndef none():\n    return 0\n";
        assert_eq!(
            function_signature(code, "has_close").unwrap(),
            "def has_close(numbers: List[float], t: float) -> bool"
        );
        assert_eq!(
            function_docstring(code, "has_close").unwrap(),
            "Check if two numbers\nare closer than t.\n>>> has_close([1.0], 0.5)\nFalse"
        );
        assert_eq!(function_docstring(code, "one").unwrap(), "One line.");
        assert_eq!(function_docstring(code, "none"), None);
        assert_eq!(function_docstring(code, "missing"), None);
        assert_eq!(top_level_defs(code), ["has_close", "one", "none"]);
        assert!(calls_name("x = one() + 1", "one") && !calls_name("x = none_one()", "one"));
    }
}
