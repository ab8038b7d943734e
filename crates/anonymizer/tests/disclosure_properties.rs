//! Property tests of the disclosure guarantee over random hierarchies, against an
//! independent brute-force oracle that knows every person (which the anonymizer
//! never does): who answered, where, and which nodes each person may read.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safepulse_anonymizer::{
    Comment, History, Policy, Release, Response, RoundInput, RoundRelease, RoundStatus,
    SnapshotNode, release_round,
};
use safepulse_domain::{Answer, Dimension, ItemId, ItemMeta, NodeId, Scale};
use uuid::Uuid;

/// A person invited to the round. They may view `views_from` and every node above it
/// (viewing is upward closed on their own chain, DESIGN §3); the oracle also lets
/// everybody read every release *off* their chain (sub-teams a manager leads, other
/// departments for hr): the worst case for what they can combine.
#[derive(Debug, Clone)]
struct Person {
    node: usize,
    responds: bool,
    views_from: Option<usize>,
}

#[derive(Debug, Clone)]
struct Organisation {
    ids: Vec<NodeId>,
    parent: Vec<Option<usize>>,
    people: Vec<Person>,
    policy: Policy,
    answer_seed: u64,
    /// The snapshot lists nodes rotated by this much, so no code may rely on parents
    /// coming first.
    snapshot_rotation: usize,
}

impl Organisation {
    fn node_count(&self) -> usize {
        self.ids.len()
    }

    /// Bit `a` is set for every ancestor-or-self `a` of `node`.
    fn ancestors_or_self(&self, node: usize) -> u64 {
        let mut mask = 0;
        let mut current = Some(node);
        while let Some(ancestor) = current {
            mask |= 1 << ancestor;
            current = self.parent[ancestor];
        }
        mask
    }

    fn all_nodes(&self) -> u64 {
        (1u64 << self.node_count()) - 1
    }

    fn viewers(&self, node: usize) -> u32 {
        self.people
            .iter()
            .filter(|person| {
                person
                    .views_from
                    .is_some_and(|from| self.ancestors_or_self(from) & (1 << node) != 0)
            })
            .count() as u32
    }

    fn items() -> Vec<ItemMeta> {
        let item = |id: &str, dimension, reverse_keyed, scale| ItemMeta {
            id: ItemId(id.into()),
            dimension,
            reverse_keyed,
            scale,
        };
        vec![
            item(
                "ps-1",
                Dimension::PsychologicalSafety,
                false,
                Scale::AGREE_7,
            ),
            item("ps-2", Dimension::PsychologicalSafety, true, Scale::AGREE_7),
            item("trust-1", Dimension::Trust, false, Scale::AGREE_7),
            item("enps", Dimension::Recommendation, false, Scale::ZERO_TO_TEN),
        ]
    }

    fn input_with_answers(&self, answer_seed: u64) -> RoundInput {
        let items = Organisation::items();
        let mut answer_rng = StdRng::seed_from_u64(answer_seed);
        let mut responses = Vec::new();
        let mut comments = Vec::new();
        for (index, person) in self
            .people
            .iter()
            .filter(|person| person.responds)
            .enumerate()
        {
            let answers = items
                .iter()
                .map(|item| {
                    let value = answer_rng.random_range(item.scale.min()..=item.scale.max());
                    Answer::parse(i64::from(value), item.scale).unwrap()
                })
                .collect();
            responses.push(Response {
                node: self.ids[person.node],
                answers,
            });
            if index % 3 == 0 {
                comments.push(Comment {
                    node: self.ids[person.node],
                    text: format!("comment {index}"),
                });
            }
        }
        let mut nodes: Vec<SnapshotNode> = (0..self.node_count())
            .map(|node| SnapshotNode {
                id: self.ids[node],
                parent: self.parent[node].map(|parent| self.ids[parent]),
                viewers: self.viewers(node),
            })
            .collect();
        nodes.rotate_left(self.snapshot_rotation % self.node_count());
        RoundInput {
            nodes,
            items,
            responses,
            comments,
            status: RoundStatus::Closed,
            history: History::default(),
        }
    }

    fn input(&self) -> RoundInput {
        self.input_with_answers(self.answer_seed)
    }

    /// Node position of each response, in response order.
    fn respondent_nodes(&self) -> Vec<usize> {
        self.people
            .iter()
            .filter(|person| person.responds)
            .map(|person| person.node)
            .collect()
    }

    fn respondents_in_subtree(&self, node: usize) -> u32 {
        self.people
            .iter()
            .filter(|person| {
                person.responds && self.ancestors_or_self(person.node) & (1 << node) != 0
            })
            .count() as u32
    }

    /// The oracle. For every reader (every person: what they may view on their chain,
    /// plus everything off it), the groups their readable releases can isolate are the
    /// classes of respondents with the same covering readable releases. In each such
    /// non-empty group, count the respondents who could not read all of those releases
    /// themselves — the ones a coalition of readers cannot subtract. Every group must
    /// keep at least `threshold` of them. Returns the first violation found.
    fn isolated_group(&self, released: &[bool], threshold: u32) -> Option<String> {
        let released_mask: u64 = (0..self.node_count())
            .filter(|&node| released[node])
            .map(|node| 1 << node)
            .sum();
        let readable: Vec<u64> = self
            .people
            .iter()
            .map(|person| {
                let on_chain = person
                    .views_from
                    .map_or(0, |from| self.ancestors_or_self(from));
                let off_chain = self.all_nodes() & !self.ancestors_or_self(person.node);
                released_mask & (on_chain | off_chain)
            })
            .collect();
        let mut reader_masks = readable.clone();
        reader_masks.sort_unstable();
        reader_masks.dedup();
        for &reader_mask in &reader_masks {
            // signature -> (respondents, respondents outside the readers' coalition)
            let mut groups: HashMap<u64, (u32, u32)> = HashMap::new();
            for (person, person_readable) in self.people.iter().zip(&readable) {
                if !person.responds {
                    continue;
                }
                let signature = reader_mask & released_mask & self.ancestors_or_self(person.node);
                if signature == 0 {
                    continue;
                }
                let group = groups.entry(signature).or_default();
                group.0 += 1;
                if person_readable & reader_mask != reader_mask {
                    group.1 += 1;
                }
            }
            for (signature, (respondents, outside_coalition)) in groups {
                if outside_coalition < threshold {
                    return Some(format!(
                        "readers of {reader_mask:#b} isolate signature {signature:#b}: {respondents} respondents, \
                         {outside_coalition} outside the coalition, threshold {threshold}"
                    ));
                }
            }
        }
        None
    }
}

fn organisation() -> impl Strategy<Value = Organisation> {
    let node = (
        any::<u32>(),
        0usize..=15,
        0usize..=3,
        prop::collection::vec((0u8..100, any::<u8>()), 18),
        any::<u128>(),
    );
    (
        1usize..=30,
        4u32..=7,
        0u32..=3,
        any::<u64>(),
        any::<usize>(),
    )
        .prop_flat_map(
            move |(node_count, k, k_detail_above_floor, answer_seed, rotation)| {
                (
                    prop::collection::vec(node.clone(), node_count),
                    Just(k),
                    Just(k_detail_above_floor),
                    Just(answer_seed),
                    Just(rotation),
                )
            },
        )
        .prop_map(
            |(nodes, k, k_detail_above_floor, answer_seed, snapshot_rotation)| {
                let mut parent = Vec::new();
                for (position, &(parent_pick, ..)) in nodes.iter().enumerate() {
                    parent.push(match position {
                        0 => None,
                        // Half bushy, half chain-like: deep hierarchies with long frontiers.
                        _ if parent_pick % 2 == 0 => Some((parent_pick / 2) as usize % position),
                        _ => Some(position - 1),
                    });
                }
                let ids = nodes
                    .iter()
                    .enumerate()
                    .map(|(position, &(.., random_id))| {
                        NodeId(Uuid::from_u128(random_id << 8 | position as u128))
                    })
                    .collect();
                let mut people = Vec::new();
                for (position, (_, respondents, non_respondents, viewer_picks, _)) in
                    nodes.iter().enumerate()
                {
                    let mut chain = vec![position];
                    while let Some(up) = parent[*chain.last().unwrap()] {
                        chain.push(up);
                    }
                    for (index, &(viewer_roll, chain_pick)) in viewer_picks
                        .iter()
                        .take(respondents + non_respondents)
                        .enumerate()
                    {
                        people.push(Person {
                            node: position,
                            responds: index < *respondents,
                            views_from: (viewer_roll < 15)
                                .then(|| chain[usize::from(chain_pick) % chain.len()]),
                        });
                    }
                }
                let policy = Policy::new(k, k.max(7) + k_detail_above_floor).unwrap();
                Organisation {
                    ids,
                    parent,
                    people,
                    policy,
                    answer_seed,
                    snapshot_rotation,
                }
            },
        )
}

/// Release status per organisation node position: (score-released, detail-released).
fn decisions(organisation: &Organisation, release: &RoundRelease) -> Vec<(bool, bool)> {
    let by_id: HashMap<NodeId, &Release> = release
        .releases
        .iter()
        .map(|node| (node.node, &node.release))
        .collect();
    organisation
        .ids
        .iter()
        .map(|id| match by_id[id] {
            Release::Released(figures) => (true, figures.detail),
            Release::Rounded(_) => (true, false),
            Release::Suppressed { .. } => (false, false),
        })
        .collect()
}

fn release(organisation: &Organisation, input: &RoundInput) -> RoundRelease {
    release_round(input, &organisation.policy, &mut StdRng::seed_from_u64(7))
        .expect("a valid round is released")
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_combination_of_releases_isolates_fewer_than_the_threshold(organisation in organisation()) {
        let input = organisation.input();
        let release = release(&organisation, &input);
        let decided = decisions(&organisation, &release);
        for (node, &(scores, detail)) in decided.iter().enumerate() {
            prop_assert!(scores || !detail, "detail-released but not released: {node}");
            let non_viewers = i64::from(organisation.respondents_in_subtree(node)) - i64::from(organisation.viewers(node));
            if scores {
                prop_assert!(non_viewers >= i64::from(organisation.policy.k()));
            }
            if detail {
                prop_assert!(non_viewers >= i64::from(organisation.policy.k_detail()));
            }
        }
        let score_released: Vec<bool> = decided.iter().map(|&(scores, _)| scores).collect();
        let detail_released: Vec<bool> = decided.iter().map(|&(_, detail)| detail).collect();
        prop_assert_eq!(organisation.isolated_group(&score_released, organisation.policy.k()), None);
        prop_assert_eq!(organisation.isolated_group(&detail_released, organisation.policy.k_detail()), None);
        prop_assert_eq!(release.ledger.scores.check_rule_a(), Ok(()));
        prop_assert_eq!(release.ledger.detail.check_rule_a(), Ok(()));
        prop_assert_eq!(release.org.is_some(), detail_released[0]);
    }

    #[test]
    fn every_output_is_unchanged_when_two_respondents_of_one_atom_swap_answers(
        organisation in organisation(),
        pick in any::<u64>(),
    ) {
        let input = organisation.input();
        let release = release(&organisation, &input);
        let score_released: Vec<bool> = decisions(&organisation, &release).iter().map(|&(scores, _)| scores).collect();
        // Score atoms are the finest: same score atom implies same detail atom.
        let atom_owner = |mut node: usize| loop {
            if score_released[node] {
                return Some(node);
            }
            node = organisation.parent[node]?;
        };
        let respondent_nodes = organisation.respondent_nodes();
        let mut members_by_atom: HashMap<usize, Vec<usize>> = HashMap::new();
        for (response, &node) in respondent_nodes.iter().enumerate() {
            if let Some(owner) = atom_owner(node) {
                members_by_atom.entry(owner).or_default().push(response);
            }
        }
        let mut atoms: Vec<Vec<usize>> = members_by_atom.into_values().filter(|members| members.len() >= 2).collect();
        prop_assume!(!atoms.is_empty());
        atoms.sort();
        let members = &atoms[(pick % atoms.len() as u64) as usize];
        let first = members[(pick >> 16) as usize % members.len()];
        // Prefer a partner from another node: the swap a team-level statistic would notice.
        let partner = members
            .iter()
            .copied()
            .find(|&other| respondent_nodes[other] != respondent_nodes[first])
            .unwrap_or_else(|| members[(members.iter().position(|&member| member == first).unwrap() + 1) % members.len()]);
        let mut swapped = input.clone();
        let first_answers = swapped.responses[first].answers.clone();
        swapped.responses[first].answers = swapped.responses[partner].answers.clone();
        swapped.responses[partner].answers = first_answers;
        prop_assert_eq!(release, self::release(&organisation, &swapped));
    }

    #[test]
    fn decisions_are_deterministic_and_depend_only_on_counts(
        organisation in organisation(),
        other_answer_seed in any::<u64>(),
    ) {
        let input = organisation.input();
        let first = release(&organisation, &input);
        prop_assert_eq!(&first, &release(&organisation, &input));
        let other = release(&organisation, &organisation.input_with_answers(other_answer_seed));
        prop_assert_eq!(decisions(&organisation, &first), decisions(&organisation, &other));
        // Same decisions and the same generator: the same atom ids, the same ledger.
        prop_assert_eq!(&first.ledger, &other.ledger);
        let first_comments: Vec<_> = first.comments.iter().map(|comment| comment.atom).collect();
        let other_comments: Vec<_> = other.comments.iter().map(|comment| comment.atom).collect();
        prop_assert_eq!(first_comments, other_comments);
    }

    #[test]
    fn published_figures_are_finite_and_suppressed_releases_carry_nothing(organisation in organisation()) {
        let release = release(&organisation, &organisation.input());
        // NaN or infinity would not survive a JSON round trip (serde_json writes null).
        let json = serde_json::to_string(&release).unwrap();
        prop_assert_eq!(&serde_json::from_str::<RoundRelease>(&json).unwrap(), &release);
        for node in &release.releases {
            let public_json = serde_json::to_string(node).unwrap();
            prop_assert!(!public_json.contains("square"));
            if let Release::Suppressed { .. } = node.release {
                prop_assert_eq!(
                    serde_json::to_value(&node.release).unwrap(),
                    serde_json::json!({"status": "suppressed", "reason": "hidden_to_protect_anonymity"})
                );
            }
        }
        prop_assert!(!serde_json::to_string(&release.org).unwrap().contains("square"));
        prop_assert!(!serde_json::to_string(&release.comments).unwrap().contains("square"));
    }
}

/// The oracle is not vacuous: releasing every node that merely passes `n − v ≥ k`
/// (no Rule B) is caught on random organisations.
#[test]
fn the_oracle_catches_releases_made_without_rule_b() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut caught = 0;
    for _ in 0..200 {
        let organisation = organisation().new_tree(&mut runner).unwrap().current();
        let k = organisation.policy.k();
        let naive: Vec<bool> = (0..organisation.node_count())
            .map(|node| organisation.respondents_in_subtree(node) >= organisation.viewers(node) + k)
            .collect();
        if organisation.isolated_group(&naive, k).is_some() {
            caught += 1;
        }
    }
    assert!(
        caught >= 20,
        "the oracle flagged only {caught} of 200 naive releases"
    );
}

/// The oracle also catches the case the letter of DESIGN §3 lets through (an empty
/// residual with viewers), which the anonymizer closes: a leader answers in the
/// Leadership node and reads the root and the team, so root − team = Leadership.
#[test]
fn the_oracle_catches_a_leader_subtracting_the_other_top_team_from_the_root() {
    let team_members = (0..10).map(|_| Person {
        node: 1,
        responds: true,
        views_from: None,
    });
    let leader = Person {
        node: 2,
        responds: true,
        views_from: Some(0),
    };
    let other_leaders = (0..4).map(|_| Person {
        node: 2,
        responds: true,
        views_from: None,
    });
    let organisation = Organisation {
        ids: (1..=3).map(|id| NodeId(Uuid::from_u128(id))).collect(),
        parent: vec![None, Some(0), Some(0)],
        people: team_members
            .chain(std::iter::once(leader))
            .chain(other_leaders)
            .collect(),
        policy: Policy::new(5, 10).unwrap(),
        answer_seed: 1,
        snapshot_rotation: 0,
    };
    assert_eq!(organisation.viewers(0), 1);
    assert_eq!(organisation.viewers(2), 0);
    assert!(
        organisation
            .isolated_group(&[true, true, true], 5)
            .is_some()
    );
    let release = release(&organisation, &organisation.input());
    let decided = decisions(&organisation, &release);
    assert_eq!(decided, [(true, true), (false, false), (false, false)]);
    assert_eq!(organisation.isolated_group(&[true, false, false], 5), None);
}
