//! Releasing a closed round: the one function the round-close code calls.

use rand::Rng;
use serde::{Deserialize, Serialize};

use safepulse_domain::NodeId;

use crate::atoms::{AtomStatistics, FamilyPartition};
use crate::comments::{ReleasedComment, release_comments};
use crate::error::AnonymizerError;
use crate::figures::{ReleasedFigures, SpreadForBands, released_figures};
use crate::hierarchy::Hierarchy;
use crate::hierarchy_rule::released_nodes;
use crate::item_layout::ItemLayout;
use crate::ledger::Ledger;
use crate::org_figures::{OrgFigures, org_figures};
use crate::policy::{Family, Policy};
use crate::round_input::{RoundInput, RoundStatus};
use crate::statistics::ConfidenceQuantiles;
use crate::tally::{TallyScratch, TallyTable};

/// Everything a closed round yields. `releases`, `org` and `comments` are public;
/// `ledger` and `atoms` are for the store (Rule A and later computations) only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRelease {
    /// One per snapshot node, in snapshot order.
    pub releases: Vec<NodeRelease>,
    /// Only when the root is detail-released.
    pub org: Option<OrgFigures>,
    pub ledger: Ledger,
    /// Score atoms, then detail atoms. Store-only: the only place sums of squares live.
    pub atoms: Vec<AtomStatistics>,
    pub comments: Vec<ReleasedComment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRelease {
    pub node: NodeId,
    pub release: Release,
}

/// A too-small group is a normal outcome, not an error. A suppressed release carries
/// no statistic at all — not even n — and one public reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Release {
    Suppressed { reason: SuppressionReason },
    Released(ReleasedFigures),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    /// Shown to viewers as "hidden to protect anonymity", whatever the rule that fired:
    /// naming the rule would say how close to the threshold the group is.
    HiddenToProtectAnonymity,
}

/// Releases a closed round under `policy` (Rule C: an open round is refused). Call it
/// once, at close: the store freezes the result, and a release is never recomputed.
/// `rng` draws the atom ids and shuffles the comments; the release decisions depend
/// only on counts, never on answers or `rng`.
pub fn release_round(
    input: &RoundInput,
    policy: &Policy,
    rng: &mut impl Rng,
) -> Result<RoundRelease, AnonymizerError> {
    if input.status != RoundStatus::Closed {
        return Err(AnonymizerError::RoundStillOpen);
    }
    let hierarchy = Hierarchy::from_snapshot(&input.nodes)?;
    let layout = ItemLayout::from_items(&input.items)?;
    if u32::try_from(input.responses.len()).is_err() {
        return Err(AnonymizerError::TooManyResponses);
    }

    let mut own_tallies = TallyTable::new(&layout, hierarchy.len());
    let mut scratch = TallyScratch::default();
    for response in &input.responses {
        let node = hierarchy.position_of(response.node).ok_or(
            AnonymizerError::ResponseForUnknownNode {
                node: response.node,
            },
        )?;
        own_tallies.add_response(node, &layout, &response.answers, &mut scratch)?;
    }
    let comment_nodes = input
        .comments
        .iter()
        .map(|comment| {
            hierarchy
                .position_of(comment.node)
                .ok_or(AnonymizerError::CommentForUnknownNode { node: comment.node })
        })
        .collect::<Result<Vec<usize>, _>>()?;

    let mut subtree_tallies = own_tallies.clone();
    for &node in &hierarchy.children_first {
        if let Some(parent) = hierarchy.parent[node] {
            subtree_tallies.add_within(parent, node);
        }
    }
    let subtree_respondents = subtree_tallies.respondents().to_vec();

    let score_released = released_nodes(&hierarchy, &subtree_respondents, policy.k(), |_| true);
    let detail_released = released_nodes(
        &hierarchy,
        &subtree_respondents,
        policy.k_detail(),
        |node| score_released[node],
    );
    let scores = FamilyPartition::new(
        Family::Scores,
        policy.k(),
        &hierarchy,
        score_released,
        &subtree_respondents,
        rng,
    );
    let detail = FamilyPartition::new(
        Family::Detail,
        policy.k_detail(),
        &hierarchy,
        detail_released,
        &subtree_respondents,
        rng,
    );

    let ledger = Ledger {
        scores: scores.ledger(&hierarchy),
        detail: detail.ledger(&hierarchy),
    };
    for family_ledger in [&ledger.scores, &ledger.detail] {
        family_ledger
            .check_rule_a()
            .map_err(|violation| AnonymizerError::RuleA {
                family: family_ledger.family,
                violation,
            })?;
    }

    let detail_atoms = detail.atom_statistics(&hierarchy, &layout, &own_tallies);
    let org = if detail.released[hierarchy.root] {
        org_figures(&layout, &detail_atoms)
    } else {
        None
    };
    let mut atoms = scores.atom_statistics(&hierarchy, &layout, &own_tallies);
    atoms.extend(detail_atoms);

    let mut quantiles = ConfidenceQuantiles::default();
    let releases = (0..hierarchy.len())
        .map(|node| {
            let spread = match (&org, detail.released[node]) {
                (_, true) => SpreadForBands::Team,
                (Some(org), false) => SpreadForBands::OrgLevel(org),
                (None, false) => SpreadForBands::NoBand,
            };
            let figures = if scores.released[node] {
                released_figures(subtree_tallies.group(node), &layout, spread, &mut quantiles)
            } else {
                None
            };
            NodeRelease {
                node: hierarchy.ids[node],
                release: match figures {
                    Some(figures) => Release::Released(figures),
                    None => Release::Suppressed {
                        reason: SuppressionReason::HiddenToProtectAnonymity,
                    },
                },
            }
        })
        .collect();

    let comments = release_comments(
        &hierarchy,
        &detail,
        comment_nodes
            .into_iter()
            .zip(input.comments.iter().map(|comment| comment.text.as_str())),
        rng,
    );

    Ok(RoundRelease {
        releases,
        org,
        ledger,
        atoms,
        comments,
    })
}
