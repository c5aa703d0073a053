//! Plain data carried by a chat call: requests, responses, usage.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the whole conversation.
    System,
    /// The user's (or the agent framework's) turn.
    User,
    /// The model's earlier turns.
    Assistant,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Author of the message.
    pub role: Role,
    /// Text of the message.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A chat-completion request. The model is chosen by the provider it is sent to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Sampling temperature; `Some(0.0)` asks for greedy, reproducible output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus-sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Upper bound on generated tokens per choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Generation stops before any of these strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Sampling seed, where the provider supports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Number of independent samples wanted (tree search expands several children at once).
    #[serde(default = "one")]
    pub n: u32,
}

fn one() -> u32 {
    1
}

impl ChatRequest {
    /// A request with default sampling settings and one choice.
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            temperature: None,
            top_p: None,
            max_tokens: None,
            stop: Vec::new(),
            seed: None,
            n: 1,
        }
    }
    /// Sets the temperature.
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }
    /// Sets top-p.
    pub fn top_p(mut self, p: f32) -> Self {
        self.top_p = Some(p);
        self
    }
    /// Sets the per-choice token limit.
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }
    /// Adds a stop sequence.
    pub fn stop(mut self, s: impl Into<String>) -> Self {
        self.stop.push(s.into());
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Sets the number of choices.
    pub fn n(mut self, n: u32) -> Self {
        self.n = n.max(1);
        self
    }
    /// True when the answer is meant to be reproducible: greedy decoding, or sampling with a
    /// fixed seed (a strategy's samples, which a rerun or a resume must get again).
    pub fn is_deterministic(&self) -> bool {
        self.temperature == Some(0.0) || self.seed.is_some()
    }
    /// A rough token estimate of the prompt (4 characters a token), used for tokens-per-minute limits.
    pub fn estimated_prompt_tokens(&self) -> u32 {
        let chars: usize = self.messages.iter().map(|m| m.content.len() + 4).sum();
        (chars / 4) as u32 + 1
    }
}

/// Why generation of a choice ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its answer or hit a stop sequence.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The provider filtered the content.
    ContentFilter,
    /// Anything else the provider reported.
    Other(String),
}

impl FinishReason {
    /// Maps a provider's finish/stop reason string.
    pub fn from_provider(s: Option<&str>) -> Self {
        match s {
            Some("stop") | Some("end_turn") | Some("stop_sequence") | None => FinishReason::Stop,
            Some("length") | Some("max_tokens") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            Some(other) => FinishReason::Other(other.to_string()),
        }
    }
}

/// One sampled answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The generated text.
    pub text: String,
    /// Why generation ended.
    pub finish_reason: FinishReason,
}

/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated, over all choices.
    pub completion_tokens: u64,
}

impl Usage {
    /// Prompt plus completion tokens.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, rhs: Self) {
        self.prompt_tokens += rhs.prompt_tokens;
        self.completion_tokens += rhs.completion_tokens;
    }
}

/// The answer to a [`ChatRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// One entry per requested sample, in order.
    pub choices: Vec<Choice>,
    /// Token counts as reported by the provider.
    pub usage: Usage,
    /// The model name the provider reports.
    pub model: String,
    /// Wall time of the call (all attempts, waiting included).
    #[serde(with = "duration_ms")]
    pub latency: Duration,
    /// Cost in US dollars, filled in by the accounting layer (0 for local models and cache hits).
    #[serde(default)]
    pub cost_usd: f64,
    /// True when the answer came from the response cache.
    #[serde(default)]
    pub cached: bool,
}

impl ChatResponse {
    /// A response fresh from a provider: not cached, not yet priced.
    pub fn live(choices: Vec<Choice>, usage: Usage, model: String, latency: Duration) -> Self {
        Self {
            choices,
            usage,
            model,
            latency,
            cost_usd: 0.0,
            cached: false,
        }
    }

    /// The text of the first choice (empty if there is none).
    pub fn text(&self) -> &str {
        self.choices.first().map(|c| c.text.as_str()).unwrap_or("")
    }
}

/// Serializes a [`Duration`] as whole milliseconds.
mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
