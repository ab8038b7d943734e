//! The named cases of issues 3 and 18, through the public API only.

use rand::SeedableRng;
use rand::rngs::StdRng;
use safepulse_anonymizer::{
    AnonymizerError, Comment, ConfidenceInterval, EarlierRound, History, MembershipChange, Policy,
    Release, ReleasedFigures, Response, RestrictedRelease, RoundInput, RoundRelease, RoundStatus,
    SnapshotNode, compare_rounds, minimum_detectable_change, release_round, trend,
};
use safepulse_domain::{Answer, Dimension, ItemId, ItemMeta, NodeId, Scale};
use uuid::Uuid;

fn node_id(number: u128) -> NodeId {
    NodeId(Uuid::from_u128(number))
}

fn node(number: u128, parent: Option<u128>, viewers: u32) -> SnapshotNode {
    SnapshotNode {
        id: node_id(number),
        parent: parent.map(node_id),
        viewers,
    }
}

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
    ]
}

fn answers(values: [u8; 3]) -> Vec<Answer> {
    values
        .iter()
        .map(|&value| Answer::parse(i64::from(value), Scale::AGREE_7).unwrap())
        .collect()
}

/// `count` respondents at `node` with varied answers.
fn respondents(node: u128, count: usize) -> Vec<Response> {
    (0..count)
        .map(|index| {
            let value = |offset: usize| 1 + ((index * 3 + offset * 2 + node as usize) % 7) as u8;
            Response {
                node: node_id(node),
                answers: answers([value(0), value(1), value(2)]),
            }
        })
        .collect()
}

fn round(nodes: Vec<SnapshotNode>, responses: Vec<Response>) -> RoundInput {
    RoundInput {
        nodes,
        items: items(),
        responses,
        comments: Vec::new(),
        status: RoundStatus::Closed,
        history: History::default(),
    }
}

fn release(input: &RoundInput, k: u32, k_detail: u32) -> RoundRelease {
    release_round(
        input,
        &Policy::new(k, k_detail).unwrap(),
        &mut StdRng::seed_from_u64(3),
    )
    .unwrap()
}

fn figures(release: &RoundRelease, number: u128) -> Option<&ReleasedFigures> {
    let node = release
        .releases
        .iter()
        .find(|node| node.node == node_id(number))
        .unwrap();
    match &node.release {
        Release::Released(figures) => Some(figures),
        Release::Rounded(_) | Release::Suppressed { .. } => None,
    }
}

/// `None`: suppressed; `Some(detail)`: released, with or without detail.
fn status(release: &RoundRelease, number: u128) -> Option<bool> {
    figures(release, number).map(|figures| figures.detail)
}

#[test]
fn a_parent_of_16_with_children_of_10_and_6_never_releases_the_six_person_distribution() {
    let input = round(
        vec![node(1, None, 0), node(2, Some(1), 0), node(3, Some(1), 0)],
        [respondents(2, 10), respondents(3, 6)].concat(),
    );
    let release = release(&input, 5, 10);
    // Scores: all three (atoms of 10 and 6). Detail: the parent's residual against the
    // 10-person child would be the 6-person child, so the 10-person child loses detail.
    assert_eq!(status(&release, 1), Some(true));
    assert_eq!(status(&release, 2), Some(false));
    assert_eq!(status(&release, 3), Some(false));
    let score_only = figures(&release, 2).unwrap();
    assert!(
        score_only.items.is_empty(),
        "no per-item figure without detail"
    );
    assert!(
        score_only
            .dimensions
            .iter()
            .all(|dimension| dimension.detail.is_none())
    );
    let detail = &release.ledger.detail;
    assert_eq!(detail.atoms.len(), 1);
    assert_eq!(detail.atoms[0].people, 16);
    assert_eq!(detail.releases.len(), 1);
    assert_eq!(detail.releases[0].node, node_id(1));
    let scores = &release.ledger.scores;
    let mut score_atom_sizes: Vec<u32> = scores.atoms.iter().map(|atom| atom.people).collect();
    score_atom_sizes.sort();
    assert_eq!(score_atom_sizes, [6, 10]);
    let parent_entry = scores
        .releases
        .iter()
        .find(|entry| entry.node == node_id(1))
        .unwrap();
    assert_eq!(parent_entry.atoms.len(), 2);
}

#[test]
fn a_root_whose_residual_holds_only_viewers_plus_one_other_person_is_merged() {
    // Three people answer directly at the root, two of them hr (viewers of the root);
    // below, a team of 12. Root − team would isolate the third person for the two.
    let input = round(
        vec![node(1, None, 2), node(2, Some(1), 0)],
        [respondents(1, 3), respondents(2, 12)].concat(),
    );
    let release = release(&input, 5, 10);
    assert_eq!(status(&release, 2), None);
    assert_eq!(status(&release, 1), Some(true));
    assert_eq!(release.ledger.scores.atoms.len(), 1);
    assert_eq!(release.ledger.scores.atoms[0].people, 15);
    assert_eq!(release.ledger.scores.atoms[0].viewers_at_most, 2);
}

#[test]
fn a_leader_who_answers_and_views_cannot_subtract_the_other_teams() {
    // The leader answers in the Leadership node (3) and reads the root (1) and the team
    // (2); nobody answers at the root itself. Root − team = Leadership, minus the
    // leader's own answer: four people. So Leadership and the team go into the root's
    // residual (15 people, 1 viewer).
    let input = round(
        vec![node(1, None, 1), node(2, Some(1), 0), node(3, Some(1), 0)],
        [respondents(2, 10), respondents(3, 5)].concat(),
    );
    let release = release(&input, 5, 10);
    assert_eq!(status(&release, 1), Some(true));
    assert_eq!(status(&release, 2), None);
    assert_eq!(status(&release, 3), None);
    // Had the leader not read the root, all three could be released.
    let unread = round(
        vec![node(1, None, 0), node(2, Some(1), 0), node(3, Some(1), 0)],
        [respondents(2, 10), respondents(3, 5)].concat(),
    );
    let release = self::release(&unread, 5, 10);
    assert_eq!(
        [
            status(&release, 1),
            status(&release, 2),
            status(&release, 3)
        ],
        [Some(true), Some(false), Some(false)]
    );
}

#[test]
fn a_single_node_organisation_is_one_atom_with_org_figures_but_no_icc() {
    let mut input = round(vec![node(1, None, 0)], respondents(1, 12));
    input.comments = vec![Comment {
        node: node_id(1),
        text: "more focus time".into(),
    }];
    let release = release(&input, 5, 10);
    let figures = figures(&release, 1).unwrap();
    assert!(figures.detail);
    assert!(matches!(
        figures.items[0].confidence_interval,
        ConfidenceInterval::Team { .. }
    ));
    let org = release.org.as_ref().expect("the root is detail-released");
    assert_eq!((org.respondents, org.atoms), (12, 1));
    assert!(
        org.dimensions
            .iter()
            .all(|dimension| dimension.icc1.is_none() && dimension.icc2.is_none())
    );
    assert!(
        org.dimensions[0].cronbach_alpha.is_some(),
        "psychological safety has two items"
    );
    assert!(
        org.dimensions[1].cronbach_alpha.is_none(),
        "trust has one item"
    );
    assert_eq!(release.comments.len(), 1);
    assert_eq!(release.comments[0].atom, release.ledger.detail.atoms[0].id);
    // Every org-level SD equals the only team's own.
    let item_detail = figures.items[2].detail.as_ref().unwrap();
    assert_eq!(org.items[2].sd, item_detail.sd);
}

#[test]
fn empty_teams_are_suppressed_and_a_round_without_answers_releases_nothing() {
    let nodes = vec![node(1, None, 0), node(2, Some(1), 0), node(3, Some(1), 0)];
    let release = release(&round(nodes.clone(), respondents(2, 9)), 5, 10);
    assert_eq!(status(&release, 3), None);
    assert_eq!(status(&release, 2), Some(false));
    assert_eq!(status(&release, 1), Some(false));

    let empty = release_round(
        &round(nodes, Vec::new()),
        &Policy::default(),
        &mut StdRng::seed_from_u64(3),
    )
    .unwrap();
    assert!(
        empty
            .releases
            .iter()
            .all(|node| matches!(node.release, Release::Suppressed { .. }))
    );
    assert_eq!(empty.org, None);
    assert!(empty.atoms.is_empty() && empty.comments.is_empty());
    assert!(empty.ledger.scores.atoms.is_empty() && empty.ledger.detail.releases.is_empty());
}

#[test]
fn zero_variance_gives_clean_values_not_nan() {
    // Everyone answers 4 (also 4 once reverse-keyed): no spread anywhere.
    let responses = (0..10)
        .map(|_| Response {
            node: node_id(1),
            answers: answers([4, 4, 4]),
        })
        .collect();
    let release = release(&round(vec![node(1, None, 0)], responses), 5, 10);
    let figures = figures(&release, 1).unwrap();
    for item in &figures.items {
        assert_eq!(item.mean, 4.0);
        assert_eq!(
            item.confidence_interval,
            ConfidenceInterval::Team {
                low: 4.0,
                high: 4.0
            }
        );
        assert_eq!(item.favourability_percent, 0.0);
        assert_eq!(item.detail.as_ref().unwrap().sd, 0.0);
    }
    for dimension in &figures.dimensions {
        let detail = dimension.detail.as_ref().unwrap();
        assert_eq!((detail.sd, detail.rwg, detail.rwg_lindell), (0.0, 1.0, 1.0));
    }
    let org = release.org.as_ref().unwrap();
    assert!(
        org.dimensions
            .iter()
            .all(|dimension| dimension.sd == 0.0 && dimension.cronbach_alpha.is_none())
    );
    let json = serde_json::to_string(&release).unwrap();
    assert_eq!(
        serde_json::from_str::<RoundRelease>(&json).unwrap(),
        release
    );
}

#[test]
fn one_respondent_is_suppressed_and_helpers_refuse_too_little_data() {
    let release = release(&round(vec![node(1, None, 0)], respondents(1, 1)), 4, 7);
    assert_eq!(status(&release, 1), None);
    assert!(release.atoms.is_empty());
    assert_eq!(minimum_detectable_change(1, 1.0), None);
    assert_eq!(minimum_detectable_change(5, f64::NAN), None);
    assert_eq!(trend(&[(0.0, 4.0), (1.0, 4.5)]), None);
    assert_eq!(trend(&[(1.0, 4.0), (1.0, 4.5), (1.0, 5.0)]), None);
    assert_eq!(trend(&[(0.0, 4.0), (1.0, f64::INFINITY), (2.0, 5.0)]), None);
    let exact_line = trend(&[(0.0, 4.0), (1.0, 4.5), (2.0, 5.0)]).unwrap();
    assert_eq!(exact_line.slope, 0.5);
    assert!(exact_line.slope_test.is_none());
}

#[test]
fn a_five_person_team_needs_about_two_points_to_show_a_change() {
    let change = minimum_detectable_change(5, 1.0).unwrap();
    assert!((1.9..2.1).contains(&change), "{change}");
    assert!(minimum_detectable_change(50, 1.0).unwrap() < 0.6);
}

#[test]
fn unknown_items_nodes_and_malformed_answers_are_typed_errors() {
    let policy = Policy::default();
    let valid = round(vec![node(1, None, 0)], respondents(1, 12));
    let attempt = |input: &RoundInput| {
        release_round(input, &policy, &mut StdRng::seed_from_u64(3)).unwrap_err()
    };

    let mut extra_answer = valid.clone();
    extra_answer.responses[4]
        .answers
        .push(Answer::parse(3, Scale::AGREE_7).unwrap());
    assert_eq!(
        attempt(&extra_answer),
        AnonymizerError::WrongAnswerCount {
            expected: 3,
            found: 4
        }
    );

    let mut outside_scale = valid.clone();
    outside_scale.responses[0].answers[2] = Answer::parse(9, Scale::ZERO_TO_TEN).unwrap();
    assert_eq!(
        attempt(&outside_scale),
        AnonymizerError::AnswerOutsideItemScale {
            item: ItemId("trust-1".into())
        }
    );

    let mut unknown_node = valid.clone();
    unknown_node.responses[0].node = node_id(99);
    assert_eq!(
        attempt(&unknown_node),
        AnonymizerError::ResponseForUnknownNode { node: node_id(99) }
    );

    let mut unknown_comment_node = valid.clone();
    unknown_comment_node.comments.push(Comment {
        node: node_id(98),
        text: "hello".into(),
    });
    assert_eq!(
        attempt(&unknown_comment_node),
        AnonymizerError::CommentForUnknownNode { node: node_id(98) }
    );

    let mut duplicate_item = valid.clone();
    duplicate_item.items[2].id = ItemId("ps-1".into());
    assert_eq!(
        attempt(&duplicate_item),
        AnonymizerError::DuplicateItem {
            item: ItemId("ps-1".into())
        }
    );

    let mut no_items = valid.clone();
    no_items.items.clear();
    assert_eq!(attempt(&no_items), AnonymizerError::NoItems);

    let mut open = valid;
    open.status = RoundStatus::Open;
    assert_eq!(attempt(&open), AnonymizerError::RoundStillOpen);
}

#[test]
fn score_only_releases_borrow_the_org_level_sd_and_show_no_band_without_one() {
    // Root detail-released (24 people): the 6-person teams are score-only and use org SDs.
    let input = round(
        vec![
            node(1, None, 0),
            node(2, Some(1), 0),
            node(3, Some(1), 0),
            node(4, Some(1), 0),
        ],
        [respondents(2, 12), respondents(3, 6), respondents(4, 6)].concat(),
    );
    let release = release(&input, 5, 10);
    let org = release.org.as_ref().unwrap();
    let small_team = figures(&release, 3).unwrap();
    assert!(!small_team.detail);
    let ConfidenceInterval::OrgLevel { low, high } = small_team.dimensions[0].confidence_interval
    else {
        panic!("a score-only release uses the org-level SD");
    };
    let t_quantile_5_df = 2.570_581_835_636_314;
    let half_width = t_quantile_5_df * org.dimensions[0].sd / 6f64.sqrt();
    assert!((high - low - 2.0 * half_width).abs() < 1e-12);

    // Root of 9 (k_detail 10): no org figures, so score-only releases draw no band.
    let small = round(
        vec![node(1, None, 0), node(2, Some(1), 0)],
        [respondents(1, 4), respondents(2, 5)].concat(),
    );
    let release = self::release(&small, 5, 10);
    assert_eq!(release.org, None);
    let root = figures(&release, 1).unwrap();
    assert!(!root.detail);
    assert!(root.items.is_empty());
    assert!(
        root.dimensions
            .iter()
            .all(|dimension| dimension.confidence_interval == ConfidenceInterval::NoBand)
    );
}

#[test]
fn comments_go_to_their_detail_atom_shuffled_and_nowhere_else() {
    // Root (5 direct, detail) over A (12, detail) and B (6, score-only): B's comments
    // belong to the root's residual atom (5 + 6 people); a blank comment is dropped.
    let mut input = round(
        vec![node(1, None, 0), node(2, Some(1), 0), node(3, Some(1), 0)],
        [respondents(2, 12), respondents(3, 6), respondents(1, 5)].concat(),
    );
    for index in 0..12 {
        input.comments.push(Comment {
            node: node_id(2),
            text: format!("team A says {index}"),
        });
    }
    input.comments.push(Comment {
        node: node_id(3),
        text: "team B says".into(),
    });
    input.comments.push(Comment {
        node: node_id(1),
        text: "root says".into(),
    });
    input.comments.push(Comment {
        node: node_id(3),
        text: "   ".into(),
    });
    let release = release(&input, 5, 10);
    assert_eq!(status(&release, 2), Some(true));
    assert_eq!(status(&release, 3), Some(false));
    assert_eq!(release.comments.len(), 14);
    let at = |number: u128| {
        release
            .comments
            .iter()
            .filter(|comment| comment.node == node_id(number))
            .count()
    };
    assert_eq!((at(1), at(2), at(3)), (2, 12, 0));
    let team_a: Vec<&str> = release
        .comments
        .iter()
        .filter(|comment| comment.node == node_id(2))
        .map(|c| c.text.as_str())
        .collect();
    let submitted: Vec<String> = (0..12)
        .map(|index| format!("team A says {index}"))
        .collect();
    assert_ne!(
        team_a,
        submitted.iter().map(String::as_str).collect::<Vec<_>>(),
        "comments keep submission order"
    );
    let mut sorted = team_a.clone();
    sorted.sort();
    let mut expected: Vec<&str> = submitted.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(sorted, expected);
}

#[test]
fn a_suppressed_release_serialises_to_its_reason_alone() {
    let release = release(&round(vec![node(1, None, 0)], respondents(1, 3)), 5, 10);
    assert_eq!(
        serde_json::to_value(&release.releases[0]).unwrap(),
        serde_json::json!({
            "node": "00000000-0000-0000-0000-000000000001",
            "release": {"status": "suppressed", "reason": "hidden_to_protect_anonymity"}
        })
    );
    let released = self::release(&round(vec![node(1, None, 0)], respondents(1, 6)), 5, 10);
    let json = serde_json::to_value(&released.releases[0]).unwrap();
    assert_eq!(json["release"]["status"], "released");
    assert_eq!(json["release"]["items"], serde_json::json!([]));
    assert_eq!(
        json["release"]["dimensions"][0]["confidence_interval"],
        serde_json::json!({"sd_source": "none"})
    );
}

#[test]
fn changes_are_compared_only_between_releases_of_at_least_k() {
    let big = round(vec![node(1, None, 0)], respondents(1, 12));
    let previous = release(&big, 5, 10);
    let previous = figures(&previous, 1).unwrap();
    let mut shifted = big.clone();
    for response in &mut shifted.responses {
        response.answers = answers([7, 1, 7]);
    }
    let current = release(&shifted, 5, 10);
    let current = figures(&current, 1).unwrap();
    let changes = compare_rounds(previous, current, 5);
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|change| change.significant && change.difference > 0.5)
    );
    assert!(compare_rounds(previous, current, 13).is_empty());
}

/// What the close code hands the next round: the earlier round's determined nodes,
/// and who changed where.
fn history_after(earlier: &RoundRelease, changes: &[(u128, u32)]) -> History {
    History {
        earlier_rounds: vec![EarlierRound {
            scores: earlier.ledger.scores.determined.clone(),
            detail: earlier.ledger.detail.determined.clone(),
        }],
        membership_changes: changes
            .iter()
            .map(|&(number, people)| MembershipChange {
                node: node_id(number),
                people,
            })
            .collect(),
    }
}

#[test]
fn a_team_that_lost_or_gained_one_person_is_restricted_in_the_next_round() {
    // Issue 18, scenario 1: Department (5 directly) over Alpha (6) and Beta (6); one
    // of Alpha moves to Beta. 6·mean₁ − 5·mean₂ would be the mover's answers.
    let nodes = || vec![node(1, None, 0), node(2, Some(1), 0), node(3, Some(1), 0)];
    let first = release(
        &round(
            nodes(),
            [respondents(1, 5), respondents(2, 6), respondents(3, 6)].concat(),
        ),
        5,
        10,
    );
    assert_eq!(
        [status(&first, 1), status(&first, 2), status(&first, 3)],
        [Some(true), Some(false), Some(false)]
    );
    let determined: Vec<(NodeId, u32)> = first
        .ledger
        .scores
        .determined
        .iter()
        .map(|entry| (entry.node, entry.respondents))
        .collect();
    assert_eq!(
        determined,
        [(node_id(1), 17), (node_id(2), 6), (node_id(3), 6)]
    );

    let mut second = round(
        nodes(),
        [respondents(1, 5), respondents(2, 5), respondents(3, 7)].concat(),
    );
    second.history = history_after(&first, &[(2, 1), (3, 1)]);
    for (restricted, expected) in [
        (RestrictedRelease::Suppressed, "suppressed"),
        (RestrictedRelease::Rounded, "rounded"),
    ] {
        let policy = Policy::new(5, 10).unwrap().with_restricted(restricted);
        let released = release_round(&second, &policy, &mut StdRng::seed_from_u64(3)).unwrap();
        let json = serde_json::to_value(&released.releases).unwrap();
        assert_eq!(json[1]["release"]["status"], expected, "Alpha");
        assert_eq!(json[2]["release"]["status"], expected, "Beta");
        // The department did not change: 17 people, the same invitees.
        assert_eq!(status(&released, 1), Some(true));
        // Nothing lets a later round difference Alpha or Beta against this one.
        assert!(
            released
                .ledger
                .scores
                .determined
                .iter()
                .all(|entry| entry.node == node_id(1))
        );
    }
}

#[test]
fn two_people_who_skip_a_round_take_the_detail_family_with_them() {
    // Issue 18, scenario 2: Alpha (10 directly) contains Tiny (2, suppressed). Round
    // 1: everyone answers (12); round 2: Tiny does not (10). The difference of the two
    // distributions would be Tiny's answers.
    let nodes = || vec![node(1, None, 0), node(2, Some(1), 0)];
    let first = release(
        &round(nodes(), [respondents(1, 10), respondents(2, 2)].concat()),
        5,
        10,
    );
    assert_eq!(status(&first, 1), Some(true));
    let mut second = round(nodes(), respondents(1, 10));
    second.history = history_after(&first, &[]);
    let released = release(&second, 5, 10);
    assert_eq!(
        status(&released, 1),
        Some(false),
        "scores stay (a group's sum is the documented limit), detail goes"
    );
    assert!(released.comments.is_empty() && released.org.is_none());
    // The same two rounds with nobody skipping release detail both times.
    let mut unchanged = round(nodes(), [respondents(1, 10), respondents(2, 2)].concat());
    unchanged.history = history_after(&first, &[]);
    assert_eq!(status(&release(&unchanged, 5, 10), 1), Some(true));
}

#[test]
fn one_person_less_than_an_earlier_round_rounds_the_scores() {
    // Whoever knows who skipped would get that person's answers: the release is
    // rounded, whatever the survey's form for changed teams.
    let nodes = || vec![node(1, None, 0)];
    let first = release(&round(nodes(), respondents(1, 8)), 5, 10);
    let mut second = round(nodes(), respondents(1, 7));
    second.history = history_after(&first, &[]);
    let released = release(&second, 5, 10);
    let Release::Rounded(rounded) = &released.releases[0].release else {
        panic!("{:?}", released.releases[0]);
    };
    assert_eq!((rounded.respondents, rounded.step), (7, 1.0));
    assert!(
        rounded
            .dimensions
            .iter()
            .all(|dimension| dimension.mean == dimension.mean.round())
    );
    let mut third = round(nodes(), respondents(1, 6));
    third.history = history_after(&first, &[]);
    assert_eq!(
        status(&release(&third, 5, 10), 1),
        Some(false),
        "two fewer: released, a pair's sum is the limit"
    );
}

#[test]
fn a_score_only_release_of_five_gives_figures_per_dimension_only() {
    // Issue 18, scenario 4: at n = 5 a per-item mean and favourable share pin
    // near-unanimous answer sets, so a score-only release has no item figures.
    let released = release(&round(vec![node(1, None, 0)], respondents(1, 5)), 5, 10);
    let figures = figures(&released, 1).unwrap();
    assert!(!figures.detail);
    assert!(figures.items.is_empty());
    assert_eq!(figures.dimensions.len(), 2);
    for dimension in &figures.dimensions {
        assert!(dimension.detail.is_none());
    }
    let json = serde_json::to_string(&released.releases).unwrap();
    assert!(!json.contains("ps-1") && !json.contains("enps"), "{json}");
}
