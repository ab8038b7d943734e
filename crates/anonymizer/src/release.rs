//! Releasing a closed round: the one function the round-close code calls.

use rand::Rng;
use serde::{Deserialize, Serialize};

use safepulse_domain::NodeId;

use crate::atoms::{AtomStatistics, FamilyPartition};
use crate::comments::{ReleasedComment, release_comments};
use crate::cross_round::{Cause, Past, RuleD, determined_nodes};
use crate::error::AnonymizerError;
use crate::figures::{
    ReleasedFigures, RoundedFigures, SpreadForBands, released_figures, rounded_figures,
};
use crate::hierarchy::Hierarchy;
use crate::hierarchy_rule::released_nodes;
use crate::item_layout::ItemLayout;
use crate::ledger::{DeterminedNode, Ledger};
use crate::org_figures::{OrgFigures, org_figures};
use crate::policy::{Family, Policy, RestrictedRelease};
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
    Suppressed {
        reason: SuppressionReason,
    },
    Released(ReleasedFigures),
    /// Restricted by Rule D under [`RestrictedRelease::Rounded`]: coarse means only.
    /// It says nothing about which rule restricted it.
    Rounded(RoundedFigures),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    /// Shown to viewers as "hidden to protect anonymity", whatever the rule that fired
    /// (a small group, a changed team, a comparison with an earlier round): naming the
    /// rule would say how close to a threshold the group is, or who changed.
    HiddenToProtectAnonymity,
}

/// Releases a closed round under `policy` (Rule C: an open round is refused). Call it
/// once, at close: the store freezes the result, and a release is never recomputed.
/// `rng` draws the atom ids and shuffles the comments; the release decisions depend
/// only on counts and the counts in `input.history`, never on answers or `rng`.
///
/// Rule B chooses each family's released nodes; Rule D (`cross_round`) then takes
/// exactness away from releases that could be set against earlier rounds: a score
/// release of a changed team becomes suppressed or rounded (`policy.restricted()`),
/// one restricted by a comparison of counts is rounded, a detail release is
/// withheld. Detail runs over the exact score releases only.
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

    let (own_tallies, comment_nodes) = tally_answers(input, &hierarchy, &layout)?;
    let subtree_tallies = subtree_tallies(&hierarchy, &own_tallies);
    let subtree_respondents = subtree_tallies.respondents().to_vec();

    let past = Past::new(&hierarchy, &input.history)?;
    let rule_d = RuleD {
        hierarchy: &hierarchy,
        respondents: &subtree_respondents,
        past: &past,
        policy,
    };

    let Decisions {
        score_released,
        rounded,
        detail_released,
        scores_determined,
        detail_determined,
    } = decide(&hierarchy, &subtree_respondents, &rule_d, policy);

    let (scores, detail) = partitions(
        &hierarchy,
        policy,
        (score_released, detail_released),
        &subtree_respondents,
        rng,
    );

    let ledger = checked_ledger(
        &hierarchy,
        &scores,
        &detail,
        scores_determined,
        detail_determined,
    )?;

    let (atoms, org) = atoms_and_org(&hierarchy, &layout, &own_tallies, (&scores, &detail));

    let releases = node_releases(
        &hierarchy,
        &layout,
        &subtree_tallies,
        (&scores, &rounded),
        &detail,
        org.as_ref(),
    );

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

/// Both families' atoms, scores first: the random ids are drawn in that order.
fn partitions(
    hierarchy: &Hierarchy,
    policy: &Policy,
    (score_released, detail_released): (Vec<bool>, Vec<bool>),
    subtree_respondents: &[u32],
    rng: &mut impl Rng,
) -> (FamilyPartition, FamilyPartition) {
    let scores = FamilyPartition::new(
        Family::Scores,
        policy.k(),
        hierarchy,
        score_released,
        subtree_respondents,
        rng,
    );
    let detail = FamilyPartition::new(
        Family::Detail,
        policy.k_detail(),
        hierarchy,
        detail_released,
        subtree_respondents,
        rng,
    );
    (scores, detail)
}

/// Each node's tally of its whole subtree, from the nodes' own tallies.
fn subtree_tallies(hierarchy: &Hierarchy, own_tallies: &TallyTable) -> TallyTable {
    let mut subtree_tallies = own_tallies.clone();
    for &node in &hierarchy.children_first {
        if let Some(parent) = hierarchy.parent[node] {
            subtree_tallies.add_within(parent, node);
        }
    }
    subtree_tallies
}

/// The atom statistics of both families (scores, then detail), and the
/// organisation's figures when the root is detail-released.
fn atoms_and_org(
    hierarchy: &Hierarchy,
    layout: &ItemLayout,
    own_tallies: &TallyTable,
    (scores, detail): (&FamilyPartition, &FamilyPartition),
) -> (Vec<AtomStatistics>, Option<OrgFigures>) {
    let detail_atoms = detail.atom_statistics(hierarchy, layout, own_tallies);
    let org = if detail.released[hierarchy.root] {
        org_figures(layout, &detail_atoms)
    } else {
        None
    };
    let mut atoms = scores.atom_statistics(hierarchy, layout, own_tallies);
    atoms.extend(detail_atoms);
    (atoms, org)
}

/// Each response's answers counted in its node's own tally, and each comment's
/// node found. A response or comment for a node outside the snapshot is an error.
fn tally_answers(
    input: &RoundInput,
    hierarchy: &Hierarchy,
    layout: &ItemLayout,
) -> Result<(TallyTable, Vec<usize>), AnonymizerError> {
    let mut own_tallies = TallyTable::new(layout, hierarchy.len());
    let mut scratch = TallyScratch::default();
    for response in &input.responses {
        let node = hierarchy.position_of(response.node).ok_or(
            AnonymizerError::ResponseForUnknownNode {
                node: response.node,
            },
        )?;
        own_tallies.add_response(node, layout, &response.answers, &mut scratch)?;
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
    Ok((own_tallies, comment_nodes))
}

/// What Rules B and D decide, from counts only.
struct Decisions {
    /// Score releases, exact or rounded.
    score_released: Vec<bool>,
    /// Score releases rounded by Rule D.
    rounded: Vec<bool>,
    detail_released: Vec<bool>,
    scores_determined: Vec<DeterminedNode>,
    detail_determined: Vec<DeterminedNode>,
}

/// Rule B chooses each family's released nodes, Rule D takes exactness away, and
/// the nodes the exact releases determine are recorded for the ledger.
fn decide(
    hierarchy: &Hierarchy,
    subtree_respondents: &[u32],
    rule_d: &RuleD<'_>,
    policy: &Policy,
) -> Decisions {
    let mut score_released = released_nodes(hierarchy, subtree_respondents, policy.k(), |_| true);
    let restricted = rule_d.restrictions(Family::Scores, &score_released);
    let score_exact: Vec<bool> = (0..hierarchy.len())
        .map(|node| score_released[node] && restricted[node].is_none())
        .collect();
    // A changed team takes the survey's form; a comparison of counts, which only a
    // reader who knows who answered can exploit, is always rounded (the least loss).
    let mut rounded = vec![false; hierarchy.len()];
    for (node, cause) in restricted.iter().enumerate() {
        match (cause, policy.restricted()) {
            (None, _) => {}
            (Some(Cause::Counts), _) | (Some(Cause::Membership), RestrictedRelease::Rounded) => {
                rounded[node] = true;
            }
            // Taking releases away keeps every remaining residual at or above k.
            (Some(Cause::Membership), RestrictedRelease::Suppressed) => {
                score_released[node] = false;
            }
        }
    }
    let mut detail_released =
        released_nodes(hierarchy, subtree_respondents, policy.k_detail(), |node| {
            score_exact[node]
        });
    let withheld = rule_d.restrictions(Family::Detail, &detail_released);
    for (released, withheld) in detail_released.iter_mut().zip(withheld) {
        *released &= withheld.is_none();
    }
    let determined_by = |exact: &[bool]| -> Vec<DeterminedNode> {
        determined_nodes(hierarchy, subtree_respondents, exact)
            .iter()
            .enumerate()
            .filter(|(_, how)| how.is_some())
            .map(|(node, _)| DeterminedNode {
                node: hierarchy.ids[node],
                respondents: subtree_respondents[node],
            })
            .collect()
    };
    let scores_determined = determined_by(&score_exact);
    let detail_determined = determined_by(&detail_released);
    Decisions {
        score_released,
        rounded,
        detail_released,
        scores_determined,
        detail_determined,
    }
}

/// Both families' ledgers, refused when one breaks Rule A.
fn checked_ledger(
    hierarchy: &Hierarchy,
    scores: &FamilyPartition,
    detail: &FamilyPartition,
    scores_determined: Vec<DeterminedNode>,
    detail_determined: Vec<DeterminedNode>,
) -> Result<Ledger, AnonymizerError> {
    let ledger = Ledger {
        scores: scores.ledger(hierarchy, scores_determined),
        detail: detail.ledger(hierarchy, detail_determined),
    };
    for family_ledger in [&ledger.scores, &ledger.detail] {
        family_ledger
            .check_rule_a()
            .map_err(|violation| AnonymizerError::RuleA {
                family: family_ledger.family,
                violation,
            })?;
    }
    Ok(ledger)
}

/// One release per snapshot node: exact, rounded or suppressed, with bands from
/// the team's own spread, the organisation's, or none.
fn node_releases(
    hierarchy: &Hierarchy,
    layout: &ItemLayout,
    subtree_tallies: &TallyTable,
    (scores, rounded): (&FamilyPartition, &[bool]),
    detail: &FamilyPartition,
    org: Option<&OrgFigures>,
) -> Vec<NodeRelease> {
    let mut quantiles = ConfidenceQuantiles::default();
    (0..hierarchy.len())
        .map(|node| {
            let spread = match (org, detail.released[node]) {
                (_, true) => SpreadForBands::Team,
                (Some(org), false) => SpreadForBands::OrgLevel(org),
                (None, false) => SpreadForBands::NoBand,
            };
            let tally = subtree_tallies.group(node);
            let release = match (scores.released[node], rounded[node]) {
                (true, false) => {
                    released_figures(tally, layout, spread, &mut quantiles).map(Release::Released)
                }
                (true, true) => rounded_figures(tally, layout).map(Release::Rounded),
                (false, _) => None,
            };
            NodeRelease {
                node: hierarchy.ids[node],
                release: release.unwrap_or(Release::Suppressed {
                    reason: SuppressionReason::HiddenToProtectAnonymity,
                }),
            }
        })
        .collect()
}
