//! Why a round cannot be released. Messages name nodes and items, never an answer.

use safepulse_domain::{Dimension, ItemId, NodeId};

use crate::ledger::RuleAViolation;
use crate::policy::Family;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnonymizerError {
    #[error("the round is still open: nothing is released before it closes (Rule C)")]
    RoundStillOpen,
    #[error("a hierarchy snapshot needs exactly one root, found {roots}")]
    RootCount { roots: usize },
    #[error("node {node} appears twice in the snapshot")]
    DuplicateNode { node: NodeId },
    #[error("node {node} names parent {parent}, which is not in the snapshot")]
    UnknownParent { node: NodeId, parent: NodeId },
    #[error("node {node} is not below the root: the snapshot's parents form a cycle")]
    HierarchyHasCycle { node: NodeId },
    #[error(
        "node {node} has {viewers} viewers but its children have {children_viewers}: viewers must be nested"
    )]
    ViewersNotNested {
        node: NodeId,
        viewers: u32,
        children_viewers: u64,
    },
    #[error("the round has no items")]
    NoItems,
    #[error("item {item} appears twice")]
    DuplicateItem { item: ItemId },
    #[error("dimension {dimension} mixes answer scales")]
    MixedScalesInDimension { dimension: Dimension },
    #[error("a response names node {node}, which is not in the snapshot")]
    ResponseForUnknownNode { node: NodeId },
    #[error("a comment names node {node}, which is not in the snapshot")]
    CommentForUnknownNode { node: NodeId },
    #[error("the history names node {node}, which is not in the snapshot")]
    HistoryForUnknownNode { node: NodeId },
    #[error("the history names node {node} twice")]
    DuplicateHistory { node: NodeId },
    #[error("a response has {found} answers but the round has {expected} items")]
    WrongAnswerCount { expected: usize, found: usize },
    #[error("a response holds an answer outside the scale of item {item}")]
    AnswerOutsideItemScale { item: ItemId },
    #[error("a round of more than {} responses cannot be counted", u32::MAX)]
    TooManyResponses,
    #[error("the {family:?} ledger fails Rule A: {violation}")]
    RuleA {
        family: Family,
        violation: RuleAViolation,
    },
}
