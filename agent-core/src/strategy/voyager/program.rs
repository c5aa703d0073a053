//! A program as the model wrote it, the skills it calls, and the source sent to the
//! environment (which runs it in a sandboxed child process, never here).

use super::library::Found;
use crate::agent::code::{
    calls_name, extract_code, function_docstring, rename_identifier, top_level_defs,
};

/// A model-written program with the retrieved skills it calls.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// The code the model wrote.
    pub code: String,
    /// Its main function: the last one it defines at the top level.
    pub main: Option<String>,
    /// The code of retrieved skills it calls (each self-contained), in retrieval order.
    pub skills: Vec<String>,
}

impl Program {
    /// The program in a reply (its first Python block, or the whole reply when it starts with
    /// a definition), with the retrieved skills it calls; an error saying what is missing.
    pub fn from_reply(reply: &str, retrieved: &[Found]) -> Result<Self, String> {
        let code = extract_code(reply)
            .or_else(|| {
                let t = reply.trim();
                (t.starts_with("def ") || t.starts_with("import ")).then(|| t.to_string())
            })
            .ok_or("the reply has no ```python code block")?;
        let defs = top_level_defs(&code);
        let skills = retrieved
            .iter()
            .filter(|f| !defs.contains(&f.skill.name) && calls_name(&code, &f.skill.name))
            .map(|f| f.skill.code.clone())
            .collect();
        Ok(Self {
            main: defs.last().cloned(),
            code,
            skills,
        })
    }

    /// A stored skill run as it is (its code defines everything it calls; the source calls its
    /// function).
    pub fn of_skill(skill: &memory::Skill) -> Self {
        Self {
            code: skill.code.clone(),
            main: Some(skill.name.clone()),
            skills: Vec::new(),
        }
    }

    /// The program with its main function renamed `to` (its definition and every use in its
    /// own code): a main named like an API function would hide that function from any program
    /// that calls the skill.
    pub fn with_main_named(&self, to: &str) -> Self {
        let Some(main) = &self.main else {
            return self.clone();
        };
        Self {
            code: rename_identifier(&self.code, main, to),
            main: Some(to.to_string()),
            skills: self.skills.clone(),
        }
    }

    /// Whether the program (its own code) calls `name`.
    pub fn calls(&self, name: &str) -> bool {
        calls_name(&self.code, name)
    }

    /// Whether the code calls its main function itself at the top level.
    fn calls_main_itself(&self) -> bool {
        let Some(main) = &self.main else {
            return false;
        };
        self.code
            .lines()
            .filter(|l| !l.starts_with([' ', '\t']) && !l.starts_with("def "))
            .any(|l| calls_name(l, main))
    }

    /// The source the environment runs: the skills it calls, the code, and a call of the main
    /// function unless the code makes it.
    pub fn source(&self) -> String {
        let mut parts = self.skills.clone();
        parts.push(self.code.clone());
        if let Some(main) = self.main.as_ref().filter(|_| !self.calls_main_itself()) {
            parts.push(format!("{main}()"));
        }
        parts.join("\n\n") + "\n"
    }

    /// The code kept as a skill: the skills it calls and its own definitions, without
    /// top-level statements (a call of main, prints), so it runs when called.
    pub fn skill_code(&self) -> String {
        let mut kept = Vec::new();
        let mut in_def = false;
        for line in self.code.lines() {
            let top = !line.starts_with([' ', '\t']) && !line.trim().is_empty();
            if top {
                in_def = line.starts_with("def ")
                    || line.starts_with("async def ")
                    || line.starts_with('@');
                let import = line.starts_with("import ") || line.starts_with("from ");
                if !in_def && !import {
                    continue;
                }
            } else if !in_def && !line.trim().is_empty() {
                continue;
            }
            kept.push(line);
        }
        let mut parts = self.skills.clone();
        parts.push(kept.join("\n").trim().to_string());
        parts.join("\n\n")
    }

    /// The main function's docstring (its first line), the model's description of the skill.
    pub fn docstring(&self) -> Option<String> {
        let doc = function_docstring(&self.code, self.main.as_ref()?)?;
        doc.lines().next().map(|l| l.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memory::Skill;

    fn found(name: &str, code: &str) -> Found {
        Found {
            id: name.into(),
            skill: Skill {
                name: name.into(),
                description: String::new(),
                code: code.into(),
                language: "python".into(),
                version: 1,
                successes: 0,
                failures: 0,
                library: "l".into(),
                tags: vec![],
                created_at: 0,
            },
        }
    }

    #[test]
    fn a_program_takes_the_skills_it_calls_and_calls_its_main() {
        let reply = "Here:\n```python\ndef make_table():\n    \"\"\"Collects wood and places a table.\"\"\"\n    get_wood(2)\n    place('table')\n```";
        let skills = [
            found("get_wood", "def get_wood(n):\n    collect('wood', n)"),
            found("unused", "def unused():\n    pass"),
            found("wood", "def wood():\n    pass"),
        ];
        let p = Program::from_reply(reply, &skills).unwrap();
        assert_eq!(p.main.as_deref(), Some("make_table"));
        assert_eq!(p.skills, vec!["def get_wood(n):\n    collect('wood', n)"]);
        assert!(p.source().ends_with("make_table()\n"), "{}", p.source());
        assert!(p.source().starts_with("def get_wood"));
        assert_eq!(
            p.docstring().as_deref(),
            Some("Collects wood and places a table.")
        );
        assert!(p.calls("place") && !p.calls("wood") && !p.calls("unused"));
    }

    #[test]
    fn top_level_statements_run_once_and_stay_out_of_the_skill() {
        let code = "```python\nimport math\ndef go():\n    explore(10)\n\ngo()\nprint('done')\n```";
        let p = Program::from_reply(code, &[]).unwrap();
        let calls = p.source().lines().filter(|l| *l == "go()").count();
        assert_eq!(calls, 1, "{}", p.source());
        assert_eq!(p.skill_code(), "import math\ndef go():\n    explore(10)");
        assert!(Program::from_reply("I would collect wood.", &[])
            .unwrap_err()
            .contains("no ```python"));
    }
}
