//! What the round-close code hands the anonymizer: the hierarchy snapshot, the items,
//! the (already ballot-checked) responses and comments, and what earlier rounds
//! released of the same nodes. Nothing here names a person.

use safepulse_domain::{Answer, ItemMeta, NodeId};

use crate::ledger::DeterminedNode;
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
    /// What earlier rounds of the survey determined about these nodes, for Rule D
    /// (`cross_round`). Empty for a survey's first round.
    #[serde(default)]
    pub history: History,
}

/// The past of a round's nodes, as counts only: what the round-close code reads from
/// the stored ledgers and invitations. Never an answer, never a person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Every earlier round of the survey, as its ledgers recorded the nodes its exact
    /// releases determined. Nodes no longer in the snapshot are left out.
    pub earlier_rounds: Vec<EarlierRound>,
    /// Nodes whose invited people changed since the last round whose exact score
    /// releases determined them.
    pub membership_changes: Vec<MembershipChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierRound {
    /// [`crate::FamilyLedger::determined`] of the score family.
    pub scores: Vec<DeterminedNode>,
    /// The same for the detail family.
    pub detail: Vec<DeterminedNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChange {
    pub node: NodeId,
    /// People invited in the node's subtree now but not in the last round whose exact
    /// score releases determined it, plus those invited then but not now (left,
    /// moved or erased since).
    pub people: u32,
}
