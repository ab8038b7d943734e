//! The release thresholds (DESIGN §3), valid by construction.

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

/// The thresholds a round is released under. Floors are enforced here, so an
/// invalid policy cannot exist (not even through deserialisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyThresholds", into = "PolicyThresholds")]
pub struct Policy {
    k: u32,
    k_detail: u32,
}

/// The serialised shape of a [`Policy`]; deserialising goes through [`Policy::new`].
#[derive(Debug, Serialize, Deserialize)]
struct PolicyThresholds {
    k: u32,
    k_detail: u32,
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
        Ok(Policy { k, k_detail })
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

    /// Rule C's one exception: while a round is open, a node with at least `2k`
    /// invitees may show how many have answered, rounded down to a multiple of `k`
    /// (so one more answer is visible only once every `k` answers). `None` means show
    /// nothing. The caller refreshes this at most daily.
    pub fn participation_while_open(&self, invited: u32, respondents: u32) -> Option<u32> {
        if u64::from(invited) < 2 * u64::from(self.k) {
            return None;
        }
        Some(respondents / self.k * self.k)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy { k: 5, k_detail: 10 }
    }
}

impl TryFrom<PolicyThresholds> for Policy {
    type Error = PolicyError;
    fn try_from(thresholds: PolicyThresholds) -> Result<Self, Self::Error> {
        Policy::new(thresholds.k, thresholds.k_detail)
    }
}

impl From<Policy> for PolicyThresholds {
    fn from(policy: Policy) -> Self {
        PolicyThresholds {
            k: policy.k,
            k_detail: policy.k_detail,
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
        assert_eq!(
            serde_json::to_string(&accepted).unwrap(),
            r#"{"k":6,"k_detail":12}"#
        );
    }

    #[test]
    fn participation_while_open_is_shown_only_for_large_nodes_and_rounded_down_to_k() {
        let policy = Policy::default();
        assert_eq!(policy.participation_while_open(9, 7), None);
        assert_eq!(policy.participation_while_open(10, 4), Some(0));
        assert_eq!(policy.participation_while_open(10, 9), Some(5));
        assert_eq!(policy.participation_while_open(40, 23), Some(20));
    }
}
