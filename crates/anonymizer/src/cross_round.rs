//! Rule D (DESIGN §3 "Across rounds"): which of a round's releases could be set
//! against earlier rounds' releases of the same people, decided at close from counts
//! and membership only.
//!
//! Rule B makes every combination of *one* round's releases safe. A reader who keeps
//! the reports of several rounds can also set a release of one round against a
//! release of another: if the others answered as before (the attacker's best case),
//! `n₁·mean₁ − n₂·mean₂` is the answer of whoever joined, left or skipped. A node's
//! figures can be known without the node being released, too: a suppressed parent
//! whose released children hold all its respondents is their sum, and a suppressed
//! child whose parent's residual is exactly that child is the parent minus its other
//! released descendants. Such a node is *determined* by the round's exact releases
//! ([`Determined`]); the ledger records every determined node with its respondent
//! count. Rule D sets this round's determined nodes against each node's
//! *reference*, its latest earlier determination (the figures a reader would set a
//! new release against; a restricted round leaves the reference where it was, so
//! skipping a round does not help):
//!
//! - **membership**: a node's invited people changed by 1 to `k − 1` (plus its
//!   viewers) since its reference: the new figures would let a reader who knows the
//!   org chart recover the changed people's answers;
//! - **the same node**: its respondent count differs from its reference by at most
//!   the *allowance*, which is 1 for scores (more leaves the sum of a small group,
//!   an honest limit, docs/privacy.md) and `k_detail − 1` for detail
//!   (distributions, spreads and comments would give the differing people away),
//!   each plus the node's viewers;
//! - **nested nodes**: a node's count minus some of its nearest determined
//!   descendants of the other side (a parent released last round, a child released
//!   now), or its change minus theirs (the people directly in a team changed while
//!   its sub-teams did not), comes within the allowance of zero.
//!
//! Releases older than a node's reference are not compared: a reader who sets a
//! release against one two or more determinations back, and knows who answered in
//! both, can still single someone out (docs/privacy.md measures how often).
//!
//! Each check compares counts: a combination of releases can only isolate `g`
//! people if its respondent counts add up to `±g`, so counts that never do so are
//! safe, whoever answered.
//!
//! A failing node loses exactness: if it is released, its own release is restricted;
//! if it is only determined, the release that pins it (its smallest frontier node,
//! or its ancestor's smallest other frontier node) is. In the score family a
//! membership change takes the survey's [`RestrictedRelease`] (suppressed by
//! default: the changed people are known to anyone who knows the org chart), and a
//! comparison of counts is rounded (exploiting it takes knowing who answered in
//! which round; rounding protects with the least loss). A detail release is withheld. That
//! can change what is determined, so the check repeats until nothing fails. It only
//! ever takes releases away, which keeps Rule B's residuals valid.
//!
//! [`RestrictedRelease`]: crate::RestrictedRelease

use std::collections::HashSet;

use safepulse_domain::NodeId;

use crate::error::AnonymizerError;
use crate::hierarchy::Hierarchy;
use crate::hierarchy_rule::FrontierWalk;
use crate::ledger::DeterminedNode;
use crate::policy::{Family, Policy};
use crate::round_input::{EarlierRound, History};

/// How one family's exact releases pin a node's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Determined {
    /// The node itself is released exactly.
    Released,
    /// Suppressed, but its released descendants hold every one of its respondents.
    ByFrontier,
    /// Suppressed, but the residual of its nearest released ancestor (the position
    /// given) is exactly its own uncovered respondents.
    ByAncestor(usize),
}

/// Which nodes `exact` determines (`None`: not determined, or no respondents).
pub(crate) fn determined_nodes(
    hierarchy: &Hierarchy,
    respondents: &[u32],
    exact: &[bool],
) -> Vec<Option<Determined>> {
    let count = hierarchy.len();
    // Respondents of each node's frontier (its maximal exact strict descendants).
    let mut covered = vec![0u32; count];
    for &node in &hierarchy.children_first {
        if let Some(parent) = hierarchy.parent[node] {
            covered[parent] += if exact[node] {
                respondents[node]
            } else {
                covered[node]
            };
        }
    }
    let uncovered = |node: usize| respondents[node] - covered[node];
    let mut owner: Vec<Option<usize>> = vec![None; count];
    for node in hierarchy.parents_first() {
        owner[node] = hierarchy.parent[node].and_then(|parent| {
            if exact[parent] {
                Some(parent)
            } else {
                owner[parent]
            }
        });
    }
    (0..count)
        .map(|node| {
            if exact[node] {
                Some(Determined::Released)
            } else if respondents[node] == 0 {
                None
            } else if uncovered(node) == 0 {
                Some(Determined::ByFrontier)
            } else {
                owner[node]
                    .filter(|&ancestor| uncovered(ancestor) == uncovered(node))
                    .map(Determined::ByAncestor)
            }
        })
        .collect()
}

/// Why Rule D restricts a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cause {
    /// A comparison of counts: a reader would need to know who answered in which
    /// round to single someone out.
    Counts,
    /// The invited people changed: a reader who knows the org chart knows who.
    Membership,
}

/// A node this round determines that could be set against an earlier round, why,
/// and the nodes whose state the finding rests on.
#[derive(Debug)]
struct Failure {
    node: usize,
    cause: Cause,
    involved: Vec<usize>,
}

/// Buffers of the nested checks, kept between passes and rounds.
#[derive(Debug, Default)]
struct NestedScratch {
    nearest: Vec<Option<usize>>,
    /// `grouped[start[node]..start[node + 1]]`: the nodes whose nearest determined
    /// ancestor is `node`.
    start: Vec<usize>,
    grouped: Vec<usize>,
    values: Vec<i64>,
}

/// The history by snapshot position: per family, each node's respondents in the
/// latest earlier round that determined it (its *reference*); per node, the
/// membership change since its score reference.
#[derive(Debug)]
pub(crate) struct Past {
    scores: Vec<Option<u32>>,
    detail: Vec<Option<u32>>,
    membership_change: Vec<u32>,
}

impl Past {
    pub(crate) fn new(hierarchy: &Hierarchy, history: &History) -> Result<Past, AnonymizerError> {
        let count = hierarchy.len();
        // Nodes an earlier round determined that are not in this snapshot cannot be
        // released now; only the nodes both rounds share can be set against each other.
        let by_position = |determined: &[DeterminedNode]| {
            let mut respondents = vec![None; count];
            for entry in determined {
                if let Some(node) = hierarchy.position_of(entry.node) {
                    respondents[node] = Some(entry.respondents);
                }
            }
            respondents
        };
        let mut membership_change = vec![0; count];
        let mut seen: HashSet<NodeId> = HashSet::with_capacity(history.membership_changes.len());
        for change in &history.membership_changes {
            let node = hierarchy
                .position_of(change.node)
                .ok_or(AnonymizerError::HistoryForUnknownNode { node: change.node })?;
            if !seen.insert(change.node) {
                return Err(AnonymizerError::DuplicateHistory { node: change.node });
            }
            membership_change[node] = change.people;
        }
        // Rounds come oldest first: a later determination replaces an earlier one.
        let latest = |family: fn(&EarlierRound) -> &[DeterminedNode]| {
            let mut latest: Vec<Option<u32>> = vec![None; count];
            for round in &history.earlier_rounds {
                for (slot, now) in latest.iter_mut().zip(by_position(family(round))) {
                    if now.is_some() {
                        *slot = now;
                    }
                }
            }
            latest
        };
        Ok(Past {
            scores: latest(|round| &round.scores),
            detail: latest(|round| &round.detail),
            membership_change,
        })
    }

    fn references(&self, family: Family) -> &[Option<u32>] {
        match family {
            Family::Scores => &self.scores,
            Family::Detail => &self.detail,
        }
    }
}

/// Rule D for one round: the node counts, viewers and history it decides from.
#[derive(Debug)]
pub(crate) struct RuleD<'a> {
    pub(crate) hierarchy: &'a Hierarchy,
    pub(crate) respondents: &'a [u32],
    pub(crate) past: &'a Past,
    pub(crate) policy: &'a Policy,
}

impl RuleD<'_> {
    /// The nodes whose `family` release must be restricted, and why, given the
    /// nodes Rule B released in it. A release taken away to break up a node pinned
    /// through it carries that node's cause.
    pub(crate) fn restrictions(&self, family: Family, released: &[bool]) -> Vec<Option<Cause>> {
        let count = self.hierarchy.len();
        let mut exact = released.to_vec();
        let mut restricted: Vec<Option<Cause>> = vec![None; count];
        let mut walk = FrontierWalk::default();
        let mut failures: Vec<Failure> = Vec::new();
        let mut scratch = NestedScratch::default();
        loop {
            let determined = determined_nodes(self.hierarchy, self.respondents, &exact);
            failures.clear();
            self.alone_failures(family, &determined, &mut failures);
            self.nested_failures(
                family,
                self.past.references(family),
                &determined,
                &mut scratch,
                &mut failures,
            );
            // Each failure takes away the release that pins its node. Failures are
            // mended smallest release first; one whose nodes a release taken away in
            // this pass lies under waits for the next pass, which sees the new state
            // (so that two failures with one cure do not take two releases).
            let mut planned: Vec<(usize, &Failure)> = failures
                .iter()
                .map(|failure| {
                    let victim = match determined[failure.node] {
                        Some(Determined::ByFrontier) => self
                            .smallest_frontier_node(&mut walk, &exact, failure.node, None)
                            .unwrap_or(failure.node),
                        Some(Determined::ByAncestor(ancestor)) => self
                            .smallest_frontier_node(&mut walk, &exact, ancestor, Some(failure.node))
                            .unwrap_or(ancestor),
                        Some(Determined::Released) | None => failure.node,
                    };
                    (victim, failure)
                })
                .collect();
            // Membership first among equal victims: the stronger cause wins.
            planned.sort_by_key(|(victim, failure)| {
                (
                    self.respondents[*victim],
                    self.hierarchy.ids[*victim],
                    std::cmp::Reverse(failure.cause),
                )
            });
            let mut changed_below = vec![false; count];
            let mut taken = 0;
            for (victim, failure) in planned {
                if changed_below[victim] || failure.involved.iter().any(|&node| changed_below[node])
                {
                    continue;
                }
                exact[victim] = false;
                restricted[victim] = Some(failure.cause);
                taken += 1;
                let mut current = Some(victim);
                while let Some(node) = current {
                    if changed_below[node] {
                        break;
                    }
                    changed_below[node] = true;
                    current = self.hierarchy.parent[node];
                }
            }
            if taken == 0 {
                return restricted;
            }
        }
    }

    /// The failures of nodes determined in this round checked alone (membership
    /// and same-node checks), with the release that pins each.
    fn alone_failures(
        &self,
        family: Family,
        determined: &[Option<Determined>],
        failures: &mut Vec<Failure>,
    ) {
        for (node, how) in determined.iter().enumerate() {
            let Some(how) = *how else {
                continue;
            };
            if let Some(cause) = self.fails_alone(family, node) {
                failures.push(Failure {
                    node,
                    cause,
                    involved: match how {
                        Determined::ByAncestor(ancestor) => vec![node, ancestor],
                        Determined::Released | Determined::ByFrontier => vec![node],
                    },
                });
            }
        }
    }

    fn allowance(&self, family: Family, viewers: u32) -> u64 {
        let base = match family {
            Family::Scores => 1,
            Family::Detail => self.policy.k_detail() - 1,
        };
        u64::from(base) + u64::from(viewers)
    }

    /// The membership and same-node checks of a node determined in this round.
    fn fails_alone(&self, family: Family, node: usize) -> Option<Cause> {
        let respondents = self.respondents[node];
        let viewers = self.hierarchy.viewers[node];
        let allowance = self.allowance(family, viewers);
        let count_changed = self.past.references(family)[node].is_some_and(|before| {
            (1..=allowance).contains(&u64::from(respondents.abs_diff(before)))
        });
        let change = u64::from(self.past.membership_change[node]);
        let membership_changed =
            (1..=u64::from(self.policy.k() - 1) + u64::from(viewers)).contains(&change);
        if membership_changed {
            Some(Cause::Membership)
        } else {
            count_changed.then_some(Cause::Counts)
        }
    }

    /// The nested checks against the references (`earlier`: each node's latest
    /// determination, so possibly from different rounds, each of them a release a
    /// reader holds). Every node determined now or earlier is set against its
    /// nearest such descendants (its *children* here):
    ///
    /// - one round's count of the node minus its children of that round and any
    ///   choice of its children determined in the other round only (a parent released
    ///   last round, a child released now);
    /// - the node's change between the rounds minus its children's changes and any
    ///   choice of the counts of children determined in one round only (the people
    ///   directly in a team skipping, while its sub-teams did not).
    ///
    /// Neither may come within the allowance of zero. A combination that leaves `g`
    /// people adds up to `g`, so this is a check on counts alone. Only choices that
    /// could leave a one-signed set are tried: a child determined in both rounds
    /// passed the same-node check, so leaving it in would add more than the allowance.
    fn nested_failures(
        &self,
        family: Family,
        earlier: &[Option<u32>],
        determined: &[Option<Determined>],
        scratch: &mut NestedScratch,
        failures: &mut Vec<Failure>,
    ) {
        let hierarchy = self.hierarchy;
        let now = |node: usize| determined[node].map(|_| i64::from(self.respondents[node]));
        let before = |node: usize| earlier[node].map(i64::from);
        let in_either = |node: usize| before(node).is_some() || now(node).is_some();
        group_under_nearest(hierarchy, in_either, scratch);
        let NestedScratch {
            start,
            grouped,
            values,
            ..
        } = scratch;
        for node in 0..hierarchy.len() {
            let children = &grouped[start[node]..start[node + 1]];
            if children.is_empty() {
                continue;
            }
            let allowance = self.allowance(family, hierarchy.viewers[node]);
            let involved = || {
                std::iter::once(node)
                    .chain(children.iter().copied())
                    .collect()
            };
            // One round's count, less that round's children, less a choice of the
            // other round's children that this round did not determine.
            let structure_fails =
                structure_changed(node, children, (&now, &before), allowance, values);
            // The change, less the children's changes, less a choice of children
            // determined in one round only (counted as zero in the other).
            if let (Some(first), Some(second)) = (before(node), now(node)) {
                let mut change = second - first;
                values.clear();
                for &child in children {
                    match (before(child), now(child)) {
                        (Some(first), Some(second)) => change -= second - first,
                        (first, second) => values.push(second.unwrap_or(0) - first.unwrap_or(0)),
                    }
                }
                // The people directly in the node changed: its own figures go.
                if choice_leaves_few(values, change, allowance, false) {
                    failures.push(Failure {
                        node,
                        cause: Cause::Counts,
                        involved: involved(),
                    });
                }
            }
            // The structure changed between the rounds: the smallest release of this
            // round in the combination goes.
            if structure_fails {
                let involved: Vec<usize> = involved();
                if let Some(smallest) = involved
                    .iter()
                    .copied()
                    .filter(|&member| now(member).is_some())
                    .min_by_key(|&member| (self.respondents[member], hierarchy.ids[member]))
                {
                    failures.push(Failure {
                        node: smallest,
                        cause: Cause::Counts,
                        involved,
                    });
                }
            }
        }
    }

    /// The frontier node of `node` with the smallest (n, id), leaving out those inside
    /// `outside_of`'s subtree.
    fn smallest_frontier_node(
        &self,
        walk: &mut FrontierWalk,
        exact: &[bool],
        node: usize,
        outside_of: Option<usize>,
    ) -> Option<usize> {
        let mut smallest: Option<usize> = None;
        walk.for_each_frontier_node(self.hierarchy, exact, node, |frontier_node| {
            if outside_of.is_some_and(|inner| self.is_within(frontier_node, inner)) {
                return;
            }
            let key = |position: usize| (self.respondents[position], self.hierarchy.ids[position]);
            if smallest.is_none_or(|current| key(frontier_node) < key(current)) {
                smallest = Some(frontier_node);
            }
        });
        smallest
    }

    /// Whether `node` is `ancestor` or below it.
    fn is_within(&self, node: usize, ancestor: usize) -> bool {
        let mut current = Some(node);
        while let Some(position) = current {
            if position == ancestor {
                return true;
            }
            current = self.hierarchy.parent[position];
        }
        false
    }
}

/// Each node's nearest strict ancestor for which `in_either` holds, and the nodes
/// grouped under it, into `scratch` (flat, one allocation per pass).
fn group_under_nearest(
    hierarchy: &Hierarchy,
    in_either: impl Fn(usize) -> bool,
    scratch: &mut NestedScratch,
) {
    let NestedScratch {
        nearest,
        start,
        grouped,
        ..
    } = scratch;
    nearest.clear();
    nearest.resize(hierarchy.len(), None);
    for node in hierarchy.parents_first() {
        nearest[node] = hierarchy.parent[node].and_then(|parent| {
            if in_either(parent) {
                Some(parent)
            } else {
                nearest[parent]
            }
        });
    }
    start.clear();
    start.resize(hierarchy.len() + 1, 0);
    for node in (0..hierarchy.len()).filter(|&node| in_either(node)) {
        if let Some(ancestor) = nearest[node] {
            start[ancestor + 1] += 1;
        }
    }
    for position in 0..hierarchy.len() {
        start[position + 1] += start[position];
    }
    grouped.clear();
    grouped.resize(start[hierarchy.len()], 0);
    let mut next = start.clone();
    for node in (0..hierarchy.len()).filter(|&node| in_either(node)) {
        if let Some(ancestor) = nearest[node] {
            grouped[next[ancestor]] = node;
            next[ancestor] += 1;
        }
    }
}

/// A node's count in one round, `None` when that round did not determine it.
type CountIn<'a> = &'a dyn Fn(usize) -> Option<i64>;

/// Whether one round's count of `node`, less that round's `children`, less any
/// choice of the other round's children that this round did not determine, comes
/// within `allowance` of zero (`now` and `before`: a node's count in each round).
fn structure_changed(
    node: usize,
    children: &[usize],
    (now, before): (CountIn<'_>, CountIn<'_>),
    allowance: u64,
    values: &mut Vec<i64>,
) -> bool {
    let mut structure_fails = false;
    for node_is_now in [false, true] {
        let (count_of, other_of) = if node_is_now {
            (now, before)
        } else {
            (before, now)
        };
        let Some(count) = count_of(node) else {
            continue;
        };
        let same: i64 = children.iter().filter_map(|&child| count_of(child)).sum();
        values.clear();
        values.extend(
            children
                .iter()
                .filter(|&&child| count_of(child).is_none())
                .filter_map(|&child| other_of(child)),
        );
        structure_fails |= choice_leaves_few(values, count - same, allowance, true);
    }
    structure_fails
}

/// Whether `total` less the sum of some choice of `values` lies within `allowance`
/// of zero without being zero; with `nonempty`, the empty choice does not count.
fn choice_leaves_few(values: &[i64], total: i64, allowance: u64, nonempty: bool) -> bool {
    let allowance = i64::try_from(allowance).unwrap_or(i64::MAX);
    let near = |sum: i64| (1..=allowance).contains(&(total - sum).abs());
    if values.is_empty() {
        return !nonempty && near(0);
    }
    let lowest: i64 = values.iter().filter(|&&value| value < 0).sum();
    let highest: i64 = values.iter().filter(|&&value| value > 0).sum();
    let width = (highest - lowest + 1) as usize;
    // reachable[i]: some non-empty choice sums to i + lowest.
    let mut reachable = vec![false; width];
    let mut before = vec![false; width];
    for &value in values {
        before.clone_from(&reachable);
        for (index, was) in before.iter().enumerate() {
            if *was {
                reachable[(index as i64 + value) as usize] = true;
            }
        }
        reachable[(value - lowest) as usize] = true;
    }
    (!nonempty && near(0))
        || reachable
            .iter()
            .enumerate()
            .any(|(index, &is)| is && near(index as i64 + lowest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round_input::{EarlierRound, MembershipChange, SnapshotNode};
    use uuid::Uuid;

    fn id(number: u128) -> NodeId {
        NodeId(Uuid::from_u128(number))
    }

    /// `(id, parent, viewers)`; node positions follow the slice.
    fn hierarchy(nodes: &[(u128, Option<u128>, u32)]) -> Hierarchy {
        let nodes: Vec<SnapshotNode> = nodes
            .iter()
            .map(|&(number, parent, viewers)| SnapshotNode {
                id: id(number),
                parent: parent.map(id),
                viewers,
            })
            .collect();
        Hierarchy::from_snapshot(&nodes).unwrap()
    }

    fn determined(entries: &[(u128, u32)]) -> Vec<DeterminedNode> {
        entries
            .iter()
            .map(|&(number, respondents)| DeterminedNode {
                node: id(number),
                respondents,
            })
            .collect()
    }

    /// `(node, respondents)` of the nodes one family determined.
    type Counts<'a> = &'a [(u128, u32)];

    /// One earlier round per entry: (scores determined, detail determined).
    fn history(rounds: &[(Counts, Counts)], changes: Counts) -> History {
        History {
            earlier_rounds: rounds
                .iter()
                .map(|(scores, detail)| EarlierRound {
                    scores: determined(scores),
                    detail: determined(detail),
                })
                .collect(),
            membership_changes: changes
                .iter()
                .map(|&(number, people)| MembershipChange {
                    node: id(number),
                    people,
                })
                .collect(),
        }
    }

    fn causes(
        tree: &Hierarchy,
        respondents: &[u32],
        history: &History,
        family: Family,
        released: &[bool],
    ) -> Vec<Option<Cause>> {
        let policy = Policy::default();
        let past = Past::new(tree, history).unwrap();
        RuleD {
            hierarchy: tree,
            respondents,
            past: &past,
            policy: &policy,
        }
        .restrictions(family, released)
    }

    fn restrictions(
        tree: &Hierarchy,
        respondents: &[u32],
        history: &History,
        family: Family,
        released: &[bool],
    ) -> Vec<bool> {
        causes(tree, respondents, history, family, released)
            .iter()
            .map(Option::is_some)
            .collect()
    }

    #[test]
    fn a_parent_is_determined_by_children_that_hold_all_its_respondents() {
        // Root 12 = A 6 + B 6, nobody directly at the root; C (0) is empty.
        let tree = hierarchy(&[
            (1, None, 0),
            (2, Some(1), 0),
            (3, Some(1), 0),
            (4, Some(1), 0),
        ]);
        let determined = determined_nodes(&tree, &[12, 6, 6, 0], &[false, true, true, false]);
        assert_eq!(
            determined,
            [
                Some(Determined::ByFrontier),
                Some(Determined::Released),
                Some(Determined::Released),
                None
            ]
        );
    }

    #[test]
    fn a_child_is_determined_when_its_parent_residual_is_exactly_that_child() {
        // Root 14 = A 8 (released) + B 6 (suppressed), nobody directly at the root.
        let tree = hierarchy(&[(1, None, 0), (2, Some(1), 0), (3, Some(1), 0)]);
        assert_eq!(
            determined_nodes(&tree, &[14, 8, 6], &[true, true, false]),
            [
                Some(Determined::Released),
                Some(Determined::Released),
                Some(Determined::ByAncestor(0))
            ]
        );
        // One person directly at the root: B is no longer pinned.
        assert_eq!(
            determined_nodes(&tree, &[15, 8, 6], &[true, true, false])[2],
            None
        );
    }

    #[test]
    fn each_kind_of_change_restricts_a_released_node() {
        let tree = hierarchy(&[(1, None, 0)]);
        let decide = |respondents: u32, history: History, family| {
            restrictions(&tree, &[respondents], &history, family, &[true])[0]
        };
        // One fewer respondent than an earlier exact release: one person's answers.
        let earlier = history(&[(&[(1, 14)], &[]), (&[(1, 12)], &[])], &[]);
        assert!(decide(11, earlier, Family::Scores));
        // Two fewer: a small group's sum, the documented limit.
        assert!(!decide(
            10,
            history(&[(&[(1, 12)], &[])], &[]),
            Family::Scores
        ));
        // Detail: any difference of 1 to k_detail − 1.
        assert!(decide(
            19,
            history(&[(&[], &[(1, 12)])], &[]),
            Family::Detail
        ));
        assert!(!decide(
            22,
            history(&[(&[], &[(1, 12)])], &[]),
            Family::Detail
        ));
        assert!(!decide(
            12,
            history(&[(&[], &[(1, 12)])], &[]),
            Family::Detail
        ));
        // Membership: 1 to k − 1 people joined, left or were erased.
        let one_round = [(&[(1, 12)][..], &[][..])];
        assert!(decide(12, history(&one_round, &[(1, 4)]), Family::Scores));
        assert!(!decide(12, history(&one_round, &[(1, 5)]), Family::Scores));
        assert!(decide(12, history(&one_round, &[(1, 1)]), Family::Detail));
    }

    #[test]
    fn a_membership_change_outranks_a_change_of_counts() {
        let tree = hierarchy(&[(1, None, 0)]);
        let one_round = [(&[(1, 12)][..], &[][..])];
        assert_eq!(
            causes(
                &tree,
                &[11],
                &history(&one_round, &[(1, 1)]),
                Family::Scores,
                &[true]
            ),
            [Some(Cause::Membership)]
        );
        assert_eq!(
            causes(
                &tree,
                &[11],
                &history(&one_round, &[]),
                Family::Scores,
                &[true]
            ),
            [Some(Cause::Counts)]
        );
    }

    #[test]
    fn viewers_widen_the_allowance() {
        let tree = hierarchy(&[(1, None, 1)]);
        // Two fewer respondents, one of whom may read the node: one other person.
        let fewer = history(&[(&[(1, 12)], &[])], &[]);
        assert_eq!(
            restrictions(&tree, &[10], &fewer, Family::Scores, &[true]),
            [true]
        );
        // Five people changed, one of whom reads the node: four others.
        let changed = history(&[(&[(1, 12)], &[])], &[(1, 5)]);
        assert_eq!(
            restrictions(&tree, &[12], &changed, Family::Scores, &[true]),
            [true]
        );
    }

    #[test]
    fn a_determined_parent_is_broken_up_through_its_smallest_frontier_node() {
        // Root (suppressed) = A 6 + B 7; the root's own respondents went from 14 to
        // 13 (someone directly at the root stopped answering), so A or B must go.
        let tree = hierarchy(&[(1, None, 0), (2, Some(1), 0), (3, Some(1), 0)]);
        let earlier = history(&[(&[(1, 14)], &[])], &[]);
        assert_eq!(
            restrictions(
                &tree,
                &[13, 6, 7],
                &earlier,
                Family::Scores,
                &[false, true, true]
            ),
            [false, true, false]
        );
    }

    #[test]
    fn a_child_pinned_by_its_ancestor_is_broken_up_through_a_sibling() {
        // Root 15 (released) = A 9 (released) + B 6 (suppressed, pinned as root − A).
        // Last round A had 8 and B 7: one person moved from B to A. Both A and B
        // differ by one, and A must go; the root may stay.
        let tree = hierarchy(&[(1, None, 0), (2, Some(1), 0), (3, Some(1), 0)]);
        let earlier = history(&[(&[(1, 15), (2, 8), (3, 7)], &[])], &[]);
        assert_eq!(
            restrictions(
                &tree,
                &[15, 9, 6],
                &earlier,
                Family::Scores,
                &[true, true, false]
            ),
            [false, true, false]
        );
    }

    #[test]
    fn a_child_released_after_its_parent_must_not_leave_a_small_difference() {
        // Detail (k_detail 10): the root (12) was detail-released alone last round;
        // now only the child (8) could be. Root − child would be the distribution of
        // the four people directly at the root.
        let tree = hierarchy(&[(1, None, 0), (2, Some(1), 0)]);
        let earlier = history(&[(&[(1, 12)], &[(1, 12)])], &[]);
        assert_eq!(
            restrictions(&tree, &[13, 8], &earlier, Family::Detail, &[false, true]),
            [false, true]
        );
        // Twelve people directly at the root last round: the difference is large.
        let earlier = history(&[(&[(1, 20)], &[(1, 20)])], &[]);
        assert_eq!(
            restrictions(&tree, &[21, 8], &earlier, Family::Detail, &[false, true]),
            [false, false]
        );
    }

    #[test]
    fn the_same_structure_as_last_round_passes() {
        let tree = hierarchy(&[(1, None, 0), (2, Some(1), 0), (3, Some(1), 0)]);
        // Rule B's residual of the root is 17, above both thresholds.
        let earlier = history(
            &[(&[(1, 40), (2, 12), (3, 11)], &[(1, 40), (2, 12), (3, 11)])],
            &[],
        );
        for family in [Family::Scores, Family::Detail] {
            assert_eq!(
                restrictions(&tree, &[40, 12, 11], &earlier, family, &[true, true, true]),
                [false, false, false]
            );
        }
    }

    #[test]
    fn a_choice_of_counts_is_found_when_it_leaves_a_few() {
        // 12 less a choice of 8 and 3: 12, 4, 9, 1.
        assert!(choice_leaves_few(&[8, 3], 12, 1, false));
        // 12 less a choice of 8 and 2: 12, 4, 10, 2 — none is 1.
        assert!(!choice_leaves_few(&[8, 2], 12, 1, false));
        // Negative values count too: 3 less a choice of −2: 3, 5.
        assert!(!choice_leaves_few(&[-2], 3, 1, false));
        assert!(choice_leaves_few(&[-2], -1, 1, false));
        // The empty choice: only without `nonempty`.
        assert!(choice_leaves_few(&[], 1, 1, false));
        assert!(!choice_leaves_few(&[], 1, 1, true));
        assert!(!choice_leaves_few(&[20], 1, 1, true));
        assert!(!choice_leaves_few(&[], 0, 9, false), "no change at all");
    }

    #[test]
    fn history_for_a_node_outside_the_snapshot_is_a_typed_error() {
        let tree = hierarchy(&[(1, None, 0)]);
        assert_eq!(
            Past::new(&tree, &history(&[], &[(9, 1)])).unwrap_err(),
            AnonymizerError::HistoryForUnknownNode { node: id(9) }
        );
        assert_eq!(
            Past::new(&tree, &history(&[], &[(1, 1), (1, 2)])).unwrap_err(),
            AnonymizerError::DuplicateHistory { node: id(1) }
        );
        // An earlier round's node that is gone from the snapshot is simply left out.
        assert!(Past::new(&tree, &history(&[(&[(9, 5)], &[])], &[])).is_ok());
    }
}
