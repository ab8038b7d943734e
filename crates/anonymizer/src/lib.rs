//! The only door from answers to anything a person reads: team statistics with
//! disclosure control (DESIGN §3 and §4). A pure library — no I/O, no database, no
//! async, and it never sees a person.
//!
//! # Main types
//!
//! - [`release_round`] takes a closed round's [`RoundInput`] (hierarchy snapshot of
//!   [`SnapshotNode`]s, items, [`Response`]s, [`Comment`]s) and a [`Policy`] (`k`,
//!   `k_detail`, floors enforced at construction), and returns a [`RoundRelease`]:
//!   - one [`NodeRelease`] per node: [`Release::Released`] with [`ReleasedFigures`]
//!     (n, mean, labelled [`ConfidenceInterval`], favourability, eNPS; for detail
//!     releases also SD, distribution, rwg(j) and r*wg(j)), or
//!     [`Release::Suppressed`] with one public [`SuppressionReason`] and nothing else;
//!   - [`OrgFigures`] (org SD, Cronbach's α, ICC(1)/ICC(2)), only when the root is
//!     detail-released, computed from detail atoms only;
//!   - the Rule A [`Ledger`]: per [`Family`], every release as a set of atoms;
//!   - [`AtomStatistics`] for the store, the only place sums of squares appear;
//!   - [`ReleasedComment`]s per detail atom, shuffled, without dates.
//! - [`StoredForm`]: how the store keeps figures and atom statistics (MessagePack).
//! - Rule D (`cross_round`): with the [`History`] of earlier rounds (counts only), a
//!   release that could be set against a node's latest earlier determination loses
//!   exactness: [`Release::Rounded`] ([`RoundedFigures`]) or suppressed, as the
//!   [`RestrictedRelease`] of the [`Policy`] and the cause decide; detail is withheld.
//! - [`compare_rounds`] (difference and Welch's t-test), [`trend`] (OLS slope and its
//!   t-test) and [`minimum_detectable_change`] read released figures only.
//!
//! # The guarantee
//!
//! Per family, no combination of any number of a round's releases isolates a group
//! of between 1 and `threshold − 1` people once the viewers who could read it are
//! taken out. Rule B ([`Policy`], `hierarchy_rule`) chooses the released nodes so
//! that every atom — the smallest group a combination of releases can isolate —
//! holds at least the threshold of non-viewers; Rule A checks that on the [`Ledger`]
//! before anything is returned, and the property tests check it against a
//! brute-force oracle over random hierarchies. Decisions depend only on counts, and
//! every output is unchanged when two respondents of the same atom swap answers.
//!
//! Rule B follows DESIGN §3 with one addition, explained in `hierarchy_rule`: a
//! released node whose residual is empty but still has viewers (`r = 0`, `v_r ≥ 1`)
//! fails too, which closes a leader subtracting the other top teams from the root.
//!
//! It assumes, as DESIGN §3 does, that viewing is upward closed inside a subtree
//! (whoever sits below a node and may view it may view its ancestors); the snapshot's
//! `viewers` counts are checked to be nested accordingly.
//!
//! # Limits
//!
//! - Across rounds, Rule D compares each node with its latest earlier determination
//!   only: releases two or more determinations apart, a small group's sum when a
//!   few people skip, and the end of the scale under rounding remain (quantified in
//!   docs/privacy.md). Pooled releases must pass Rule A against the stored ledger.
//! - Unanimous teams: if everyone in an atom gave the same answer, a released
//!   distribution says what each of them answered, however many they are.
//! - Comment content: a comment can identify its author by what it says.
//! - Collusion among respondents who are not viewers is not modelled, and that a
//!   small group had no respondents at all can sometimes be inferred.

mod atoms;
mod comments;
mod comparison;
mod cross_round;
mod error;
mod figures;
mod hierarchy;
mod hierarchy_rule;
mod item_layout;
mod ledger;
mod org_figures;
mod policy;
mod release;
mod round_input;
mod statistics;
mod stored;
mod tally;

#[cfg(test)]
mod oracle_fixture_tests;

pub use atoms::{
    AtomDimensionStatistics, AtomItemDetailStatistics, AtomItemStatistics, AtomStatistics,
};
pub use comments::ReleasedComment;
pub use comparison::{
    DimensionChange, SIGNIFICANCE_MINIMUM_CHANGE, SIGNIFICANCE_MINIMUM_RESPONDENTS,
    SIGNIFICANCE_P_VALUE, TTest, Trend, compare_rounds, minimum_detectable_change, trend,
};
pub use error::AnonymizerError;
pub use figures::{
    ConfidenceInterval, DimensionDetail, DimensionFigures, ItemDetail, ItemFigures,
    ROUNDED_FINE_FROM, ReleasedFigures, RoundedDimension, RoundedFigures,
};
pub use ledger::{
    AtomId, DeterminedNode, FamilyLedger, Ledger, LedgerAtom, LedgerRelease, RuleAViolation,
};
pub use org_figures::{OrgDimensionFigures, OrgFigures, OrgItemFigures};
pub use policy::{Family, K_DETAIL_FLOOR, K_FLOOR, Policy, PolicyError, RestrictedRelease};
pub use release::{NodeRelease, Release, RoundRelease, SuppressionReason, release_round};
pub use round_input::{
    Comment, EarlierRound, History, MembershipChange, Response, RoundInput, RoundStatus,
    SnapshotNode,
};
pub use stored::{StoredForm, StoredFormError};
