//! Comments are released per detail atom, shuffled, without dates (DESIGN §3).

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use safepulse_domain::NodeId;

use crate::atoms::FamilyPartition;
use crate::hierarchy::Hierarchy;
use crate::ledger::AtomId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedComment {
    pub atom: AtomId,
    /// The detail-released node whose residual the atom is; every detail release that
    /// covers the atom (see the ledger) may show the comment.
    pub node: NodeId,
    pub text: String,
}

/// `comments`: (node position, text). A comment covered by no detail release is
/// dropped, and so is one with nothing but whitespace. Within each atom the order is
/// shuffled, so that it cannot follow submission order.
pub(crate) fn release_comments<'text>(
    hierarchy: &Hierarchy,
    detail: &FamilyPartition,
    comments: impl Iterator<Item = (usize, &'text str)>,
    rng: &mut impl Rng,
) -> Vec<ReleasedComment> {
    let mut by_owner: Vec<Vec<&str>> = vec![Vec::new(); hierarchy.len()];
    for (node, text) in comments {
        if text.trim().is_empty() {
            continue;
        }
        if let Some((owner, _)) = detail.atom_containing(node) {
            by_owner[owner].push(text);
        }
    }
    let mut released = Vec::new();
    for (owner, mut texts) in by_owner.into_iter().enumerate() {
        let Some((_, atom)) = detail.atom_containing(owner) else {
            continue;
        };
        texts.shuffle(rng);
        released.extend(texts.into_iter().map(|text| ReleasedComment {
            atom,
            node: hierarchy.ids[owner],
            text: text.to_owned(),
        }));
    }
    released
}
