//! Keyword retrieval beside the vectors: BM25 (Robertson and Zaragoza 2009) over a set of
//! texts, and reciprocal rank fusion (Cormack et al. 2009) of several rankings. Hybrid search
//! finds a record that shares the query's rare words (a function's name, `IndexError`) even
//! when the embedding ranks a record about a neighbouring mistake higher.

use std::collections::HashMap;

/// English words too common to tell texts apart.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "i",
    "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "so", "that", "the",
    "then", "there", "this", "to", "was", "were", "when", "which", "with", "it's", "not", "no",
];

/// The words of `text`: lowercase runs of letters, digits and `_`, stopwords left out, and
/// snake_case names also split into their parts (`is_prime` → `is_prime`, `is`, `prime`).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        if word.contains('_') {
            out.extend(
                word.split('_')
                    .filter(|p| !p.is_empty() && !STOPWORDS.contains(p))
                    .map(str::to_string),
            );
        }
        if !STOPWORDS.contains(&word.as_str()) {
            out.push(word);
        }
    }
    out
}

/// A BM25 index over documents given in order (their positions are their ids).
#[derive(Clone, Debug)]
pub struct Bm25 {
    docs: Vec<HashMap<String, u32>>,
    lengths: Vec<f32>,
    df: HashMap<String, u32>,
    mean_length: f32,
}

impl Bm25 {
    /// Term saturation.
    const K1: f32 = 1.2;
    /// Length normalisation.
    const B: f32 = 0.75;

    /// Indexes `texts`.
    pub fn new<S: AsRef<str>>(texts: &[S]) -> Self {
        let mut docs = Vec::with_capacity(texts.len());
        let mut lengths = Vec::with_capacity(texts.len());
        let mut df: HashMap<String, u32> = HashMap::new();
        for text in texts {
            let words = tokens(text.as_ref());
            lengths.push(words.len() as f32);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for w in words {
                *counts.entry(w).or_default() += 1;
            }
            for w in counts.keys() {
                *df.entry(w.clone()).or_default() += 1;
            }
            docs.push(counts);
        }
        let mean_length = lengths.iter().sum::<f32>() / (lengths.len().max(1) as f32);
        Self {
            docs,
            lengths,
            df,
            mean_length: mean_length.max(1.0),
        }
    }

    /// Every document's score for `query`, by position.
    pub fn scores(&self, query: &str) -> Vec<f32> {
        let n = self.docs.len() as f32;
        let mut query_words = tokens(query);
        query_words.sort();
        query_words.dedup();
        let idf: Vec<(String, f32)> = query_words
            .into_iter()
            .filter_map(|w| {
                let df = *self.df.get(&w)? as f32;
                Some((w, ((n - df + 0.5) / (df + 0.5) + 1.0).ln()))
            })
            .collect();
        self.docs
            .iter()
            .zip(&self.lengths)
            .map(|(doc, &len)| {
                let norm = Self::K1 * (1.0 - Self::B + Self::B * len / self.mean_length);
                idf.iter()
                    .filter_map(|(w, idf)| {
                        let tf = *doc.get(w)? as f32;
                        Some(idf * tf * (Self::K1 + 1.0) / (tf + norm))
                    })
                    .sum()
            })
            .collect()
    }

    /// The positions of the `k` best documents for `query` with a score above 0, best first.
    pub fn top(&self, query: &str, k: usize) -> Vec<usize> {
        let scores = self.scores(query);
        let mut order: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] > 0.0).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        order.truncate(k);
        order
    }
}

/// Reciprocal rank fusion: each item scores Σ 1 / (`k` + rank) over the rankings it is in
/// (rank from 1); the items best first, ties to the one ranked first earlier.
pub fn fuse<T: Clone + PartialEq>(rankings: &[Vec<T>], k: f32) -> Vec<T> {
    let mut scored: Vec<(T, f32, usize)> = Vec::new();
    let mut seen = 0usize;
    for ranking in rankings {
        for (rank, item) in ranking.iter().enumerate() {
            let add = 1.0 / (k + rank as f32 + 1.0);
            match scored.iter_mut().find(|(t, _, _)| t == item) {
                Some(entry) => entry.1 += add,
                None => {
                    scored.push((item.clone(), add, seen));
                    seen += 1;
                }
            }
        }
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    scored.into_iter().map(|(t, _, _)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_shared_words_win_and_names_split_into_their_parts() {
        let docs = [
            "I removed items from a list while iterating over it.",
            "I indexed the first element without checking the length, so an empty list raised IndexError.",
            "def is_prime(n): Return True if n is prime.",
        ];
        let index = Bm25::new(&docs);
        assert_eq!(index.top("IndexError on an empty input", 3), [1]);
        assert_eq!(index.top("check whether a number is prime", 1), [2]);
        assert!(index.top("the the a of", 3).is_empty(), "stopwords only");
        assert_eq!(tokens("is_prime(N)"), ["prime", "is_prime", "n"]);
    }

    #[test]
    fn fusion_rewards_agreement_between_rankings() {
        let fused = fuse(&[vec!["a", "b", "c"], vec!["b", "c", "a"]], 60.0);
        assert_eq!(fused[0], "b");
        assert_eq!(fuse(&[vec![1, 2], vec![]], 60.0), [1, 2]);
    }
}
