//! Prompt templates: readable files, overridable by the user.
//!
//! The defaults live in `agent-core/prompts/*.j2` and are compiled in. A user
//! directory (`agent.prompts_dir`) may hold files of the same names; each one
//! found replaces its default. Templates use minijinja (Jinja2 syntax).

use minijinja::Environment;
use serde::Serialize;
use std::path::Path;

/// The templates an agent uses, by name.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "actor_system",
        include_str!("../../prompts/actor_system.j2"),
    ),
    ("actor_user", include_str!("../../prompts/actor_user.j2")),
    ("reask", include_str!("../../prompts/reask.j2")),
    (
        "reflect_system",
        include_str!("../../prompts/reflect_system.j2"),
    ),
    (
        "reflect_user",
        include_str!("../../prompts/reflect_user.j2"),
    ),
    ("tests_user", include_str!("../../prompts/tests_user.j2")),
    (
        "episode_system",
        include_str!("../../prompts/episode_system.j2"),
    ),
    (
        "episode_user",
        include_str!("../../prompts/episode_user.j2"),
    ),
    (
        "episode_reflect",
        include_str!("../../prompts/episode_reflect.j2"),
    ),
    (
        "self_evaluate",
        include_str!("../../prompts/self_evaluate.j2"),
    ),
    ("state_value", include_str!("../../prompts/state_value.j2")),
    (
        "voyager_curriculum",
        include_str!("../../prompts/voyager_curriculum.j2"),
    ),
    (
        "voyager_program",
        include_str!("../../prompts/voyager_program.j2"),
    ),
    (
        "voyager_critic",
        include_str!("../../prompts/voyager_critic.j2"),
    ),
    (
        "voyager_reflect",
        include_str!("../../prompts/voyager_reflect.j2"),
    ),
    (
        "insights_system",
        include_str!("../../prompts/insights_system.j2"),
    ),
    (
        "insights_user",
        include_str!("../../prompts/insights_user.j2"),
    ),
];

/// A template could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
#[error("prompt template {name}: {message}")]
pub struct PromptError {
    /// The template.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

/// Loaded templates.
pub struct Prompts {
    env: Environment<'static>,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompts").finish_non_exhaustive()
    }
}

impl Prompts {
    /// The built-in templates.
    pub fn builtin() -> Self {
        Self::load(None).expect("built-in templates are valid")
    }

    /// The built-in templates, each replaced by `dir/NAME.j2` where that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Self, PromptError> {
        let mut env = Environment::new();
        for (name, builtin) in TEMPLATES {
            let source = match dir.map(|d| d.join(format!("{name}.j2"))) {
                Some(path) if path.exists() => {
                    std::fs::read_to_string(&path).map_err(|e| PromptError {
                        name: path.display().to_string(),
                        message: e.to_string(),
                    })?
                }
                _ => builtin.to_string(),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| PromptError {
                    name: name.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(Self { env })
    }

    /// Renders template `name` with `context`.
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, PromptError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&context)))
            .map_err(|e| PromptError {
                name: name.to_string(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_templates_render_and_overrides_win() {
        let p = Prompts::builtin();
        let first = p
            .render(
                "actor_user",
                json!({"prompt": "def f():\n", "reflections": []}),
            )
            .unwrap();
        assert!(
            first.contains("def f():") && !first.contains("Lessons"),
            "{first}"
        );
        let later = p
            .render(
                "actor_user",
                json!({"prompt": "def f():\n", "reflections": ["check empty input"], "previous_code": "x", "feedback": "0/1"}),
            )
            .unwrap();
        assert!(
            later.contains("- check empty input") && later.contains("Its test results:\n0/1"),
            "{later}"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("reask.j2"), "custom {{ entry_point }}").unwrap();
        let custom = Prompts::load(Some(dir.path())).unwrap();
        assert_eq!(
            custom.render("reask", json!({"entry_point": "g"})).unwrap(),
            "custom g"
        );
        std::fs::write(dir.path().join("reask.j2"), "{% if %}").unwrap();
        assert!(Prompts::load(Some(dir.path()))
            .unwrap_err()
            .to_string()
            .contains("reask"));
    }
}
