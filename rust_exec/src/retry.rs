//! Retrying venue calls: which failures are retryable, exponential backoff with full jitter
//! (AWS Architecture Blog, "Exponential Backoff and Jitter"), `Retry-After` honoured, and a
//! circuit breaker per venue (closed -> open -> half-open) that stops hammering an outage and
//! closes again on the first successful probe. Time is passed in (ms) so tests are exact.

use serde::{Deserialize, Serialize};

/// Why a venue call failed, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VenueFailure {
    /// No answer in time: the request may or may not have reached the venue.
    Timeout,
    /// Connection refused/reset before a response.
    Network,
    /// HTTP 5xx.
    ServerError { status: u16 },
    /// HTTP 429/418 with the venue's `Retry-After`, if it sent one.
    RateLimited { retry_after_ms: Option<u64> },
    /// Any other 4xx: the request itself is wrong; retrying cannot help.
    Rejected { status: u16, reason: String },
}

impl VenueFailure {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, VenueFailure::Rejected { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryDecision {
    Retry { delay_ms: u64 },
    GiveUp,
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seeded, reproducible jitter.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        self.next_u64() % (max + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay_ms: 100,
            max_delay_ms: 10_000,
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the full-jitter window after `attempt` failures (1-based).
    pub fn window_ms(&self, attempt: u32) -> u64 {
        let doublings = attempt.saturating_sub(1).min(63);
        self.base_delay_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay_ms)
    }

    /// What to do after the `attempt`-th attempt failed with `failure`.
    pub fn decide(
        &self,
        failure: &VenueFailure,
        attempt: u32,
        jitter: &mut Jitter,
    ) -> RetryDecision {
        if !failure.is_retryable() || attempt >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let delay_ms = jitter.up_to(self.window_ms(attempt));
        let delay_ms = match failure {
            VenueFailure::RateLimited {
                retry_after_ms: Some(after),
            } => delay_ms.max(*after),
            _ => delay_ms,
        };
        RetryDecision::Retry { delay_ms }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until_ms: u64,
    },
    /// One probe is allowed through; its outcome closes or re-opens the breaker.
    HalfOpen {
        probe_in_flight: bool,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CircuitBreaker {
    pub failure_threshold: u32,
    pub open_ms: u64,
    state: BreakerState,
}

impl CircuitBreaker {
    pub fn new(failure_threshold: u32, open_ms: u64) -> Self {
        CircuitBreaker {
            failure_threshold: failure_threshold.max(1),
            open_ms,
            state: BreakerState::Closed {
                consecutive_failures: 0,
            },
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May a call go out now? In half-open, only one probe at a time.
    pub fn allow(&mut self, now_ms: u64) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until_ms } if now_ms >= until_ms => {
                self.state = BreakerState::HalfOpen {
                    probe_in_flight: true,
                };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probe_in_flight } => {
                if probe_in_flight {
                    false
                } else {
                    self.state = BreakerState::HalfOpen {
                        probe_in_flight: true,
                    };
                    true
                }
            }
        }
    }

    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed {
            consecutive_failures: 0,
        };
    }

    /// Count a retryable failure (a venue-side rejection says nothing about venue health).
    pub fn on_failure(&mut self, failure: &VenueFailure, now_ms: u64) {
        if !failure.is_retryable() {
            if let BreakerState::HalfOpen { .. } = self.state {
                self.on_success();
            }
            return;
        }
        self.state = match self.state {
            BreakerState::Closed {
                consecutive_failures,
            } if consecutive_failures + 1 < self.failure_threshold => BreakerState::Closed {
                consecutive_failures: consecutive_failures + 1,
            },
            _ => BreakerState::Open {
                until_ms: now_ms + self.open_ms,
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn client_errors_are_never_retried() {
        let policy = RetryPolicy::default();
        let rejected = VenueFailure::Rejected {
            status: 400,
            reason: "bad lot".into(),
        };
        assert_eq!(
            policy.decide(&rejected, 1, &mut Jitter::new(1)),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn retry_after_is_a_floor_on_the_delay() {
        let policy = RetryPolicy::default();
        let limited = VenueFailure::RateLimited {
            retry_after_ms: Some(7_000),
        };
        match policy.decide(&limited, 1, &mut Jitter::new(3)) {
            RetryDecision::Retry { delay_ms } => assert!(delay_ms >= 7_000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy::default();
        let mut jitter = Jitter::new(9);
        assert!(matches!(
            policy.decide(&VenueFailure::Timeout, 7, &mut jitter),
            RetryDecision::Retry { .. }
        ));
        assert_eq!(
            policy.decide(&VenueFailure::Timeout, 8, &mut jitter),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn breaker_opens_after_threshold_then_probes_and_closes() {
        let mut breaker = CircuitBreaker::new(3, 10_000);
        for t in 0..3 {
            assert!(breaker.allow(t));
            breaker.on_failure(&VenueFailure::ServerError { status: 503 }, t);
        }
        assert_eq!(breaker.state(), BreakerState::Open { until_ms: 10_002 });
        assert!(!breaker.allow(10_001));
        assert!(breaker.allow(10_002), "half-open probe");
        assert!(!breaker.allow(10_003), "only one probe at a time");
        breaker.on_failure(&VenueFailure::Timeout, 12_500);
        assert_eq!(breaker.state(), BreakerState::Open { until_ms: 22_500 });
        assert!(breaker.allow(22_500));
        breaker.on_success();
        assert!(breaker.allow(22_501));
    }

    proptest! {
        #[test]
        fn full_jitter_delay_stays_inside_the_exponential_window(
            seed in any::<u64>(), attempt in 1u32..8
        ) {
            let policy = RetryPolicy::default();
            let decision = policy.decide(&VenueFailure::Timeout, attempt, &mut Jitter::new(seed));
            let RetryDecision::Retry { delay_ms } = decision else {
                return Err(TestCaseError::fail("expected a retry"));
            };
            prop_assert!(delay_ms <= policy.window_ms(attempt));
            prop_assert!(policy.window_ms(attempt) <= policy.max_delay_ms);
        }
    }
}
