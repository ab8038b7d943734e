//! What the round-close code hands the anonymizer: the hierarchy snapshot, the items,
//! the (already ballot-checked) responses and comments. Nothing here names a person.

use safepulse_domain::{Answer, ItemMeta, NodeId};
use serde::{Deserialize, Serialize};

/// One node of the round's frozen hierarchy snapshot (a team, the synthetic
/// Leadership node, or a synthetic root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotNode {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    /// `v`: the people invited in this node's subtree who may view this node.
    ///
    /// Viewing must be upward closed inside the subtree — whoever sits in a node's
    /// subtree and may view that node may also view each of its ancestors — so a
    /// node's `viewers` is never below the sum of its children's (checked).
    pub viewers: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    Open,
    Closed,
}

/// One respondent's answers: one per item, in the order of [`RoundInput::items`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub node: NodeId,
    pub answers: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub node: NodeId,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundInput {
    pub nodes: Vec<SnapshotNode>,
    pub items: Vec<ItemMeta>,
    pub responses: Vec<Response>,
    pub comments: Vec<Comment>,
    /// Rule C: only a closed round is released.
    pub status: RoundStatus,
}
