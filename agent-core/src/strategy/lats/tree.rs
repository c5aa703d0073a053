//! The search tree of LATS (Language Agent Tree Search): Monte Carlo tree
//! search over code attempts.
//!
//! Each node is one code attempt with its internal-test results. Nodes are
//! only ever added, never removed, so ids stay stable: an id is a plain
//! `usize`, and the root is id 0. The tree picks the next node to expand by
//! UCT ([`Tree::select`]), backs values up ([`Tree::backpropagate`]), picks
//! the answer ([`Tree::first_passing`], [`Tree::best`]), and saves, loads and
//! draws itself (JSON, Graphviz DOT, SVG, terminal text).

use petgraph::dot::{Config, Dot};
use petgraph::graph::{DiGraph, EdgeReference, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The `format` field of a saved tree file.
pub const TREE_FORMAT: &str = "mneme-lats-tree";

/// The version of the tree file format written and read here.
pub const TREE_VERSION: u64 = 1;

/// One attempt in the tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The candidate program; `None` when the reply had no code.
    pub code: Option<String>,
    /// Internal-test feedback text shown to the model.
    pub feedback: String,
    /// Internal pass fraction in `[0, 1]`.
    pub reward: f64,
    /// Internal tests run (0 = no signal).
    pub tests: usize,
    /// All internal tests passed and `tests >= 1`.
    pub passed: bool,
    /// Optional LLM self-evaluation in `[0, 1]`.
    pub self_eval: Option<f64>,
    /// The self-evaluation reply did not parse (a neutral value was used).
    pub self_eval_unparsed: bool,
    /// The value backed up: reward mixed with `self_eval` by the caller.
    pub value: f64,
    /// Reflection written when this node was expanded.
    pub reflection: Option<String>,
    /// Same normalised code as this earlier node: charged, not run, never
    /// expanded.
    pub duplicate_of: Option<usize>,
    /// Index into the task's list of candidates (the caller's bookkeeping).
    pub candidate: Option<usize>,
    /// Model calls spent on the task when this node was made.
    pub calls_at: u32,
    /// Distance from the root (root 0); set by the tree.
    pub depth: u32,
    /// Times a value was backed up through this node; managed by the tree.
    pub visits: u32,
    /// Sum of the values backed up through this node; managed by the tree.
    pub value_sum: f64,
    /// The node has been expanded (children asked for).
    pub expanded: bool,
    /// A state of an environment reached by actions (`mcts`): `code` holds the action that led
    /// here (empty at the root), `feedback` the observation, `reward` the total reward so far.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub state: bool,
    /// The episode ended here: nothing to expand.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminal: bool,
}

impl Node {
    /// A fresh attempt. `passed` is set when `tests >= 1` and every test
    /// passed (`reward >= 1.0`); `value` starts as `reward`; the optional
    /// fields are empty and the counters zero.
    pub fn attempt(
        code: Option<String>,
        feedback: impl Into<String>,
        reward: f64,
        tests: usize,
        calls_at: u32,
    ) -> Node {
        Node {
            code,
            feedback: feedback.into(),
            reward,
            tests,
            passed: tests >= 1 && reward >= 1.0,
            self_eval: None,
            self_eval_unparsed: false,
            value: reward,
            reflection: None,
            duplicate_of: None,
            candidate: None,
            calls_at,
            depth: 0,
            visits: 0,
            value_sum: 0.0,
            expanded: false,
            state: false,
            terminal: false,
        }
    }

    /// A state of an environment reached by `action` (empty for the start), showing
    /// `observation`, with `total_reward` gathered on the way. A terminal state counts as one
    /// test, passed when `success`; other states carry no signal.
    pub fn state(
        action: impl Into<String>,
        observation: impl Into<String>,
        total_reward: f64,
        ended: Option<bool>,
        calls_at: u32,
    ) -> Node {
        let tests = usize::from(ended.is_some());
        let mut node = Node::attempt(
            Some(action.into()),
            observation,
            total_reward,
            tests,
            calls_at,
        );
        node.passed = ended == Some(true);
        node.state = true;
        node.terminal = ended.is_some();
        node
    }

    /// Internal tests passed, recovered as `round(reward * tests)`.
    pub fn tests_passed(&self) -> usize {
        (self.reward * self.tests as f64).round() as usize
    }

    /// The attempt carries a real signal: it has code and ran at least one
    /// test.
    pub fn has_signal(&self) -> bool {
        self.code.is_some() && self.tests > 0
    }
}

/// Weights of the UCT score used by [`Tree::select`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UctParams {
    /// Weight of the exploration term (default 1.0).
    pub exploration: f64,
    /// Subtracted once per level of depth (default 0.0).
    pub depth_penalty: f64,
    /// Subtracted from duplicates (default 0.5).
    pub duplicate_penalty: f64,
}

impl Default for UctParams {
    fn default() -> Self {
        UctParams {
            exploration: 1.0,
            depth_penalty: 0.0,
            duplicate_penalty: 0.5,
        }
    }
}

/// What can go wrong building or loading a tree.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum TreeError {
    /// An id that names no node of the tree.
    #[error("no node #{id} in the tree (it has {len} nodes)")]
    UnknownNode {
        /// The id asked for.
        id: usize,
        /// Nodes in the tree.
        len: usize,
    },
    /// A new node says it duplicates a node that does not come before it.
    #[error("node #{id} would be a duplicate of #{of}, which is not an earlier node")]
    DuplicateNotEarlier {
        /// The id the new node would get.
        id: usize,
        /// The id it names as its original.
        of: usize,
    },
    /// The file ends before the JSON does.
    #[error("{what} is not a complete tree file (cut short?): {message}")]
    CutShort {
        /// The file (or other source) read.
        what: String,
        /// The JSON parser's message.
        message: String,
    },
    /// The file is not JSON of the tree file's shape.
    #[error("{what} is not a valid tree file: {message}")]
    Malformed {
        /// The file (or other source) read.
        what: String,
        /// The JSON parser's message.
        message: String,
    },
    /// The `format` field names some other kind of file.
    #[error(
        "{what} is not a LATS tree file: its format is {found:?}, expected \"mneme-lats-tree\""
    )]
    WrongFormat {
        /// The file (or other source) read.
        what: String,
        /// The format it names.
        found: String,
    },
    /// The file is a tree file of a version this code does not read.
    #[error("{what} is tree file version {found}; only version 1 can be read")]
    WrongVersion {
        /// The file (or other source) read.
        what: String,
        /// The version it names.
        found: u64,
    },
    /// The file parses but breaks a rule of the tree.
    #[error("{what} is not a consistent tree: {problem}")]
    Inconsistent {
        /// The file (or other source) read.
        what: String,
        /// The rule broken, naming the node.
        problem: String,
    },
}

/// The LATS search tree: attempts as nodes, parent → child edges.
#[derive(Clone, Debug)]
pub struct Tree {
    graph: DiGraph<Node, ()>,
}

impl PartialEq for Tree {
    /// Equal when the node lists and the parents are equal.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .ids()
                .all(|id| self.node(id) == other.node(id) && self.parent(id) == other.parent(id))
    }
}

/// Gives a node its place in the tree: depth set, counters cleared.
fn placed(mut node: Node, depth: u32) -> Node {
    node.depth = depth;
    node.visits = 0;
    node.value_sum = 0.0;
    node
}

impl Tree {
    /// The id of the root.
    pub const ROOT: usize = 0;

    /// A tree holding only `root` (depth 0, no visits); the caller backs up
    /// its value.
    pub fn new(root: Node) -> Tree {
        let mut graph = DiGraph::new();
        graph.add_node(placed(root, 0));
        Tree { graph }
    }

    /// Adds `node` under `parent` with depth one more than the parent's and
    /// no visits; returns its id. Fails for an unknown parent, or when
    /// `node.duplicate_of` does not name an existing node.
    pub fn add_child(&mut self, parent: usize, node: Node) -> Result<usize, TreeError> {
        let parent_depth = self
            .get(parent)
            .map(|p| p.depth)
            .ok_or(TreeError::UnknownNode {
                id: parent,
                len: self.len(),
            })?;
        let id = self.len();
        if let Some(of) = node.duplicate_of.filter(|&of| of >= id) {
            return Err(TreeError::DuplicateNotEarlier { id, of });
        }
        let child = self.graph.add_node(placed(node, parent_depth + 1));
        self.graph.add_edge(NodeIndex::new(parent), child, ());
        Ok(child.index())
    }

    /// Nodes in the tree (at least 1).
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Always false: a tree holds at least its root.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All ids, `0..len`.
    pub fn ids(&self) -> std::ops::Range<usize> {
        0..self.len()
    }

    /// The node with this id, if any.
    pub fn get(&self, id: usize) -> Option<&Node> {
        self.graph.node_weight(NodeIndex::new(id))
    }

    /// The node with this id.
    ///
    /// # Panics
    /// If `id` is not in the tree.
    pub fn node(&self, id: usize) -> &Node {
        &self.graph[self.index(id)]
    }

    /// The node with this id, to change. Keep `depth` as the tree set it.
    ///
    /// # Panics
    /// If `id` is not in the tree.
    pub fn node_mut(&mut self, id: usize) -> &mut Node {
        let index = self.index(id);
        &mut self.graph[index]
    }

    /// The id's graph index, checked.
    fn index(&self, id: usize) -> NodeIndex {
        assert!(
            id < self.len(),
            "no node #{id} in a tree of {} nodes",
            self.len()
        );
        NodeIndex::new(id)
    }

    /// The parent's id; `None` for the root.
    ///
    /// # Panics
    /// If `node` is not in the tree.
    pub fn parent(&self, node: usize) -> Option<usize> {
        let mut parents = self
            .graph
            .neighbors_directed(self.index(node), Direction::Incoming);
        parents.next().map(NodeIndex::index)
    }

    /// The children's ids, lowest first.
    ///
    /// # Panics
    /// If `node` is not in the tree.
    pub fn children(&self, node: usize) -> Vec<usize> {
        let outgoing = self
            .graph
            .neighbors_directed(self.index(node), Direction::Outgoing);
        let mut children: Vec<usize> = outgoing.map(NodeIndex::index).collect();
        children.sort_unstable();
        children
    }

    /// The ids from the root down to `node`, both included.
    ///
    /// # Panics
    /// If `node` is not in the tree.
    pub fn path_to(&self, node: usize) -> Vec<usize> {
        let mut path = vec![node];
        while let Some(parent) = self.parent(path[path.len() - 1]) {
            path.push(parent);
        }
        path.reverse();
        path
    }

    /// Adds one visit and `value` to `node` and to every ancestor.
    ///
    /// # Panics
    /// If `node` is not in the tree.
    pub fn backpropagate(&mut self, node: usize, value: f64) {
        for id in self.path_to(node) {
            let on_path = self.node_mut(id);
            on_path.visits += 1;
            on_path.value_sum += value;
        }
    }

    /// `value_sum / visits`; 0 for an unvisited node.
    ///
    /// # Panics
    /// If `node` is not in the tree.
    pub fn mean_value(&self, node: usize) -> f64 {
        let node = self.node(node);
        if node.visits == 0 {
            return 0.0;
        }
        node.value_sum / f64::from(node.visits)
    }

    /// The UCT score: mean value + exploration · √(ln N(parent) / N(child))
    /// − depth_penalty · depth − duplicate_penalty (for duplicates).
    /// Unvisited: `f64::INFINITY`. The root counts its own visits as N(parent).
    ///
    /// # Panics
    /// If `child` is not in the tree.
    pub fn uct(&self, child: usize, params: &UctParams) -> f64 {
        let node = self.node(child);
        if node.visits == 0 {
            return f64::INFINITY;
        }
        let parent_visits = self
            .parent(child)
            .map_or(node.visits, |p| self.node(p).visits);
        let ratio = f64::from(parent_visits.max(1)).ln() / f64::from(node.visits);
        let duplicate = if node.duplicate_of.is_some() {
            params.duplicate_penalty
        } else {
            0.0
        };
        self.mean_value(child) + params.exploration * ratio.sqrt()
            - params.depth_penalty * f64::from(node.depth)
            - duplicate
    }

    /// Not yet expanded, not a duplicate, has code (or an action), and is not the end of an
    /// episode.
    ///
    /// # Panics
    /// If `node` is not in the tree.
    pub fn expandable(&self, node: usize) -> bool {
        let node = self.node(node);
        !node.expanded && !node.terminal && node.duplicate_of.is_none() && node.code.is_some()
    }

    /// `node` or one of its descendants is expandable.
    fn subtree_has_expandable(&self, node: usize) -> bool {
        let mut stack = vec![node];
        while let Some(id) = stack.pop() {
            if self.expandable(id) {
                return true;
            }
            stack.extend(self.children(id));
        }
        false
    }

    /// The node to expand next. From the root: an expandable node is the
    /// answer; otherwise step to the child with the highest UCT among those
    /// whose subtree still holds an expandable node (ties to the lowest id).
    /// `None` when nothing is left to expand. The root is expandable until
    /// expanded.
    pub fn select(&self, params: &UctParams) -> Option<usize> {
        let mut current = Self::ROOT;
        while !self.expandable(current) {
            current = self.best_open_child(current, params)?;
        }
        Some(current)
    }

    /// The highest-UCT child that still leads to an expandable node.
    fn best_open_child(&self, node: usize, params: &UctParams) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for child in self.children(node) {
            if !self.subtree_has_expandable(child) {
                continue;
            }
            let score = self.uct(child, params);
            if best.is_none_or(|(_, top)| score > top) {
                best = Some((child, score));
            }
        }
        best.map(|(id, _)| id)
    }

    /// Marks `node` expanded and stores the reflection written for it.
    ///
    /// # Panics
    /// If `node` is not in the tree.
    pub fn mark_expanded(&mut self, node: usize, reflection: Option<String>) {
        let node = self.node_mut(node);
        node.expanded = true;
        node.reflection = reflection;
    }

    /// The non-empty reflections stored on the nodes `ids` (in that order), the last `kept`
    /// of them.
    pub fn last_reflections(
        &self,
        ids: impl IntoIterator<Item = usize>,
        kept: usize,
    ) -> Vec<String> {
        let all: Vec<String> = ids
            .into_iter()
            .filter_map(|id| self.node(id).reflection.clone())
            .filter(|r| !r.is_empty())
            .collect();
        all[all.len().saturating_sub(kept)..].to_vec()
    }

    /// The lowest id whose attempt passed every internal test.
    pub fn first_passing(&self) -> Option<usize> {
        self.ids().find(|&id| self.node(id).passed)
    }

    /// Among nodes with code that are not duplicates, the highest reward;
    /// ties go to the shallowest, then to the lowest id. So the answer never
    /// ranks below the root attempt on internal tests.
    pub fn best(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for id in self.ids() {
            let node = self.node(id);
            if node.code.is_none() || node.duplicate_of.is_some() {
                continue;
            }
            if best.is_none_or(|top| ranks_above(node, self.node(top))) {
                best = Some(id);
            }
        }
        best
    }

    /// The lowest id whose code normalises ([`normalise_code`]) to the same
    /// text as `code`.
    pub fn find_duplicate(&self, code: &str) -> Option<usize> {
        let wanted = normalise_code(code);
        self.ids().find(|&id| {
            let code = self.node(id).code.as_deref();
            code.is_some_and(|code| normalise_code(code) == wanted)
        })
    }
}

/// `candidate` beats `incumbent` for [`Tree::best`]: higher reward, or equal
/// reward and shallower.
fn ranks_above(candidate: &Node, incumbent: &Node) -> bool {
    match candidate.reward.total_cmp(&incumbent.reward) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => candidate.depth < incumbent.depth,
        std::cmp::Ordering::Less => false,
    }
}

/// Code reduced to what matters for spotting duplicates: `#` comments
/// (whole-line or trailing, outside quotes on the line) dropped, trailing
/// whitespace trimmed, blank lines dropped; indentation kept. Quotes are
/// tracked per line only, so a `#` inside a multi-line string may be cut.
pub fn normalise_code(code: &str) -> String {
    let lines: Vec<&str> = code
        .lines()
        .map(|line| strip_comment(line).trim_end())
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("\n")
}

/// The line up to its first `#` that is outside `'…'` and `"…"` quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, ch) in line.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if ch == '\\' => escaped = true,
            Some(open) if ch == open => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == '#' => return &line[..at],
            None => {}
        }
    }
    line
}

// ---------------------------------------------------------------- JSON file

/// A saved tree, as written.
#[derive(Serialize)]
struct FileOut<'a> {
    format: &'a str,
    version: u64,
    nodes: Vec<RecordOut<'a>>,
}

/// One saved node, as written.
#[derive(Serialize)]
struct RecordOut<'a> {
    id: usize,
    parent: Option<usize>,
    #[serde(flatten)]
    node: &'a Node,
}

/// The fields read first, to name a wrong file before its shape.
#[derive(Deserialize)]
struct FileHeader {
    format: String,
    version: u64,
}

/// A saved tree's nodes, as read.
#[derive(Deserialize)]
struct FileIn {
    nodes: Vec<RecordIn>,
}

/// One saved node, as read.
#[derive(Deserialize)]
struct RecordIn {
    id: usize,
    parent: Option<usize>,
    #[serde(flatten)]
    node: Node,
}

impl Tree {
    /// The tree as pretty JSON: `{"format": "mneme-lats-tree", "version": 1,
    /// "nodes": [{"id": 0, "parent": null, …node fields}, …]}`. Values must
    /// be finite to load again.
    pub fn to_json(&self) -> Vec<u8> {
        let nodes = self.ids().map(|id| RecordOut {
            id,
            parent: self.parent(id),
            node: self.node(id),
        });
        let file = FileOut {
            format: TREE_FORMAT,
            version: TREE_VERSION,
            nodes: nodes.collect(),
        };
        // Plain structs with string keys: serde_json cannot fail on them.
        serde_json::to_vec_pretty(&file).expect("a tree always serialises")
    }

    /// Reads a tree written by [`Tree::to_json`]; `what` (the file path) is
    /// named in every error. Rejects cut or invalid JSON, another format or
    /// version, ids not `0..n` in order, a parent not before its child, a
    /// root with a parent or another node without one, a depth that is not
    /// the parent's + 1, and a `duplicate_of` not naming an earlier node.
    pub fn from_json(bytes: &[u8], what: &str) -> Result<Tree, TreeError> {
        let header: FileHeader = parse(bytes, what)?;
        check_header(&header, what)?;
        let file: FileIn = parse(bytes, what)?;
        check_records(&file.nodes).map_err(|problem| TreeError::Inconsistent {
            what: what.to_string(),
            problem,
        })?;
        Ok(Tree::from_records(file.nodes))
    }

    /// Builds the tree from checked records.
    fn from_records(records: Vec<RecordIn>) -> Tree {
        let mut graph = DiGraph::with_capacity(records.len(), records.len());
        for record in records {
            let child = graph.add_node(record.node);
            if let Some(parent) = record.parent {
                graph.add_edge(NodeIndex::new(parent), child, ());
            }
        }
        Tree { graph }
    }
}

/// Parses JSON, telling a file cut short from one that is wrong.
fn parse<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, TreeError> {
    serde_json::from_slice(bytes).map_err(|error| {
        let (what, message) = (what.to_string(), error.to_string());
        if error.is_eof() {
            TreeError::CutShort { what, message }
        } else {
            TreeError::Malformed { what, message }
        }
    })
}

/// The file is a tree file of the version read here.
fn check_header(header: &FileHeader, what: &str) -> Result<(), TreeError> {
    if header.format != TREE_FORMAT {
        return Err(TreeError::WrongFormat {
            what: what.to_string(),
            found: header.format.clone(),
        });
    }
    if header.version != TREE_VERSION {
        return Err(TreeError::WrongVersion {
            what: what.to_string(),
            found: header.version,
        });
    }
    Ok(())
}

/// Every record keeps the tree's rules; the error names the first broken.
fn check_records(records: &[RecordIn]) -> Result<(), String> {
    if records.is_empty() {
        return Err("it holds no nodes; a tree needs at least its root".to_string());
    }
    for (index, record) in records.iter().enumerate() {
        if record.id != index {
            let id = record.id;
            return Err(format!(
                "entry {index} has id {id}; ids must run 0, 1, 2, … in order"
            ));
        }
        check_parent(records, record)?;
        check_duplicate(record)?;
    }
    Ok(())
}

/// Only the root lacks a parent, a parent comes first, and depth follows.
fn check_parent(records: &[RecordIn], record: &RecordIn) -> Result<(), String> {
    let id = record.id;
    match record.parent {
        None if id == 0 => check_depth(record, 0),
        None => Err(format!("node #{id} has no parent; only the root (#0) may")),
        Some(parent) if id == 0 => Err(format!("the root (#0) has parent #{parent}")),
        Some(parent) if parent >= id => Err(format!(
            "node #{id} has parent #{parent}; a parent must come before its child"
        )),
        Some(parent) => check_depth(record, records[parent].node.depth.saturating_add(1)),
    }
}

/// The record's depth is the one expected from its parent.
fn check_depth(record: &RecordIn, expected: u32) -> Result<(), String> {
    let (id, depth) = (record.id, record.node.depth);
    if depth == expected {
        return Ok(());
    }
    Err(format!(
        "node #{id} has depth {depth}, expected {expected} (one more than its parent's)"
    ))
}

/// A duplicate names an earlier node.
fn check_duplicate(record: &RecordIn) -> Result<(), String> {
    match record.node.duplicate_of {
        Some(of) if of >= record.id => Err(format!(
            "node #{} is marked a duplicate of #{of}; it must name an earlier node",
            record.id
        )),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------- drawing

/// Red → amber → green (ColorBrewer RdYlGn ends), for the DOT fill. Not
/// colour-blind safe; the SVG uses [`VIRIDIS`].
const TRAFFIC_LIGHT: [[u8; 3]; 3] = [[0xd7, 0x19, 0x1c], [0xfd, 0xae, 0x61], [0x1a, 0x96, 0x41]];

/// Viridis at 0, ¼, ½, ¾, 1: perceptually even and colour-blind safe, dark
/// purple (reward 0) to yellow (reward 1).
const VIRIDIS: [[u8; 3]; 5] = [
    [0x44, 0x01, 0x54],
    [0x3b, 0x52, 0x8b],
    [0x21, 0x91, 0x8c],
    [0x5e, 0xc9, 0x62],
    [0xfd, 0xe7, 0x25],
];

/// Fill for attempts without a signal (no code, or no tests run).
const NO_SIGNAL_GREY: &str = "#bdbdbd";

/// `#rrggbb` for `reward` on a scale of evenly spaced colour stops.
fn scale_colour(stops: &[[u8; 3]], reward: f64) -> String {
    let t = if reward.is_finite() {
        reward.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let position = t * (stops.len() - 1) as f64;
    let low = (position.floor() as usize).min(stops.len() - 2);
    let along = position - low as f64;
    let mix = |channel: usize| {
        let (from, to) = (
            f64::from(stops[low][channel]),
            f64::from(stops[low + 1][channel]),
        );
        (from + (to - from) * along).round() as u8
    };
    format!("#{:02x}{:02x}{:02x}", mix(0), mix(1), mix(2))
}

/// The node's fill: grey without a signal, else its reward on `stops`.
fn fill_colour(node: &Node, stops: &[[u8; 3]]) -> String {
    if node.has_signal() {
        scale_colour(stops, node.reward)
    } else {
        NO_SIGNAL_GREY.to_string()
    }
}

/// Text with `&`, `<`, `>`, `"` and `'` escaped for XML.
fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            _ => escaped.push(ch),
        }
    }
    escaped
}

/// The first non-blank line of `text`, trimmed, at most `limit` characters.
fn first_line(text: &str, limit: usize) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let mut cut: String = line.chars().take(limit).collect();
    if line.chars().count() > limit {
        cut.push('…');
    }
    Some(cut)
}

impl Tree {
    /// `true` for each id on the path to `submitted` (none if it is `None` or
    /// not in the tree).
    fn path_mask(&self, submitted: Option<usize>) -> Vec<bool> {
        let mut mask = vec![false; self.len()];
        for id in submitted
            .filter(|&id| id < self.len())
            .map_or(vec![], |id| self.path_to(id))
        {
            mask[id] = true;
        }
        mask
    }

    /// Graphviz DOT: label `#id d=depth r=reward v=mean (visits)`, fill by
    /// reward red → amber → green (grey without a signal), the path to
    /// `submitted` with `penwidth=3`, duplicates dashed.
    pub fn to_dot(&self, submitted: Option<usize>) -> String {
        let on_path = self.path_mask(submitted);
        let edge_attributes = |_: &DiGraph<Node, ()>, edge: EdgeReference<'_, ()>| {
            let thick = on_path[edge.target().index()];
            if thick { "penwidth=3 " } else { "" }.to_string()
        };
        let node_attributes = |_: &DiGraph<Node, ()>, (index, _): (NodeIndex, &Node)| {
            self.dot_node_attributes(index.index(), on_path[index.index()])
        };
        let config = [Config::NodeNoLabel, Config::EdgeNoLabel];
        let dot = Dot::with_attr_getters(&self.graph, &config, &edge_attributes, &node_attributes);
        format!("{dot:?}")
    }

    /// The DOT attributes of one node.
    fn dot_node_attributes(&self, id: usize, on_path: bool) -> String {
        let node = self.node(id);
        let style = if node.duplicate_of.is_some() {
            "filled,dashed"
        } else {
            "filled"
        };
        let pen = if on_path { " penwidth=3" } else { "" };
        format!(
            "label=\"#{id} d={} r={:.2} v={:.2} ({})\" style=\"{style}\" fillcolor=\"{}\"{pen} ",
            node.depth,
            node.reward,
            self.mean_value(id),
            node.visits,
            fill_colour(node, &TRAFFIC_LIGHT),
        )
    }
}

/// Horizontal room per leaf in the SVG, in px.
const LEAF_WIDTH: f64 = 60.0;
/// Vertical room per level in the SVG, in px.
const LEVEL_HEIGHT: f64 = 70.0;
/// Node circle radius in the SVG, in px.
const RADIUS: f64 = 16.0;
/// Blank border around the SVG drawing, in px.
const MARGIN: f64 = 20.0;
/// Room below the tree for the legend, in px.
const LEGEND_HEIGHT: f64 = 56.0;
/// Narrowest SVG that fits the legend, in px.
const LEGEND_WIDTH: f64 = 300.0;

/// Where each node sits in the SVG: x slot (in leaf widths) and depth.
struct Layout {
    slots: Vec<f64>,
    leaves: usize,
    depth: u32,
}

impl Layout {
    /// Centre of node `id` in px.
    fn centre(&self, tree: &Tree, id: usize) -> (f64, f64) {
        let x = MARGIN + self.slots[id] * LEAF_WIDTH + LEAF_WIDTH / 2.0;
        let y = MARGIN + f64::from(tree.node(id).depth) * LEVEL_HEIGHT + RADIUS;
        (x, y)
    }

    /// Width and height of the whole SVG in px.
    fn size(&self) -> (f64, f64) {
        let width = (2.0 * MARGIN + self.leaves as f64 * LEAF_WIDTH).max(LEGEND_WIDTH);
        (width, self.legend_top() + LEGEND_HEIGHT)
    }

    /// Top of the legend in px.
    fn legend_top(&self) -> f64 {
        MARGIN + f64::from(self.depth) * LEVEL_HEIGHT + 2.0 * RADIUS + 24.0
    }
}

impl Tree {
    /// Leaves in post-order get slots 0, 1, 2, …; a parent is centred over
    /// its first and last child.
    fn layout(&self) -> Layout {
        let mut layout = Layout {
            slots: vec![0.0; self.len()],
            leaves: 0,
            depth: self.ids().map(|id| self.node(id).depth).max().unwrap_or(0),
        };
        self.place(Self::ROOT, &mut layout);
        layout
    }

    /// Places `node`'s subtree in `layout`.
    fn place(&self, node: usize, layout: &mut Layout) {
        let children = self.children(node);
        let (Some(&first), Some(&last)) = (children.first(), children.last()) else {
            layout.slots[node] = layout.leaves as f64;
            layout.leaves += 1;
            return;
        };
        for &child in &children {
            self.place(child, layout);
        }
        layout.slots[node] = (layout.slots[first] + layout.slots[last]) / 2.0;
    }

    /// A self-contained SVG: y by depth, x by post-order leaf position;
    /// circles filled by reward on a viridis scale (dark purple 0 → yellow
    /// 1; grey without a signal), ids as text, the path to `submitted` with
    /// thick edges and thick black rings, duplicates dashed, a `<title>` per
    /// node for hover, and a small legend.
    pub fn to_svg(&self, submitted: Option<usize>) -> String {
        let on_path = self.path_mask(submitted);
        let layout = self.layout();
        let (width, height) = layout.size();
        let mut svg = svg_header(width, height);
        for id in self.ids().skip(1) {
            svg.push_str(&self.svg_edge(id, &layout, on_path[id]));
        }
        for id in self.ids() {
            svg.push_str(&self.svg_node(id, &layout, on_path[id], submitted == Some(id)));
        }
        svg.push_str(&svg_legend(layout.legend_top()));
        svg.push_str("</svg>\n");
        svg
    }

    /// The line from `id`'s parent down to `id`.
    fn svg_edge(&self, id: usize, layout: &Layout, on_path: bool) -> String {
        let parent = self.parent(id).expect("only the root lacks a parent");
        let ((x1, y1), (x2, y2)) = (layout.centre(self, parent), layout.centre(self, id));
        let (colour, width) = if on_path {
            ("#000000", 4.0)
        } else {
            ("#999999", 1.5)
        };
        format!(
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" \
             stroke=\"{colour}\" stroke-width=\"{width}\"/>\n"
        )
    }

    /// One node: hover title, circle and id.
    fn svg_node(&self, id: usize, layout: &Layout, on_path: bool, submitted: bool) -> String {
        let node = self.node(id);
        let (x, y) = layout.centre(self, id);
        let duplicate = node.duplicate_of.is_some();
        let (ring, ring_width) = match (on_path, duplicate) {
            (true, _) => ("#000000", 4.0),
            (false, true) => ("#444444", 2.0),
            (false, false) => ("#444444", 1.2),
        };
        let dash = if duplicate {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let ink = if node.has_signal() && node.reward < 0.55 {
            "#ffffff"
        } else {
            "#000000"
        };
        format!(
            "<g><title>{}</title>\
             <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{RADIUS}\" fill=\"{}\" \
             stroke=\"{ring}\" stroke-width=\"{ring_width}\"{dash}/>\
             <text x=\"{x:.1}\" y=\"{y:.1}\" dy=\"0.35em\" text-anchor=\"middle\" \
             fill=\"{ink}\">{id}</text></g>\n",
            xml_escape(&self.hover_text(id, submitted)),
            fill_colour(node, &VIRIDIS),
        )
    }

    /// The hover text of one node (not yet escaped).
    fn hover_text(&self, id: usize, submitted: bool) -> String {
        let node = self.node(id);
        let mut text = format!(
            "#{id} {}, visits {}, value {:.2}, calls_at {}",
            reward_text(node),
            node.visits,
            self.mean_value(id),
            node.calls_at
        );
        if let Some(action) = node.code.as_deref().filter(|a| node.state && !a.is_empty()) {
            text.push_str(&format!(
                "\n> {}",
                first_line(action, 120).unwrap_or_default()
            ));
        }
        if node.code.is_none() {
            text.push_str(", no code");
        }
        for tag in self.tags(id, submitted) {
            text.push_str(&format!(", {tag}"));
        }
        if let Some(line) = first_line(&node.feedback, 120) {
            text.push_str(&format!("\n{line}"));
        }
        text
    }

    /// The marks shown after a node: duplicate, submitted, passed.
    fn tags(&self, id: usize, submitted: bool) -> Vec<String> {
        let node = self.node(id);
        let mut tags = Vec::new();
        if let Some(of) = node.duplicate_of {
            tags.push(format!("dup of #{of}"));
        }
        if submitted {
            tags.push("submitted".to_string());
        }
        if node.passed {
            tags.push("passed".to_string());
        }
        tags
    }
}

/// The `<svg>` start tag, the reward gradient and a white background.
fn svg_header(width: f64, height: f64) -> String {
    let stops: String = VIRIDIS
        .iter()
        .enumerate()
        .map(|(at, _)| {
            let offset = at as f64 / (VIRIDIS.len() - 1) as f64;
            let colour = scale_colour(&VIRIDIS, offset);
            format!("<stop offset=\"{offset}\" stop-color=\"{colour}\"/>")
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <defs><linearGradient id=\"lats-reward-scale\">{stops}</linearGradient></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
    )
}

/// The legend: reward scale, no-signal grey, submitted path, duplicate.
fn svg_legend(top: f64) -> String {
    let (x, row) = (MARGIN, top + 36.0);
    format!(
        "<g><rect x=\"{x}\" y=\"{top}\" width=\"100\" height=\"10\" \
         fill=\"url(#lats-reward-scale)\" stroke=\"#444444\"/>\
         <text x=\"{x}\" y=\"{t}\">reward 0</text>\
         <text x=\"{r}\" y=\"{t}\" text-anchor=\"end\">1</text>\
         <rect x=\"{g}\" y=\"{top}\" width=\"10\" height=\"10\" fill=\"{NO_SIGNAL_GREY}\" \
         stroke=\"#444444\"/><text x=\"{gt}\" y=\"{b}\">no code / no tests</text>\
         <line x1=\"{x}\" y1=\"{row}\" x2=\"{l}\" y2=\"{row}\" stroke=\"#000000\" \
         stroke-width=\"4\"/><text x=\"{lt}\" y=\"{rb}\">submitted path</text>\
         <rect x=\"{g}\" y=\"{d}\" width=\"10\" height=\"10\" fill=\"none\" stroke=\"#444444\" \
         stroke-dasharray=\"3 2\"/><text x=\"{gt}\" y=\"{rb}\">duplicate</text></g>\n",
        t = top + 22.0,
        r = x + 100.0,
        g = x + 130.0,
        gt = x + 145.0,
        b = top + 9.0,
        l = x + 30.0,
        lt = x + 36.0,
        rb = row + 4.0,
        d = row - 5.0,
    )
}

impl Tree {
    /// An indented outline for a terminal, one line per node in depth-first
    /// order, e.g. `#3 depth 2  reward 0.67 (2/3)  value 0.58 over 2 visits
    /// [dup of #1] [submitted] [passed]`, with the first line of its
    /// reflection (if any) indented below it.
    ///
    /// In a tree of states (`mcts`), an only child keeps its parent's indentation (below the
    /// root), so an episode's long chain of states reads as one column and only branches step
    /// right.
    pub fn render_text(&self, submitted: Option<usize>) -> String {
        let mut out = String::new();
        let mut stack = vec![(Self::ROOT, 0)];
        while let Some((id, level)) = stack.pop() {
            out.push_str(&self.text_lines(id, level, submitted == Some(id)));
            let children = self.children(id);
            let chain = children.len() == 1 && id != Self::ROOT && self.node(id).state;
            let step = usize::from(!chain);
            stack.extend(children.into_iter().rev().map(|c| (c, level + step)));
        }
        out
    }

    /// The outline lines of one node, indented `level` steps.
    fn text_lines(&self, id: usize, level: usize, submitted: bool) -> String {
        let node = self.node(id);
        let indent = "  ".repeat(level);
        let visits = if node.visits == 1 { "visit" } else { "visits" };
        let mut text = format!(
            "{indent}#{id} depth {}  {}  value {:.2} over {} {visits}",
            node.depth,
            reward_text(node),
            self.mean_value(id),
            node.visits
        );
        let tags: Vec<String> = self
            .tags(id, submitted)
            .iter()
            .map(|tag| format!("[{tag}]"))
            .collect();
        if !tags.is_empty() {
            text.push_str(&format!("  {}", tags.join(" ")));
        }
        if let Some(action) = node.code.as_deref().filter(|a| node.state && !a.is_empty()) {
            text.push_str(&format!(
                "  > {}",
                first_line(action, 80).unwrap_or_default()
            ));
        }
        text.push('\n');
        if let Some(line) = node.reflection.as_deref().and_then(|r| first_line(r, 160)) {
            text.push_str(&format!("{indent}    reflection: {line}\n"));
        }
        text
    }
}

/// `reward 0.67 (2/3)`, or why there is no reward.
fn reward_text(node: &Node) -> String {
    if node.state {
        let end = if node.terminal { "episode over, " } else { "" };
        return format!("{end}reward {:.2}", node.reward);
    }
    match (&node.code, node.tests) {
        (None, _) => "no code".to_string(),
        (Some(_), 0) => "no tests run".to_string(),
        (Some(_), tests) => format!(
            "reward {:.2} ({}/{tests})",
            node.reward,
            node.tests_passed()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attempt with code and `passed` of `tests` internal tests.
    fn attempt(code: &str, passed: usize, tests: usize) -> Node {
        let reward = passed as f64 / tests as f64;
        Node::attempt(Some(code.to_string()), "feedback", reward, tests, 1)
    }

    /// Root plus two children; child 1 backed up 0.9 twice, child 2 0.3
    /// once, the root 0.0 once: N(root) = 4.
    fn two_children() -> Tree {
        let mut tree = Tree::new(attempt("root", 0, 2));
        tree.backpropagate(0, 0.0);
        tree.mark_expanded(0, Some("try harder".to_string()));
        let one = tree.add_child(0, attempt("one", 1, 2)).unwrap();
        let two = tree.add_child(0, attempt("two", 1, 2)).unwrap();
        tree.backpropagate(one, 0.9);
        tree.backpropagate(one, 0.9);
        tree.backpropagate(two, 0.3);
        tree
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-6
    }

    #[test]
    fn uct_matches_hand_computed_values_and_select_follows_it() {
        let tree = two_children();
        assert_eq!(tree.node(0).visits, 4);
        // c = 1: 0.9 + sqrt(ln 4 / 2) = 1.732555; 0.3 + sqrt(ln 4 / 1) = 1.477410.
        let params = UctParams::default();
        assert!(
            close(tree.uct(1, &params), 1.732_555),
            "{}",
            tree.uct(1, &params)
        );
        assert!(
            close(tree.uct(2, &params), 1.477_410),
            "{}",
            tree.uct(2, &params)
        );
        assert_eq!(tree.select(&params), Some(1));
        // c = 2: 0.9 + 1.665109 = 2.565109; 0.3 + 2.354820 = 2.654820.
        let explore = UctParams {
            exploration: 2.0,
            ..params
        };
        assert!(close(tree.uct(1, &explore), 2.565_109));
        assert!(close(tree.uct(2, &explore), 2.654_820));
        assert_eq!(tree.select(&explore), Some(2));
    }

    #[test]
    fn uct_applies_penalties_and_is_infinite_unvisited() {
        let mut tree = two_children();
        tree.node_mut(1).duplicate_of = Some(0);
        let params = UctParams {
            depth_penalty: 0.1,
            ..UctParams::default()
        };
        // 1.732555 - 0.1 * 1 - 0.5 (duplicate)
        assert!(close(tree.uct(1, &params), 1.132_555));
        let fresh = tree.add_child(2, attempt("three", 0, 1)).unwrap();
        assert_eq!(tree.uct(fresh, &params), f64::INFINITY);
    }

    #[test]
    fn select_ties_go_to_the_lowest_id() {
        let mut tree = Tree::new(attempt("root", 0, 1));
        tree.mark_expanded(0, None);
        for code in ["a", "b", "c"] {
            tree.add_child(0, attempt(code, 0, 1)).unwrap();
        }
        assert_eq!(tree.select(&UctParams::default()), Some(1));
    }

    #[test]
    fn select_starts_at_the_root_until_it_is_expanded() {
        let tree = Tree::new(attempt("root", 0, 1));
        assert_eq!(tree.select(&UctParams::default()), Some(0));
        let no_code = Tree::new(Node::attempt(None, "no code", 0.0, 0, 1));
        assert_eq!(no_code.select(&UctParams::default()), None);
    }

    #[test]
    fn select_skips_duplicates_and_exhausted_subtrees() {
        let mut tree = Tree::new(attempt("root", 0, 2));
        tree.backpropagate(0, 0.0);
        tree.mark_expanded(0, None);
        let mut dup = attempt("root", 0, 2);
        dup.duplicate_of = Some(0);
        let dup = tree.add_child(0, dup).unwrap();
        tree.backpropagate(dup, 1.0);
        let done = tree.add_child(0, attempt("done", 1, 2)).unwrap();
        tree.backpropagate(done, 1.0);
        tree.mark_expanded(done, None);
        let leaf = tree.add_child(done, attempt("leaf", 1, 2)).unwrap();
        tree.backpropagate(leaf, 1.0);
        tree.mark_expanded(leaf, None);
        let open = tree.add_child(0, attempt("open", 0, 2)).unwrap();
        tree.backpropagate(open, 0.0);
        let params = UctParams::default();
        assert!(tree.uct(done, &params) > tree.uct(open, &params));
        assert_eq!(tree.select(&params), Some(open));
        tree.mark_expanded(open, None);
        assert_eq!(tree.select(&params), None);
    }

    #[test]
    fn select_descends_to_an_expandable_grandchild() {
        let mut tree = Tree::new(attempt("root", 0, 1));
        tree.mark_expanded(0, None);
        let inner = tree.add_child(0, attempt("inner", 0, 1)).unwrap();
        let spent = tree.add_child(0, attempt("spent", 1, 1)).unwrap();
        tree.mark_expanded(inner, None);
        tree.mark_expanded(spent, None);
        let grandchild = tree.add_child(inner, attempt("deep", 0, 1)).unwrap();
        assert_eq!(tree.node(grandchild).depth, 2);
        assert_eq!(tree.select(&UctParams::default()), Some(grandchild));
    }

    #[test]
    fn backpropagate_updates_the_node_and_its_ancestors_only() {
        let mut tree = Tree::new(attempt("root", 0, 1));
        let one = tree.add_child(0, attempt("one", 0, 1)).unwrap();
        let deep = tree.add_child(one, attempt("deep", 0, 1)).unwrap();
        let side = tree.add_child(0, attempt("side", 0, 1)).unwrap();
        tree.backpropagate(deep, 0.5);
        tree.backpropagate(one, 0.25);
        let visits: Vec<u32> = tree.ids().map(|id| tree.node(id).visits).collect();
        assert_eq!(visits, vec![2, 2, 1, 0]);
        assert!(close(tree.node(0).value_sum, 0.75));
        assert!(close(tree.mean_value(one), 0.375));
        assert!(close(tree.mean_value(deep), 0.5));
        assert_eq!(tree.mean_value(side), 0.0);
        assert_eq!(tree.path_to(deep), vec![0, one, deep]);
        assert_eq!(tree.parent(0), None);
        assert_eq!(tree.children(0), vec![one, side]);
    }

    #[test]
    fn add_child_rejects_unknown_parent_and_later_duplicate() {
        let mut tree = Tree::new(attempt("root", 0, 1));
        let error = tree.add_child(5, attempt("x", 0, 1)).unwrap_err();
        assert_eq!(error, TreeError::UnknownNode { id: 5, len: 1 });
        let mut own = attempt("x", 0, 1);
        own.duplicate_of = Some(1);
        let error = tree.add_child(0, own).unwrap_err();
        assert_eq!(error, TreeError::DuplicateNotEarlier { id: 1, of: 1 });
        assert_eq!(tree.len(), 1);
    }

    #[test]
    fn best_prefers_reward_then_shallow_then_low_id() {
        let mut tree = Tree::new(attempt("root", 1, 2));
        let one = tree.add_child(0, attempt("one", 1, 2)).unwrap();
        let deep = tree.add_child(one, attempt("deep", 4, 5)).unwrap();
        let shallow = tree.add_child(0, attempt("shallow", 4, 5)).unwrap();
        let _same = tree.add_child(0, attempt("same", 4, 5)).unwrap();
        assert!(deep < shallow);
        assert_eq!(tree.best(), Some(shallow));
        let mut dup = attempt("shallow", 5, 5);
        dup.duplicate_of = Some(shallow);
        tree.add_child(0, dup).unwrap();
        tree.add_child(0, Node::attempt(None, "no code", 1.0, 3, 2))
            .unwrap();
        assert_eq!(tree.best(), Some(shallow));
    }

    #[test]
    fn best_keeps_the_root_on_a_tie_and_first_passing_is_lowest() {
        let mut tree = Tree::new(attempt("root", 1, 2));
        tree.add_child(0, attempt("one", 1, 2)).unwrap();
        assert_eq!(tree.best(), Some(0));
        assert_eq!(tree.first_passing(), None);
        let deep = tree.add_child(1, attempt("pass", 2, 2)).unwrap();
        tree.add_child(0, attempt("pass too", 3, 3)).unwrap();
        assert_eq!(tree.first_passing(), Some(deep));
        assert!(!Node::attempt(Some("x".into()), "", 1.0, 0, 0).passed);
    }

    #[test]
    fn normalise_code_ignores_comments_blanks_and_trailing_space() {
        let commented = "def f(x):\n    # add one\n\n    return x + 1  # done\n\n";
        let plain = "def f(x):   \n    return x + 1\n";
        assert_eq!(normalise_code(commented), normalise_code(plain));
        assert_eq!(normalise_code(plain), "def f(x):\n    return x + 1");
        assert_ne!(
            normalise_code(plain),
            normalise_code("def f(x):\n    return x - 1")
        );
        assert_ne!(
            normalise_code(plain),
            normalise_code("def f(x):\nreturn x + 1")
        );
    }

    #[test]
    fn normalise_code_keeps_hashes_inside_strings() {
        assert_eq!(normalise_code("s = \"a # b\"  # note"), "s = \"a # b\"");
        assert_eq!(normalise_code("s = 'x#y' + \"#\""), "s = 'x#y' + \"#\"");
        assert_eq!(normalise_code(r##"s = "q\"#" # c"##), r##"s = "q\"#""##);
        assert_ne!(normalise_code("s = '#a'"), normalise_code("s = '#b'"));
    }

    #[test]
    fn find_duplicate_returns_the_lowest_matching_id() {
        let mut tree = Tree::new(attempt("x = 1", 0, 1));
        tree.add_child(0, attempt("y = 2", 0, 1)).unwrap();
        tree.add_child(0, attempt("y = 2  # again", 0, 1)).unwrap();
        assert_eq!(tree.find_duplicate("\ny = 2   # c\n"), Some(1));
        assert_eq!(tree.find_duplicate("y = 3"), None);
    }

    /// A tree using every field, for the file tests.
    fn full_tree() -> Tree {
        let mut tree = two_children();
        let mut node = attempt("def f():\n    return '<ok>'", 2, 3);
        node.self_eval = Some(0.1 + 0.2);
        node.self_eval_unparsed = true;
        node.value = 2.0 / 3.0;
        node.candidate = Some(4);
        let deep = tree.add_child(1, node).unwrap();
        tree.backpropagate(deep, 2.0 / 3.0);
        let mut dup = attempt("one", 1, 2);
        dup.duplicate_of = Some(1);
        tree.add_child(2, dup).unwrap();
        tree.add_child(0, Node::attempt(None, "no code block", 0.0, 0, 7))
            .unwrap();
        tree
    }

    #[test]
    fn json_round_trip_gives_an_equal_tree() {
        let tree = full_tree();
        let bytes = tree.to_json();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"format\": \"mneme-lats-tree\""), "{text}");
        assert!(text.contains("\"version\": 1"));
        let loaded = Tree::from_json(&bytes, "tree.json").unwrap();
        assert_eq!(loaded, tree);
        assert_eq!(loaded.node(3).self_eval, Some(0.1 + 0.2));
        assert_eq!(loaded.parent(3), Some(1));
        assert_ne!(loaded, two_children());
    }

    #[test]
    fn from_json_rejects_a_file_cut_in_half() {
        let bytes = full_tree().to_json();
        let error = Tree::from_json(&bytes[..bytes.len() / 2], "runs/t1/tree.json").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, TreeError::CutShort { .. }), "{message}");
        assert!(message.starts_with("runs/t1/tree.json is not a complete tree file (cut short?): "));
        let error = Tree::from_json(b"{nonsense", "bad.json").unwrap_err();
        assert!(matches!(error, TreeError::Malformed { .. }), "{error}");
    }

    /// The saved `full_tree`, changed by `edit`, then loaded.
    fn load_edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Tree, TreeError> {
        let mut value: serde_json::Value = serde_json::from_slice(&full_tree().to_json()).unwrap();
        edit(&mut value);
        Tree::from_json(&serde_json::to_vec(&value).unwrap(), "edited.json")
    }

    /// The error message after `edit`; fails if the file still loads.
    fn rejection(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let message = load_edited(edit).unwrap_err().to_string();
        assert!(message.starts_with("edited.json "), "{message}");
        message
    }

    #[test]
    fn from_json_rejects_broken_structure() {
        let parent_self = rejection(|v| v["nodes"][3]["parent"] = 3.into());
        assert!(
            parent_self.contains("node #3 has parent #3"),
            "{parent_self}"
        );
        let parent_later = rejection(|v| v["nodes"][1]["parent"] = 4.into());
        assert!(
            parent_later.contains("node #1 has parent #4"),
            "{parent_later}"
        );
        let root = rejection(|v| v["nodes"][0]["parent"] = 1.into());
        assert!(root.contains("the root (#0) has parent #1"), "{root}");
        let orphan = rejection(|v| v["nodes"][2]["parent"] = serde_json::Value::Null);
        assert!(orphan.contains("node #2 has no parent"), "{orphan}");
        let depth = rejection(|v| v["nodes"][3]["depth"] = 1.into());
        assert!(depth.contains("node #3 has depth 1, expected 2"), "{depth}");
        let dup = rejection(|v| v["nodes"][4]["duplicate_of"] = 4.into());
        assert!(dup.contains("duplicate of #4"), "{dup}");
        let ids = rejection(|v| v["nodes"][2]["id"] = 7.into());
        assert!(ids.contains("entry 2 has id 7"), "{ids}");
        let empty = rejection(|v| v["nodes"] = serde_json::json!([]));
        assert!(empty.contains("no nodes"), "{empty}");
    }

    #[test]
    fn from_json_rejects_other_formats_and_versions() {
        let format = rejection(|v| v["format"] = "something-else".into());
        assert!(format.contains("format is \"something-else\""), "{format}");
        let version = rejection(|v| v["version"] = 2.into());
        assert!(version.contains("version 2"), "{version}");
        let shape = rejection(|v| v["nodes"][1]["reward"] = "high".into());
        assert!(shape.contains("not a valid tree file"), "{shape}");
        assert!(load_edited(|_| {}).is_ok());
    }

    #[test]
    fn to_dot_marks_the_submitted_path_and_duplicates() {
        let tree = full_tree();
        let plain = tree.to_dot(None);
        assert!(!plain.contains("penwidth"), "{plain}");
        assert!(
            plain.contains("label=\"#1 d=1 r=0.50 v=0.82 (3)\""),
            "{plain}"
        );
        assert!(plain.contains("0 -> 1"));
        let dot = tree.to_dot(Some(3));
        assert_eq!(
            dot.matches("penwidth=3").count(),
            5,
            "3 nodes and 2 edges:\n{dot}"
        );
        assert!(dot.contains("style=\"filled,dashed\""));
        assert!(
            dot.contains("fillcolor=\"#d7191c\""),
            "reward 0 is red:\n{dot}"
        );
        assert!(dot.starts_with("digraph {"));
    }

    /// Fails unless every tag in `svg` is closed in order.
    fn assert_well_formed(svg: &str) {
        let mut open: Vec<&str> = Vec::new();
        for piece in svg.split('<').skip(1) {
            let tag = &piece[..piece.find('>').expect("tag closed with >")];
            let name = tag
                .trim_start_matches('/')
                .split_whitespace()
                .next()
                .unwrap();
            let name = name.trim_end_matches('/');
            if tag.starts_with('/') {
                assert_eq!(open.pop(), Some(name), "misnested </{name}>");
            } else if !tag.ends_with('/') {
                open.push(name);
            }
            let text = &piece[piece.find('>').unwrap() + 1..];
            assert!(!text.contains('>'), "unescaped > in {text:?}");
        }
        assert!(open.is_empty(), "left open: {open:?}");
    }

    #[test]
    fn to_svg_is_well_formed_with_one_circle_per_node() {
        let mut tree = full_tree();
        tree.node_mut(3).feedback = "assert f(2) < 3 failed & more".to_string();
        let svg = tree.to_svg(Some(3));
        assert!(svg.starts_with("<svg "));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<circle").count(), tree.len());
        assert_eq!(svg.matches("<title>").count(), tree.len());
        assert!(
            svg.contains("assert f(2) &lt; 3 failed &amp; more"),
            "{svg}"
        );
        assert!(svg.contains("#3 reward 0.67 (2/3), visits 1, value 0.67, calls_at 1"));
        assert_eq!(
            svg.matches("stroke-width=\"4\"").count(),
            3 + 2 + 1,
            "path + legend"
        );
        assert_eq!(svg.matches("stroke-dasharray=\"4 3\"").count(), 1);
        assert_eq!(
            svg.matches("http://").count(),
            1,
            "only the xmlns: self-contained"
        );
        assert!(!svg.contains("href") && !svg.contains("<script") && !svg.contains("<style"));
    }

    #[test]
    fn to_svg_size_fits_leaves_and_levels() {
        let tree = full_tree();
        let svg = tree.to_svg(None);
        // Leaves 3, 4 and 5; deepest level 2.
        let leaves = tree
            .ids()
            .filter(|&id| tree.children(id).is_empty())
            .count();
        let width = (2.0 * MARGIN + leaves as f64 * LEAF_WIDTH).max(LEGEND_WIDTH);
        assert!(svg.contains(&format!("width=\"{width:.0}\"")), "{svg}");
        let height = MARGIN + 2.0 * LEVEL_HEIGHT + 2.0 * RADIUS + 24.0 + LEGEND_HEIGHT;
        assert!(svg.contains(&format!("height=\"{height:.0}\"")), "{svg}");
    }

    #[test]
    fn layout_centres_parents_over_children() {
        let tree = full_tree();
        let layout = tree.layout();
        // Post-order leaves: 3 (under 1), 4 (under 2), 5 (under 0).
        assert_eq!(layout.slots[3], 0.0);
        assert_eq!(layout.slots[4], 1.0);
        assert_eq!(layout.slots[5], 2.0);
        assert_eq!(layout.slots[0], 1.0);
        assert_eq!(layout.leaves, 3);
    }

    #[test]
    fn colour_scales_hit_their_stops() {
        assert_eq!(scale_colour(&TRAFFIC_LIGHT, 0.0), "#d7191c");
        assert_eq!(scale_colour(&TRAFFIC_LIGHT, 0.5), "#fdae61");
        assert_eq!(scale_colour(&TRAFFIC_LIGHT, 1.0), "#1a9641");
        assert_eq!(scale_colour(&VIRIDIS, 0.5), "#21918c");
        assert_eq!(scale_colour(&VIRIDIS, 2.0), "#fde725");
        assert_eq!(scale_colour(&VIRIDIS, f64::NAN), "#440154");
    }

    #[test]
    fn render_text_outlines_the_tree() {
        let tree = full_tree();
        let text = tree.render_text(Some(3));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "#0 depth 0  reward 0.00 (0/2)  value 0.55 over 5 visits"
        );
        assert_eq!(lines[1], "    reflection: try harder");
        assert_eq!(
            lines[2],
            "  #1 depth 1  reward 0.50 (1/2)  value 0.82 over 3 visits"
        );
        assert_eq!(
            lines[3],
            "    #3 depth 2  reward 0.67 (2/3)  value 0.67 over 1 visit  [submitted]"
        );
        assert_eq!(
            lines[5],
            "    #4 depth 2  reward 0.50 (1/2)  value 0.00 over 0 visits  [dup of #1]"
        );
        assert_eq!(lines[6], "  #5 depth 1  no code  value 0.00 over 0 visits");
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn state_trees_keep_chains_in_one_column() {
        let state = |action: &str, ended: Option<bool>| Node::state(action, "obs", 0.0, ended, 1);
        let mut tree = Tree::new(state("", None));
        let a = tree.add_child(0, state("a", None)).unwrap();
        let b = tree.add_child(a, state("b", None)).unwrap();
        let d = tree.add_child(b, state("d", None)).unwrap();
        tree.add_child(d, state("e", Some(false))).unwrap();
        tree.add_child(a, state("c", None)).unwrap();
        let text = tree.render_text(None);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("#0 depth 0  reward 0.00"), "{text}");
        assert!(
            lines[1].starts_with("  #1 depth 1") && lines[1].ends_with("> a"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("    #2 depth 2") && lines[2].ends_with("> b"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("    #3 depth 3") && lines[3].ends_with("> d"),
            "{text}"
        );
        assert!(
            lines[4].starts_with("    #4 depth 4  episode over, reward 0.00"),
            "{text}"
        );
        assert!(
            lines[5].starts_with("    #5 depth 2") && lines[5].ends_with("> c"),
            "{text}"
        );
    }
}
