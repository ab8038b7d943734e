//! The release policy (DESIGN §3): the thresholds, valid by construction, and the
//! form of a restricted release across rounds (Rule D).

use serde::{Deserialize, Serialize};

/// The lowest `k` any deployment may configure: below it, a team's mean is close to
/// a single person's answer.
pub const K_FLOOR: u32 = 4;

/// The lowest `k_detail` any deployment may configure (it is also never below `k`):
/// spreads, distributions and comments say much more about each person than a mean.
pub const K_DETAIL_FLOOR: u32 = 7;

/// The two release families. Each has its own threshold, its own run of Rule B and
/// its own ledger of atoms; every detail release is also a score release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Mean, confidence interval, favourability, eNPS and the exact n: gated by `k`.
    Scores,
    /// Spread, answer distribution, agreement and comments: gated by `k_detail`.
    Detail,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("k must be at least {K_FLOOR}, not {k}")]
    KBelowFloor { k: u32 },
    #[error("k_detail must be at least max(k, {K_DETAIL_FLOOR}) = {floor}, not {k_detail}")]
    KDetailBelowFloor { k_detail: u32, floor: u32 },
}

/// What a node's score release becomes in a round where comparing it with earlier
/// rounds could single people out (Rule D, `cross_round`): its invited people
/// changed by 1 to k − 1 since its last exact release, or its respondents differ by
/// one from an earlier exact release. A survey setting, shown to respondents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictedRelease {
    /// Hidden, like a group below `k` (the default: nothing to subtract from).
    #[default]
    Suppressed,
    /// Dimension means rounded to a coarse grid, with `n` and nothing else (see
    /// [`crate::RoundedFigures`]). A changed person's answer can no longer be
    /// recovered exactly, but an answer at the end of the scale can still be
    /// narrowed down (docs/privacy.md quantifies it).
    Rounded,
}

impl RestrictedRelease {
    pub fn as_str(self) -> &'static str {
        match self {
            RestrictedRelease::Suppressed => "suppressed",
            RestrictedRelease::Rounded => "rounded",
        }
    }

    pub fn parse(text: &str) -> Option<RestrictedRelease> {
        match text {
            "suppressed" => Some(RestrictedRelease::Suppressed),
            "rounded" => Some(RestrictedRelease::Rounded),
            _ => None,
        }
    }
}

/// The thresholds a round is released under, and the form of its restricted
/// releases. Floors are enforced here, so an invalid policy cannot exist (not even
/// through deserialisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyThresholds", into = "PolicyThresholds")]
pub struct Policy {
    k: u32,
    k_detail: u32,
    restricted: RestrictedRelease,
}

/// The serialised shape of a [`Policy`]; deserialising goes through [`Policy::new`].
#[derive(Debug, Serialize, Deserialize)]
struct PolicyThresholds {
    k: u32,
    k_detail: u32,
    #[serde(default)]
    restricted: RestrictedRelease,
}

impl Policy {
    pub fn new(k: u32, k_detail: u32) -> Result<Policy, PolicyError> {
        if k < K_FLOOR {
            return Err(PolicyError::KBelowFloor { k });
        }
        let detail_floor = k.max(K_DETAIL_FLOOR);
        if k_detail < detail_floor {
            return Err(PolicyError::KDetailBelowFloor {
                k_detail,
                floor: detail_floor,
            });
        }
        Ok(Policy {
            k,
            k_detail,
            restricted: RestrictedRelease::default(),
        })
    }

    /// The same thresholds with another form of restricted release.
    pub fn with_restricted(self, restricted: RestrictedRelease) -> Policy {
        Policy { restricted, ..self }
    }

    /// What a restricted score release becomes (Rule D).
    pub fn restricted(&self) -> RestrictedRelease {
        self.restricted
    }

    /// Threshold of the score family.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Threshold of the detail family.
    pub fn k_detail(&self) -> u32 {
        self.k_detail
    }

    pub fn threshold(&self, family: Family) -> u32 {
        match family {
            Family::Scores => self.k,
            Family::Detail => self.k_detail,
        }
    }

    /// Rule C's one exception: while a round is open, a node may show how many have
    /// answered, rounded down to a multiple of `k` (so one more answer is visible only
    /// once every `k` answers) and never reaching `invited − k`: a figure that close
    /// to the invitee count would say that all but a handful, or everyone, answered.
    /// `None` (show nothing) for a node whose cap is below `k`, that is with `2k` or
    /// fewer invitees. The caller refreshes this at most daily.
    pub fn participation_while_open(&self, invited: u32, respondents: u32) -> Option<u32> {
        let k = u64::from(self.k);
        // The largest multiple of k strictly below invited − k.
        let cap = (u64::from(invited).checked_sub(k + 1)? / k) * k;
        if cap < k {
            return None;
        }
        let shown = (u64::from(respondents) / k * k).min(cap);
        u32::try_from(shown).ok()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            k: 5,
            k_detail: 10,
            restricted: RestrictedRelease::default(),
        }
    }
}

impl TryFrom<PolicyThresholds> for Policy {
    type Error = PolicyError;
    fn try_from(thresholds: PolicyThresholds) -> Result<Self, Self::Error> {
        Ok(Policy::new(thresholds.k, thresholds.k_detail)?.with_restricted(thresholds.restricted))
    }
}

impl From<Policy> for PolicyThresholds {
    fn from(policy: Policy) -> Self {
        PolicyThresholds {
            k: policy.k,
            k_detail: policy.k_detail,
            restricted: policy.restricted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_five_and_ten() {
        let policy = Policy::default();
        assert_eq!((policy.k(), policy.k_detail()), (5, 10));
        assert_eq!(Policy::new(5, 10), Ok(policy));
    }

    #[test]
    fn floors_are_enforced_when_the_policy_is_built() {
        assert_eq!(Policy::new(3, 10), Err(PolicyError::KBelowFloor { k: 3 }));
        assert_eq!(
            Policy::new(4, 6),
            Err(PolicyError::KDetailBelowFloor {
                k_detail: 6,
                floor: 7
            })
        );
        assert_eq!(
            Policy::new(9, 8),
            Err(PolicyError::KDetailBelowFloor {
                k_detail: 8,
                floor: 9
            })
        );
        assert!(Policy::new(4, 7).is_ok());
        assert!(Policy::new(9, 9).is_ok());
    }

    #[test]
    fn an_invalid_policy_cannot_be_deserialised() {
        let refused: Result<Policy, _> = serde_json::from_str(r#"{"k":2,"k_detail":10}"#);
        assert!(refused.is_err());
        let accepted: Policy = serde_json::from_str(r#"{"k":6,"k_detail":12}"#).unwrap();
        assert_eq!(accepted.threshold(Family::Scores), 6);
        assert_eq!(accepted.threshold(Family::Detail), 12);
        assert_eq!(accepted.restricted(), RestrictedRelease::Suppressed);
        assert_eq!(
            serde_json::to_string(&accepted.with_restricted(RestrictedRelease::Rounded)).unwrap(),
            r#"{"k":6,"k_detail":12,"restricted":"rounded"}"#
        );
    }

    #[test]
    fn participation_while_open_is_shown_only_for_large_nodes_and_rounded_down_to_k() {
        let policy = Policy::default();
        assert_eq!(policy.participation_while_open(9, 7), None);
        assert_eq!(policy.participation_while_open(10, 9), None);
        assert_eq!(policy.participation_while_open(11, 4), Some(0));
        assert_eq!(policy.participation_while_open(12, 9), Some(5));
        assert_eq!(policy.participation_while_open(40, 23), Some(20));
    }

    #[test]
    fn participation_never_reaches_the_invitee_count_less_k() {
        for k in [4, 5, 7] {
            let policy = Policy::new(k, k.max(7)).unwrap();
            for invited in 0..60 {
                for respondents in 0..=invited {
                    if let Some(shown) = policy.participation_while_open(invited, respondents) {
                        assert!(shown + k < invited, "k {k}: {shown} of {invited}");
                        assert!(shown <= respondents && shown % k == 0);
                    }
                }
            }
        }
        // A 10-person team (k = 5) shows nothing, even once everyone answered.
        assert_eq!(Policy::default().participation_while_open(10, 10), None);
        assert_eq!(Policy::default().participation_while_open(30, 30), Some(20));
    }
}
