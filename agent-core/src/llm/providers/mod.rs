//! Providers, one module each, all speaking HTTP through [`reqwest`].

pub mod anthropic;
mod http;
pub mod openai;

pub use anthropic::Anthropic;
pub use openai::{OpenAiCompatible, OpenAiEmbeddings};
