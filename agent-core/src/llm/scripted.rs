//! A model that plays back a script, for testing control flow without a server.

use crate::llm::{ChatModel, ChatRequest, ChatResponse, Choice, FinishReason, LlmError, Usage};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// One scripted turn: an answer text, or an error to return.
pub enum ScriptedTurn {
    /// Answer with this text (every requested choice gets it).
    Answer(String),
    /// Fail with this error.
    Fail(LlmError),
}

/// Answers requests from a queue of [`ScriptedTurn`]s and records the requests it saw.
pub struct ScriptedModel {
    name: String,
    turns: Mutex<VecDeque<ScriptedTurn>>,
    seen: Mutex<Vec<ChatRequest>>,
    usage_per_call: Usage,
}

impl ScriptedModel {
    /// A model that will give `turns` in order, each call reporting `usage_per_call`.
    pub fn new(name: impl Into<String>, turns: Vec<ScriptedTurn>, usage_per_call: Usage) -> Self {
        Self {
            name: name.into(),
            turns: Mutex::new(turns.into()),
            seen: Mutex::default(),
            usage_per_call,
        }
    }

    /// A model that answers each call with the next of `answers`.
    pub fn answering(answers: &[&str]) -> Self {
        Self::new(
            "scripted",
            answers
                .iter()
                .map(|a| ScriptedTurn::Answer(a.to_string()))
                .collect(),
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
            },
        )
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many calls were made.
    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request.clone());
        let turn = self
            .turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        match turn {
            Some(ScriptedTurn::Answer(text)) => Ok(ChatResponse::live(
                (0..request.n.max(1))
                    .map(|_| Choice {
                        text: text.clone(),
                        finish_reason: FinishReason::Stop,
                    })
                    .collect(),
                self.usage_per_call,
                self.name.clone(),
                Duration::from_millis(1),
            )),
            Some(ScriptedTurn::Fail(e)) => Err(e),
            None => Err(LlmError::Config(
                "scripted model: script is exhausted".into(),
            )),
        }
    }

    fn model(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> &str {
        "scripted"
    }
}
