//! Rule A (DESIGN §3): the ledger of releases as sets of atoms, per family.
//!
//! An *atom* is a group of people that releases can isolate by combining each other
//! (within one round's tree: the residual of a released node). Any combination of
//! releases is a union of atoms, so if every non-empty atom holds at least the
//! family's threshold of people beyond its viewers, no combination of any number of
//! releases isolates fewer. The ledger is stored, and anything released later from
//! the same people (pooled periods, filters) is checked against it.
//!
//! Each family's ledger also records which nodes the round's exact releases
//! *determined* (released, or derivable from released nodes) and with how many
//! respondents: the counts Rule D compares later rounds against (`cross_round`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use safepulse_domain::NodeId;

use crate::policy::Family;

/// Random (v4) ids drawn from the caller's generator: an atom id says nothing about
/// the team it came from, so it can replace the team on retained raw rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AtomId(pub Uuid);

impl AtomId {
    pub(crate) fn random(rng: &mut impl rand::Rng) -> AtomId {
        AtomId(uuid::Builder::from_random_bytes(rng.random()).into_uuid())
    }
}

impl std::fmt::Display for AtomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub scores: FamilyLedger,
    pub detail: FamilyLedger,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyLedger {
    pub family: Family,
    pub threshold: u32,
    pub atoms: Vec<LedgerAtom>,
    pub releases: Vec<LedgerRelease>,
    /// Every node whose figures this family's exact releases determine, in snapshot
    /// order. Store-only, like the atoms: what later rounds are checked against.
    pub determined: Vec<DeterminedNode>,
}

/// A node whose figures a round's exact releases pin down, and its respondents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterminedNode {
    pub node: NodeId,
    pub respondents: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerAtom {
    pub id: AtomId,
    /// Distinct people in the atom. Within one round a person answers once, so these
    /// are respondents; an atom pooled over periods must count people, not responses.
    pub people: u32,
    /// An upper bound on the people in the atom who may read a release covering it
    /// (they can take their own answers out): `v_r` of Rule B.
    pub viewers_at_most: u32,
}

/// One release and every atom it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRelease {
    pub node: NodeId,
    pub atoms: Vec<AtomId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleAViolation {
    #[error(
        "atom {atom} holds {people} people of whom up to {viewers_at_most} are viewers, below {threshold}"
    )]
    AtomTooSmall {
        atom: AtomId,
        people: u32,
        viewers_at_most: u32,
        threshold: u32,
    },
    #[error("the release of node {node} names atom {atom}, which is not in the ledger")]
    UnknownAtom { node: NodeId, atom: AtomId },
    #[error("the release of node {node} covers no atom")]
    ReleaseCoversNobody { node: NodeId },
}

impl FamilyLedger {
    /// Rule A: every atom is empty and unread, or holds at least `threshold` people
    /// beyond its viewers; every release is made of known atoms.
    pub fn check_rule_a(&self) -> Result<(), RuleAViolation> {
        for atom in &self.atoms {
            let empty_and_unread = atom.people == 0 && atom.viewers_at_most == 0;
            let enough_people = u64::from(atom.people)
                >= u64::from(atom.viewers_at_most) + u64::from(self.threshold);
            if !(empty_and_unread || enough_people) {
                return Err(RuleAViolation::AtomTooSmall {
                    atom: atom.id,
                    people: atom.people,
                    viewers_at_most: atom.viewers_at_most,
                    threshold: self.threshold,
                });
            }
        }
        let known_atoms: std::collections::HashSet<AtomId> =
            self.atoms.iter().map(|atom| atom.id).collect();
        for release in &self.releases {
            if release.atoms.is_empty() {
                return Err(RuleAViolation::ReleaseCoversNobody { node: release.node });
            }
            if let Some(&unknown) = release
                .atoms
                .iter()
                .find(|atom| !known_atoms.contains(atom))
            {
                return Err(RuleAViolation::UnknownAtom {
                    node: release.node,
                    atom: unknown,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(number: u128, people: u32, viewers_at_most: u32) -> LedgerAtom {
        LedgerAtom {
            id: AtomId(Uuid::from_u128(number)),
            people,
            viewers_at_most,
        }
    }

    fn ledger(atoms: Vec<LedgerAtom>, releases: Vec<Vec<u128>>) -> FamilyLedger {
        FamilyLedger {
            family: Family::Scores,
            threshold: 5,
            atoms,
            releases: releases
                .into_iter()
                .enumerate()
                .map(|(node, atoms)| LedgerRelease {
                    node: NodeId(Uuid::from_u128(node as u128)),
                    atoms: atoms
                        .into_iter()
                        .map(|atom| AtomId(Uuid::from_u128(atom)))
                        .collect(),
                })
                .collect(),
            determined: Vec::new(),
        }
    }

    #[test]
    fn atoms_of_threshold_people_beyond_their_viewers_pass() {
        assert_eq!(
            ledger(
                vec![atom(1, 5, 0), atom(2, 8, 3)],
                vec![vec![1, 2], vec![2]]
            )
            .check_rule_a(),
            Ok(())
        );
    }

    #[test]
    fn each_way_of_breaking_rule_a_is_named() {
        assert_eq!(
            ledger(vec![atom(1, 7, 3)], vec![vec![1]]).check_rule_a(),
            Err(RuleAViolation::AtomTooSmall {
                atom: AtomId(Uuid::from_u128(1)),
                people: 7,
                viewers_at_most: 3,
                threshold: 5
            })
        );
        // An empty atom that viewers can read is not harmless (see hierarchy_rule).
        assert!(ledger(vec![atom(1, 0, 1)], vec![]).check_rule_a().is_err());
        assert_eq!(
            ledger(vec![atom(1, 9, 0)], vec![vec![]]).check_rule_a(),
            Err(RuleAViolation::ReleaseCoversNobody {
                node: NodeId(Uuid::from_u128(0))
            })
        );
        assert_eq!(
            ledger(vec![atom(1, 9, 0)], vec![vec![1, 4]]).check_rule_a(),
            Err(RuleAViolation::UnknownAtom {
                node: NodeId(Uuid::from_u128(0)),
                atom: AtomId(Uuid::from_u128(4))
            })
        );
    }
}
