//! One family's partition of the respondents into atoms, and the per-atom sufficient
//! statistics the store keeps.
//!
//! Each family's atoms carry exactly what that family releases, so the store holds
//! nothing the releases do not already imply: score atoms have sums and favourable
//! counts; only detail atoms have sums of squares and histograms. These types are for
//! the store alone — sums of squares appear in no public release type.

use rand::Rng;
use serde::{Deserialize, Serialize};

use safepulse_domain::{Dimension, NodeId};

use crate::hierarchy::Hierarchy;
use crate::hierarchy_rule::{FrontierWalk, Residual};
use crate::item_layout::ItemLayout;
use crate::ledger::{AtomId, DeterminedNode, FamilyLedger, LedgerAtom, LedgerRelease};
use crate::policy::Family;
use crate::tally::{Tally, TallyTable, enps_detractors, top_two_boxes};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomStatistics {
    pub atom: AtomId,
    pub family: Family,
    /// The released node whose residual this atom is.
    pub node: NodeId,
    pub respondents: u32,
    /// One per item, in the order of [`crate::RoundInput::items`] (positional: an
    /// atom's statistics are stored with their round, which holds the item list).
    pub items: Vec<AtomItemStatistics>,
    /// In the order of [`Dimension::ALL`], for the dimensions the round asks about.
    pub dimensions: Vec<AtomDimensionStatistics>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomItemStatistics {
    /// Sum of recoded answers.
    pub sum: u64,
    /// Recoded answers in the top two boxes.
    pub favourable: u32,
    /// Answers 0–6, for 0–10 items only (eNPS; promoters are the favourable count).
    pub enps_detractors: Option<u32>,
    /// Detail atoms only.
    pub detail: Option<AtomItemDetailStatistics>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomItemDetailStatistics {
    pub sum_of_squares: u64,
    /// Counts of recoded answers, from the scale's minimum up.
    pub histogram: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomDimensionStatistics {
    pub dimension: Dimension,
    /// Σ over respondents of their row sum (sum of recoded answers to the dimension's
    /// items); a respondent's score is the row sum divided by the item count.
    pub sum_of_row_sums: u64,
    /// Detail atoms only.
    pub sum_of_squared_row_sums: Option<u64>,
}

/// One family's released nodes and the atoms they cut the respondents into.
#[derive(Debug)]
pub(crate) struct FamilyPartition {
    pub(crate) family: Family,
    pub(crate) threshold: u32,
    pub(crate) released: Vec<bool>,
    /// The nearest released ancestor-or-self of each node: the owner of the atom that
    /// the node's own respondents fall in (`None`: covered by no release).
    pub(crate) atom_owner: Vec<Option<usize>>,
    /// Atom id of each released node whose residual is not empty-and-unread.
    pub(crate) atom_of_node: Vec<Option<AtomId>>,
    /// In snapshot order of their owners.
    owned_atoms: Vec<OwnedAtom>,
}

#[derive(Debug, Clone, Copy)]
struct OwnedAtom {
    owner: usize,
    id: AtomId,
    residual: Residual,
}

impl FamilyPartition {
    /// Draws one atom id per atom from `rng`, in snapshot order (a number of draws that
    /// depends only on the release decisions).
    pub(crate) fn new(
        family: Family,
        threshold: u32,
        hierarchy: &Hierarchy,
        released: Vec<bool>,
        subtree_respondents: &[u32],
        rng: &mut impl Rng,
    ) -> FamilyPartition {
        let mut atom_owner = vec![None; hierarchy.len()];
        for node in hierarchy.parents_first() {
            atom_owner[node] = if released[node] {
                Some(node)
            } else {
                hierarchy.parent[node].and_then(|parent| atom_owner[parent])
            };
        }
        let mut atom_of_node = vec![None; hierarchy.len()];
        let mut owned_atoms = Vec::new();
        let mut walk = FrontierWalk::default();
        for node in (0..hierarchy.len()).filter(|&node| released[node]) {
            let node_residual = walk.residual(hierarchy, subtree_respondents, &released, node);
            if node_residual.respondents > 0 || node_residual.viewers > 0 {
                let id = AtomId::random(rng);
                atom_of_node[node] = Some(id);
                owned_atoms.push(OwnedAtom {
                    owner: node,
                    id,
                    residual: node_residual,
                });
            }
        }
        FamilyPartition {
            family,
            threshold,
            released,
            atom_owner,
            atom_of_node,
            owned_atoms,
        }
    }

    /// Every release with the atoms of its subtree: its own residual and those of all
    /// released descendants; and the nodes the family's exact releases determine.
    pub(crate) fn ledger(
        &self,
        hierarchy: &Hierarchy,
        determined: Vec<DeterminedNode>,
    ) -> FamilyLedger {
        let mut atoms_by_release: Vec<Vec<AtomId>> = vec![Vec::new(); hierarchy.len()];
        for atom in &self.owned_atoms {
            let mut covering_release = Some(atom.owner);
            while let Some(release) = covering_release {
                atoms_by_release[release].push(atom.id);
                covering_release =
                    hierarchy.parent[release].and_then(|parent| self.atom_owner[parent]);
            }
        }
        FamilyLedger {
            family: self.family,
            threshold: self.threshold,
            atoms: self
                .owned_atoms
                .iter()
                .map(|atom| LedgerAtom {
                    id: atom.id,
                    people: atom.residual.respondents,
                    viewers_at_most: atom.residual.viewers,
                })
                .collect(),
            releases: (0..hierarchy.len())
                .filter(|&node| self.released[node])
                .map(|node| LedgerRelease {
                    node: hierarchy.ids[node],
                    atoms: std::mem::take(&mut atoms_by_release[node]),
                })
                .collect(),
            determined,
        }
    }

    /// The atom holding a node's own respondents, if any release covers them.
    pub(crate) fn atom_containing(&self, node: usize) -> Option<(usize, AtomId)> {
        let owner = self.atom_owner[node]?;
        Some((owner, self.atom_of_node[owner]?))
    }

    /// Sums the nodes' own tallies into their atoms.
    pub(crate) fn atom_statistics(
        &self,
        hierarchy: &Hierarchy,
        layout: &ItemLayout,
        own_tallies: &TallyTable,
    ) -> Vec<AtomStatistics> {
        let mut atom_position_of_owner = vec![None; hierarchy.len()];
        for (position, atom) in self.owned_atoms.iter().enumerate() {
            atom_position_of_owner[atom.owner] = Some(position);
        }
        let mut atom_tallies = TallyTable::new(layout, self.owned_atoms.len());
        for node in 0..hierarchy.len() {
            if let Some(position) =
                self.atom_owner[node].and_then(|owner| atom_position_of_owner[owner])
            {
                atom_tallies.add(position, own_tallies.group(node));
            }
        }
        self.owned_atoms
            .iter()
            .enumerate()
            .map(|(position, atom)| {
                self.statistics_of(
                    atom_tallies.group(position),
                    layout,
                    atom.id,
                    hierarchy.ids[atom.owner],
                )
            })
            .collect()
    }

    fn statistics_of(
        &self,
        tally: Tally<'_>,
        layout: &ItemLayout,
        atom: AtomId,
        node: NodeId,
    ) -> AtomStatistics {
        let with_detail = self.family == Family::Detail;
        let items = layout
            .items
            .iter()
            .enumerate()
            .map(|(position, meta)| {
                let histogram = tally.item_histogram(layout, position);
                let moments = tally.item_moments(layout, position);
                AtomItemStatistics {
                    sum: moments.sum,
                    favourable: top_two_boxes(histogram),
                    enps_detractors: meta
                        .scale
                        .is_zero_to_ten()
                        .then(|| enps_detractors(histogram)),
                    detail: with_detail.then(|| AtomItemDetailStatistics {
                        sum_of_squares: moments.sum_of_squares,
                        histogram: histogram.to_vec(),
                    }),
                }
            })
            .collect();
        let dimensions = layout
            .dimensions
            .iter()
            .enumerate()
            .map(|(position, dimension)| {
                let moments = tally.dimension_moments(layout, position);
                AtomDimensionStatistics {
                    dimension: dimension.dimension,
                    sum_of_row_sums: moments.sum,
                    sum_of_squared_row_sums: with_detail.then_some(moments.sum_of_squares),
                }
            })
            .collect();
        AtomStatistics {
            atom,
            family: self.family,
            node,
            respondents: tally.respondents,
            items,
            dimensions,
        }
    }
}
