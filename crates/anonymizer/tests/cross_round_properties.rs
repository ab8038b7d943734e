//! Rule D against the differencing attacker of issue 18, over random multi-round
//! histories: people join, leave, move between teams and skip rounds, and everybody
//! gives the same answers in every round (the attacker's best case). The test plays
//! the round-close code (it builds each round's history from the earlier rounds'
//! ledgers and from who was invited where) and the attacker: a brute-force oracle
//! that knows who answered in every release and looks for what adding and
//! subtracting the exact releases of any two rounds gives away.

#[path = "../../../tests/support/disclosure_oracle.rs"]
mod disclosure_oracle;

use std::collections::BTreeSet;

use disclosure_oracle::ReleaseSpan;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rand::SeedableRng;
use rand::rngs::StdRng;
use safepulse_anonymizer::{
    EarlierRound, History, MembershipChange, Policy, Release, Response, RestrictedRelease,
    RoundInput, RoundRelease, RoundStatus, SnapshotNode, release_round,
};
use safepulse_domain::{Answer, Dimension, ItemId, ItemMeta, NodeId, Scale};
use uuid::Uuid;

/// Where a person is in one round: invited in a node (or not at all), answering or not.
#[derive(Debug, Clone, Copy)]
struct Place {
    node: Option<usize>,
    responds: bool,
}

#[derive(Debug, Clone)]
struct Timeline {
    parent: Vec<Option<usize>>,
    ids: Vec<NodeId>,
    /// `places[round][person]`.
    places: Vec<Vec<Place>>,
    /// Every person's answers, the same in every round.
    answers: Vec<[u8; 3]>,
    policy: Policy,
}

/// What one round released, as the attacker sees it.
#[derive(Debug, Default)]
struct Observed {
    /// The respondents of every exact score release.
    scores: Vec<Vec<usize>>,
    /// The respondents of every detail release.
    detail: Vec<Vec<usize>>,
}

fn items() -> Vec<ItemMeta> {
    let item = |id: &str, dimension| ItemMeta {
        id: ItemId(id.into()),
        dimension,
        reverse_keyed: false,
        scale: Scale::AGREE_7,
    };
    vec![
        item("ps-1", Dimension::PsychologicalSafety),
        item("trust-1", Dimension::Trust),
        item("clarity-1", Dimension::Clarity),
    ]
}

impl Timeline {
    fn people(&self) -> usize {
        self.answers.len()
    }

    fn is_within(&self, node: usize, ancestor: usize) -> bool {
        let mut current = Some(node);
        while let Some(position) = current {
            if position == ancestor {
                return true;
            }
            current = self.parent[position];
        }
        false
    }

    /// People invited in `node`'s subtree in `round`.
    fn invited(&self, round: usize, node: usize) -> BTreeSet<usize> {
        (0..self.people())
            .filter(|&person| {
                self.places[round][person]
                    .node
                    .is_some_and(|at| self.is_within(at, node))
            })
            .collect()
    }

    fn respondents(&self, round: usize, node: usize) -> Vec<usize> {
        self.invited(round, node)
            .into_iter()
            .filter(|&person| self.places[round][person].responds)
            .collect()
    }

    /// Runs every round through the anonymizer, with the history the close code
    /// would hand it; `with_history: false` leaves Rule D nothing to decide from.
    fn release_all(&self, with_history: bool) -> Vec<(RoundRelease, Observed)> {
        let mut released: Vec<(RoundRelease, Observed)> = Vec::new();
        for round in 0..self.places.len() {
            let history = if with_history {
                self.history_for(round, &released)
            } else {
                History::default()
            };
            let input = RoundInput {
                nodes: (0..self.ids.len())
                    .map(|node| SnapshotNode {
                        id: self.ids[node],
                        parent: self.parent[node].map(|parent| self.ids[parent]),
                        viewers: 0,
                    })
                    .collect(),
                items: items(),
                responses: (0..self.people())
                    .filter_map(|person| {
                        let place = self.places[round][person];
                        let node = place.node.filter(|_| place.responds)?;
                        Some(Response {
                            node: self.ids[node],
                            answers: self.answers[person]
                                .iter()
                                .map(|&value| {
                                    Answer::parse(i64::from(value), Scale::AGREE_7).unwrap()
                                })
                                .collect(),
                        })
                    })
                    .collect(),
                comments: Vec::new(),
                status: RoundStatus::Closed,
                history,
            };
            let release = release_round(&input, &self.policy, &mut StdRng::seed_from_u64(5))
                .expect("a valid round is released");
            let mut observed = Observed::default();
            for (node, node_release) in release.releases.iter().enumerate() {
                if let Release::Released(figures) = &node_release.release {
                    let respondents = self.respondents(round, node);
                    assert_eq!(respondents.len() as u32, figures.respondents);
                    if figures.detail {
                        observed.detail.push(respondents.clone());
                    }
                    observed.scores.push(respondents);
                }
            }
            released.push((release, observed));
        }
        released
    }

    /// Each round's nodes: invited, who answered, and what was released.
    fn describe(&self, released: &[(RoundRelease, Observed)]) -> String {
        let mut lines = Vec::new();
        for (round, (release, _)) in released.iter().enumerate() {
            for (node, node_release) in release.releases.iter().enumerate() {
                let status = match &node_release.release {
                    Release::Released(figures) if figures.detail => "detail",
                    Release::Released(_) => "scores",
                    Release::Rounded(_) => "rounded",
                    Release::Suppressed { .. } => "suppressed",
                };
                lines.push(format!(
                    "round {round} node {node}: invited {:?}, answered {:?}, {status}",
                    self.invited(round, node),
                    self.respondents(round, node)
                ));
            }
        }
        lines.join("\n")
    }

    /// What the close code reads before releasing `round`: every earlier round's
    /// determined nodes, and who changed since the last round that determined each
    /// node's scores.
    fn history_for(&self, round: usize, earlier: &[(RoundRelease, Observed)]) -> History {
        let membership_changes = (0..self.ids.len())
            .filter_map(|node| {
                let last = (0..earlier.len()).rev().find(|&before| {
                    earlier[before]
                        .0
                        .ledger
                        .scores
                        .determined
                        .iter()
                        .any(|entry| entry.node == self.ids[node])
                })?;
                let people = self
                    .invited(round, node)
                    .symmetric_difference(&self.invited(last, node))
                    .count() as u32;
                (people > 0).then_some(MembershipChange {
                    node: self.ids[node],
                    people,
                })
            })
            .collect();
        History {
            earlier_rounds: earlier
                .iter()
                .map(|(release, _)| EarlierRound {
                    scores: release.ledger.scores.determined.clone(),
                    detail: release.ledger.detail.determined.clone(),
                })
                .collect(),
            membership_changes,
        }
    }
}

/// The oracle: every round's exact releases together with the latest earlier
/// release of every node (what a reader sets a new release against): the span may
/// give away no person's answers, and its detail part no group's distribution below
/// `k_detail`.
fn leak(timeline: &Timeline, released: &[(RoundRelease, Observed)]) -> Option<String> {
    for round in 0..released.len() {
        let mut scores = ReleaseSpan::new(timeline.people());
        let mut detail = ReleaseSpan::new(timeline.people());
        for respondents in &released[round].1.scores {
            scores.add(respondents);
        }
        for respondents in &released[round].1.detail {
            detail.add(respondents);
        }
        for node in 0..timeline.ids.len() {
            for (span, detail_family) in [(&mut scores, false), (&mut detail, true)] {
                let latest = (0..round).rev().find(|&before| {
                    let ledger = &released[before].0.ledger;
                    let family = if detail_family {
                        &ledger.detail
                    } else {
                        &ledger.scores
                    };
                    family
                        .determined
                        .iter()
                        .any(|entry| entry.node == timeline.ids[node])
                });
                if let Some(before) = latest {
                    span.add(&timeline.respondents(before, node));
                }
            }
        }
        if let Some(person) = scores.isolated_person() {
            return Some(format!("round {round}: person {person}'s answers"));
        }
        let threshold = timeline.policy.k_detail() as usize;
        if let Some(group) = detail.isolated_group_below(threshold) {
            return Some(format!("round {round}: the distribution of {group:?}"));
        }
    }
    None
}

/// The attacker without Rule D's limit: any two rounds, whatever lies between.
fn leak_between_any_two_rounds(timeline: &Timeline, released: &[(RoundRelease, Observed)]) -> bool {
    (0..released.len()).any(|first| {
        (first + 1..released.len()).any(|second| {
            let mut scores = ReleaseSpan::new(timeline.people());
            for round in [first, second] {
                for respondents in &released[round].1.scores {
                    scores.add(respondents);
                }
            }
            scores.isolated_person().is_some()
        })
    })
}

fn timeline() -> impl Strategy<Value = Timeline> {
    (
        1usize..=4,
        6usize..=14,
        2usize..=4,
        prop::collection::vec(any::<u8>(), 4),
        any::<(bool, bool, bool)>(),
        any::<u128>(),
    )
        .prop_flat_map(
            |(nodes, people, rounds, parent_picks, policy_picks, seed)| {
                (
                    Just((nodes, people, rounds, parent_picks, policy_picks, seed)),
                    prop::collection::vec(
                        (
                            any::<u8>(),
                            prop::collection::vec(any::<(u8, u8, u8)>(), rounds),
                            prop::array::uniform3(1u8..=7),
                        ),
                        people,
                    ),
                )
            },
        )
        .prop_map(
            |((nodes, _, rounds, parent_picks, (low_k, low_detail, rounded), seed), people)| {
                let parent: Vec<Option<usize>> = (0..nodes)
                    .map(|node| (node > 0).then(|| usize::from(parent_picks[node]) % node))
                    .collect();
                let ids = (0..nodes)
                    .map(|node| {
                        NodeId(Uuid::from_u128(
                            seed.rotate_left(node as u32 * 8) << 8 | node as u128,
                        ))
                    })
                    .collect();
                let mut places = vec![Vec::with_capacity(people.len()); rounds];
                for (start, rolls, _) in &people {
                    let mut node = Some(usize::from(*start) % nodes);
                    for (round, &(presence, moving, answering)) in rolls.iter().enumerate() {
                        if round > 0 {
                            if presence < 20 {
                                // Leaves, or comes back.
                                node = match node {
                                    Some(_) => None,
                                    None => Some(usize::from(moving) % nodes),
                                };
                            } else if moving < 25 && node.is_some() {
                                node = Some(usize::from(moving) % nodes);
                            }
                        }
                        places[round].push(Place {
                            node,
                            responds: answering >= 50,
                        });
                    }
                }
                let k = if low_k { 4 } else { 5 };
                let policy = Policy::new(k, if low_detail { 7 } else { 8 })
                    .unwrap()
                    .with_restricted(if rounded {
                        RestrictedRelease::Rounded
                    } else {
                        RestrictedRelease::Suppressed
                    });
                Timeline {
                    parent,
                    ids,
                    places,
                    answers: people.iter().map(|(_, _, answers)| *answers).collect(),
                    policy,
                }
            },
        )
}

fn config() -> ProptestConfig {
    // PROPTEST_CASES raises it for a longer search.
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: default.cases.max(512),
        ..default
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_round_with_the_previous_release_of_each_node_gives_away_a_person_or_a_small_distribution(timeline in timeline()) {
        let released = timeline.release_all(true);
        let found = leak(&timeline, &released);
        prop_assert!(found.is_none(), "{}\n{}", found.unwrap_or_default(), timeline.describe(&released));
    }

    #[test]
    fn rule_d_decides_from_counts_only(timeline in timeline(), other in prop::array::uniform3(1u8..=7)) {
        let mut changed = timeline.clone();
        for answers in &mut changed.answers {
            *answers = other;
        }
        let decisions = |released: &[(RoundRelease, Observed)]| -> Vec<Vec<String>> {
            released
                .iter()
                .map(|(release, _)| {
                    release
                        .releases
                        .iter()
                        .map(|node| match &node.release {
                            Release::Released(figures) => format!("released {}", figures.detail),
                            Release::Rounded(_) => "rounded".to_owned(),
                            Release::Suppressed { .. } => "suppressed".to_owned(),
                        })
                        .collect()
                })
                .collect()
        };
        prop_assert_eq!(
            decisions(&timeline.release_all(true)),
            decisions(&changed.release_all(true))
        );
    }
}

/// What Rule D leaves open (docs/privacy.md): a reader who sets a release against
/// one older than the node's latest earlier release, knowing who answered in both.
/// It happens, and far less often than without Rule D.
#[test]
fn releases_two_or_more_rounds_apart_can_still_be_differenced() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut with_rule_d, mut without) = (0, 0);
    let histories = 400;
    for _ in 0..histories {
        let timeline = timeline().new_tree(&mut runner).unwrap().current();
        if leak_between_any_two_rounds(&timeline, &timeline.release_all(true)) {
            with_rule_d += 1;
        }
        if leak_between_any_two_rounds(&timeline, &timeline.release_all(false)) {
            without += 1;
        }
    }
    eprintln!(
        "a person isolated by some pair of rounds: {with_rule_d} of {histories} histories with \
         Rule D, {without} without"
    );
    assert!(with_rule_d > 0, "the limit exists");
    assert!(with_rule_d * 3 < without, "{with_rule_d} vs {without}");
}

/// The oracle is not vacuous: without Rule D (no history), random histories leak.
#[test]
fn the_oracle_catches_histories_released_without_rule_d() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut caught = 0;
    for _ in 0..200 {
        let timeline = timeline().new_tree(&mut runner).unwrap().current();
        if leak(&timeline, &timeline.release_all(false)).is_some() {
            caught += 1;
        }
    }
    assert!(
        caught >= 20,
        "the oracle caught only {caught} of 200 histories"
    );
}

#[test]
fn a_rounded_release_carries_no_exact_count_but_n() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut rounded_seen = 0;
    for _ in 0..300 {
        let timeline = timeline().new_tree(&mut runner).unwrap().current();
        for (release, _) in timeline.release_all(true) {
            for node in &release.releases {
                if let Release::Rounded(figures) = &node.release {
                    rounded_seen += 1;
                    let json = serde_json::to_value(figures).unwrap();
                    let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
                    keys.sort();
                    assert_eq!(keys, ["dimensions", "respondents", "step"]);
                    for dimension in &figures.dimensions {
                        let steps = dimension.mean / figures.step;
                        assert_eq!(steps, steps.round(), "{figures:?}");
                    }
                }
            }
        }
    }
    assert!(rounded_seen > 0, "no rounded release in 300 histories");
}

#[test]
fn the_oracle_finds_the_textbook_cases() {
    let mut span = ReleaseSpan::new(6);
    span.add(&[0, 1, 2, 3, 4, 5]);
    assert_eq!(span.isolated_person(), None);
    span.add(&[0, 1, 2, 3, 4]);
    assert_eq!(span.isolated_person(), Some(5), "a leaver");

    let mut span = ReleaseSpan::new(12);
    span.add(&(0..12).collect::<Vec<_>>());
    span.add(&(0..10).collect::<Vec<_>>());
    assert_eq!(span.isolated_person(), None);
    assert_eq!(
        span.isolated_group_below(10),
        Some(vec![10, 11]),
        "two who skipped"
    );
    assert_eq!(span.isolated_group_below(2), None);

    // S, S+a+b, S+a+c, S+b+c: a = ((S+a+b) + (S+a+c) − (S+b+c) − S) / 2.
    let mut span = ReleaseSpan::new(8);
    span.add(&[0, 1, 2, 3, 4]);
    span.add(&[0, 1, 2, 3, 4, 5, 6]);
    span.add(&[0, 1, 2, 3, 4, 5, 7]);
    assert_eq!(span.isolated_person(), None);
    span.add(&[0, 1, 2, 3, 4, 6, 7]);
    assert_eq!(
        span.isolated_person(),
        Some(5),
        "a tracker over four releases"
    );
}
