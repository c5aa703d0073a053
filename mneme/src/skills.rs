//! `mneme skills list|show|export`: the skill libraries sessions learned (memory records of
//! kind `skill`, tagged `library:NAME`), latest version of each skill.

use crate::config::Config;
use anyhow::Context;
use memory::{Record, Skill};
use std::path::Path;

/// The latest version of every skill of `library`, by name.
async fn latest(config: &Config, library: &str) -> anyhow::Result<Vec<Skill>> {
    let bank = crate::wiring::memory_bank(config, false).await?;
    let latest = bank.library_skills(library).await?;
    Ok(latest
        .into_iter()
        .filter_map(|hit| match hit.record {
            Record::Skill(s) => Some(s),
            _ => None,
        })
        .collect())
}

/// `mneme skills list`.
pub async fn list(config: &Config, library: &str) -> anyhow::Result<()> {
    let skills = latest(config, library).await?;
    if skills.is_empty() {
        println!(
            "library {library:?} has no skills yet (mneme explore crafter --library {library})"
        );
        return Ok(());
    }
    println!(
        "{:<28} {:>3} {:>5} {:>5}  description",
        "name", "ver", "ok", "fail"
    );
    for s in &skills {
        let about: String = s.description.chars().take(80).collect();
        println!(
            "{:<28} {:>3} {:>5} {:>5}  {about}",
            s.name, s.version, s.successes, s.failures
        );
    }
    println!("{} skills in library {library:?}", skills.len());
    Ok(())
}

/// `mneme skills show NAME`.
pub async fn show(config: &Config, library: &str, name: &str) -> anyhow::Result<()> {
    let skills = latest(config, library).await?;
    let skill = skills.iter().find(|s| s.name == name).with_context(|| {
        let names: Vec<&str> = skills.iter().map(|s| s.name.as_str()).collect();
        format!(
            "library {library:?} has no skill {name:?}; it has: {}",
            names.join(", ")
        )
    })?;
    println!(
        "# {} v{} ({} successes, {} failures)\n# {}\n{}",
        skill.name, skill.version, skill.successes, skill.failures, skill.description, skill.code
    );
    Ok(())
}

/// The library as one Python file: each skill's description as a comment, then its code.
pub fn as_python(library: &str, skills: &[Skill]) -> String {
    let mut out = format!(
        "# Skill library {library:?}: {} skills (mneme skills export)\n",
        skills.len()
    );
    for s in skills {
        out.push_str(&format!(
            "\n# {} v{} ({} successes, {} failures): {}\n{}\n",
            s.name, s.version, s.successes, s.failures, s.description, s.code
        ));
    }
    out
}

/// `mneme skills export FILE`.
pub async fn export(config: &Config, library: &str, file: &Path) -> anyhow::Result<()> {
    let skills = latest(config, library).await?;
    tools::fsio::write_atomic(file, as_python(library, &skills).as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    println!("exported {} skills to {}", skills.len(), file.display());
    Ok(())
}
