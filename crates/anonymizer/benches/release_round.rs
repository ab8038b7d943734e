//! Releasing one round of 50,000 responses × 8 items over 5,000 teams in a 10-level
//! hierarchy, next to the raw ceiling: one pass that only sums the same answers per
//! team; and the same round set against a previous round of the same teams (Rule D).
//! Run with `cargo bench -p safepulse-anonymizer`; figures go in BENCHMARKS.md.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safepulse_anonymizer::{
    Comment, EarlierRound, History, MembershipChange, Policy, Response, RoundInput, RoundStatus,
    SnapshotNode, release_round,
};
use safepulse_domain::{Answer, Dimension, ItemId, ItemMeta, NodeId, Scale};
use uuid::Uuid;

const RESPONSES: usize = 50_000;
/// Nodes per level, root first: 5,000 teams in 10 levels.
const LEVEL_SIZES: [usize; 10] = [1, 3, 9, 27, 60, 150, 350, 700, 1_400, 2_300];

fn items() -> Vec<ItemMeta> {
    let item = |id: &str, dimension, reverse_keyed| ItemMeta {
        id: ItemId(id.into()),
        dimension,
        reverse_keyed,
        scale: Scale::AGREE_7,
    };
    vec![
        item("ps-1", Dimension::PsychologicalSafety, false),
        item("ps-2", Dimension::PsychologicalSafety, true),
        item("trust-1", Dimension::Trust, false),
        item("trust-2", Dimension::Trust, false),
        item("feedback-1", Dimension::Feedback, false),
        item("feedback-2", Dimension::Feedback, true),
        item("clarity-1", Dimension::Clarity, false),
        item("wellbeing-1", Dimension::Wellbeing, false),
    ]
}

fn round() -> RoundInput {
    round_answered(2026, 2026)
}

/// The same hierarchy (from `shape_seed`), answered with `answer_seed`.
fn round_answered(shape_seed: u64, answer_seed: u64) -> RoundInput {
    let mut rng = StdRng::seed_from_u64(shape_seed);
    let mut nodes: Vec<SnapshotNode> = Vec::new();
    let mut previous_level: Vec<usize> = Vec::new();
    for size in LEVEL_SIZES {
        let level_start = nodes.len();
        for _ in 0..size {
            let parent = (!previous_level.is_empty())
                .then(|| nodes[previous_level[rng.random_range(0..previous_level.len())]].id);
            nodes.push(SnapshotNode {
                id: NodeId(Uuid::from_u128(rng.random())),
                parent,
                viewers: 0,
            });
        }
        previous_level = (level_start..nodes.len()).collect();
    }
    // About one team in ten holds an hr person, who views every node above them;
    // the root is also read by three leaders answering below it.
    let positions: HashMap<NodeId, usize> = nodes
        .iter()
        .enumerate()
        .map(|(index, node)| (node.id, index))
        .collect();
    for team in 0..nodes.len() {
        if rng.random_bool(0.1) {
            let mut current = Some(team);
            while let Some(index) = current {
                nodes[index].viewers += 1;
                current = nodes[index].parent.map(|parent| positions[&parent]);
            }
        }
    }
    nodes[0].viewers += 3;

    let mut rng = StdRng::seed_from_u64(answer_seed);
    let items = items();
    let responses = (0..RESPONSES)
        .map(|_| Response {
            node: nodes[rng.random_range(0..nodes.len())].id,
            answers: items
                .iter()
                .map(|item| {
                    Answer::parse(rng.random_range(1..=7), item.scale).expect("inside the scale")
                })
                .collect(),
        })
        .collect();
    let comments = (0..5_000)
        .map(|index| Comment {
            node: nodes[rng.random_range(0..nodes.len())].id,
            text: format!("comment {index}"),
        })
        .collect();
    RoundInput {
        nodes,
        items,
        responses,
        comments,
        status: RoundStatus::Closed,
        history: History::default(),
    }
}

/// The round again, answered anew, with the history a previous round of the same
/// teams leaves: its determined nodes, and one node in twenty whose invitees changed.
fn round_after_previous() -> RoundInput {
    let previous = round_answered(2026, 7);
    let released = release_round(&previous, &Policy::default(), &mut StdRng::seed_from_u64(1))
        .expect("a valid round");
    let mut input = round();
    let mut rng = StdRng::seed_from_u64(11);
    let mut membership_changes = Vec::new();
    for node in &input.nodes {
        if rng.random_bool(0.05) {
            membership_changes.push(MembershipChange {
                node: node.id,
                people: rng.random_range(1..=12),
            });
        }
    }
    input.history = History {
        earlier_rounds: vec![EarlierRound {
            scores: released.ledger.scores.determined,
            detail: released.ledger.detail.determined,
        }],
        membership_changes,
    };
    input
}

/// The ceiling: look each response's team up and add its answers to that team's sums.
fn raw_sums(input: &RoundInput, positions: &HashMap<NodeId, usize>) -> Vec<u64> {
    let item_count = input.items.len();
    let mut sums = vec![0u64; input.nodes.len() * item_count];
    for response in &input.responses {
        let start = positions[&response.node] * item_count;
        for (sum, answer) in sums[start..start + item_count]
            .iter_mut()
            .zip(&response.answers)
        {
            *sum += u64::from(answer.value());
        }
    }
    sums
}

fn closing_a_round(criterion: &mut Criterion) {
    let input = round();
    let policy = Policy::default();
    let mut group = criterion.benchmark_group("close_round_50k_responses_5k_teams");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(6))
        .warm_up_time(Duration::from_secs(2));
    group.bench_function("raw_sum_of_answers", |bencher| {
        bencher.iter(|| {
            let positions: HashMap<NodeId, usize> = input
                .nodes
                .iter()
                .enumerate()
                .map(|(index, node)| (node.id, index))
                .collect();
            black_box(raw_sums(black_box(&input), &positions))
        })
    });
    group.bench_function("release_round", |bencher| {
        bencher.iter(|| {
            let mut rng = StdRng::seed_from_u64(1);
            black_box(release_round(black_box(&input), &policy, &mut rng).expect("a valid round"))
        })
    });
    // The same, without freeing the ~200,000 small allocations of the returned release
    // (item ids, distributions, atom histograms) inside the timed loop: the close
    // transaction frees them after storing.
    group.bench_function("release_round_excluding_drop", |bencher| {
        bencher.iter_with_large_drop(|| {
            let mut rng = StdRng::seed_from_u64(1);
            release_round(black_box(&input), &policy, &mut rng).expect("a valid round")
        })
    });
    let after_previous = round_after_previous();
    group.bench_function("release_round_with_previous_round", |bencher| {
        bencher.iter(|| {
            let mut rng = StdRng::seed_from_u64(1);
            black_box(
                release_round(black_box(&after_previous), &policy, &mut rng)
                    .expect("a valid round"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, closing_a_round);
criterion_main!(benches);
