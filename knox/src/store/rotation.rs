//! The rules of refresh token rotation, shared by every store.
//!
//! A store loads the presented token and its family under a lock, calls
//! [`decide`], and applies the decision in the same transaction.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The policy a rotation is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationRules {
    /// Minimum time between two issues of one family; zero disables the throttle.
    pub min_issue_interval: Duration,
    /// How long the direct predecessor of the newest token may be presented
    /// again and still get a pair; `None` disables the leeway.
    pub reuse_leeway: Option<Duration>,
    /// How many superseded tokens of a family keep their details.
    pub max_history: u32,
}

/// The state of a presented refresh token and its family, as loaded under lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationState {
    /// Generation of the presented token.
    pub generation: i64,
    /// When the presented token was superseded; `None` if it is the newest.
    pub consumed: Option<DateTime<Utc>>,
    /// Generation of the family's newest token.
    pub family_generation: i64,
    /// When the family last issued a pair.
    pub family_last_issued: DateTime<Utc>,
    /// The family's absolute expiry.
    pub family_expiry: DateTime<Utc>,
}

/// The outcome decided for a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Issue the next generation and supersede the newest token.
    Rotate,
    /// The family outlived its absolute lifetime: delete it.
    Expired,
    /// A superseded token was replayed: revoke the whole family.
    Reused,
    /// The newest token came too soon; it stays valid.
    Throttled {
        /// Time until the family may issue again.
        retry_after: Duration,
    },
}

/// Decides the fate of a presented refresh token.
///
/// The checks run in this order, each a security decision:
/// 1. An expired family is dead whatever the token.
/// 2. Reuse detection comes before the throttle: a superseded token revokes
///    the family even inside the issue interval. The one exception is the
///    leeway, which lets the newest token's direct predecessor be retried for
///    a short time; that retry supersedes the newest token, so the family
///    stays a single line.
/// 3. The throttle applies to the newest token only, and leaves it valid.
pub fn decide(state: &RotationState, rules: &RotationRules, now: DateTime<Utc>) -> Decision {
    if state.family_expiry <= now {
        return Decision::Expired;
    }

    if let Some(consumed) = state.consumed {
        let is_predecessor = state.generation + 1 == state.family_generation;
        let within_leeway = rules
            .reuse_leeway
            .is_some_and(|leeway| now - consumed <= delta(leeway));
        return if is_predecessor && within_leeway {
            Decision::Rotate
        } else {
            Decision::Reused
        };
    }
    if state.generation != state.family_generation {
        // An unconsumed token that is not the newest cannot arise from rotation;
        // treat it as the replay it most likely is.
        return Decision::Reused;
    }

    let elapsed = now - state.family_last_issued;
    let interval = delta(rules.min_issue_interval);
    if elapsed < interval {
        let remaining = (interval - elapsed).to_std().unwrap_or_default();
        return Decision::Throttled {
            retry_after: remaining,
        };
    }
    Decision::Rotate
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    const RULES: RotationRules = RotationRules {
        min_issue_interval: Duration::from_secs(10),
        reuse_leeway: None,
        max_history: 3,
    };

    fn newest() -> RotationState {
        RotationState {
            generation: 4,
            consumed: None,
            family_generation: 4,
            family_last_issued: at(0),
            family_expiry: at(1000),
        }
    }

    #[test]
    fn newest_token_rotates_after_interval() {
        assert_eq!(decide(&newest(), &RULES, at(10)), Decision::Rotate);
    }

    #[test]
    fn newest_token_throttled_inside_interval() {
        let decision = decide(&newest(), &RULES, at(4));
        assert_eq!(
            decision,
            Decision::Throttled {
                retry_after: Duration::from_secs(6)
            }
        );
    }

    #[test]
    fn reuse_beats_throttle() {
        let replayed = RotationState {
            generation: 3,
            consumed: Some(at(0)),
            ..newest()
        };
        assert_eq!(decide(&replayed, &RULES, at(1)), Decision::Reused);
    }

    #[test]
    fn expiry_beats_everything() {
        assert_eq!(decide(&newest(), &RULES, at(1000)), Decision::Expired);
    }

    #[test]
    fn leeway_allows_only_direct_predecessor() {
        let rules = RotationRules {
            reuse_leeway: Some(Duration::from_secs(5)),
            ..RULES
        };
        let predecessor = RotationState {
            generation: 3,
            consumed: Some(at(0)),
            ..newest()
        };
        assert_eq!(decide(&predecessor, &rules, at(5)), Decision::Rotate);
        assert_eq!(
            decide(&predecessor, &rules, at(6)),
            Decision::Reused,
            "too late"
        );

        let older = RotationState {
            generation: 2,
            ..predecessor
        };
        assert_eq!(
            decide(&older, &rules, at(1)),
            Decision::Reused,
            "not the predecessor"
        );
    }
}
