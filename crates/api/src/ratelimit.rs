//! Per-key rate limiting: a token bucket per API key, refilled continuously. [`RateLimiter`]
//! limits requests; [`Budget`] limits a rare outcome (idempotency conflicts): spent by the outcome,
//! checked before each request.
//! Rate limiting: a token bucket per key (an API key, a tenant, a client address), refilled
//! continuously. The number of buckets is bounded: idle (refilled) buckets are dropped when the map
//! is full, and while it is still full a new key is refused, so a client spraying keys (addresses)
//! cannot grow memory without bound.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// Most buckets kept at once.
const MAX_BUCKETS: usize = 100_000;

pub(crate) struct RateLimiter<K = String> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_second` tokens a second, up to twice that saved up; 0 turns the limit off.
    pub(crate) fn new(per_second: u32) -> RateLimiter<K> {
        RateLimiter::with_burst(per_second, per_second.saturating_mul(2))
    }

    /// `per_second` tokens a second, up to `burst` saved up; a rate of 0 turns the limit off.
    pub(crate) fn with_burst(per_second: u32, burst: u32) -> RateLimiter<K> {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; on refusal, the seconds until one is available.
    pub(crate) fn check(&self, key: &K) -> Result<(), u64> {
        self.with_bucket(key, true)
    }

    /// Whether `key` has a token now, without taking it.
    pub(crate) fn peek(&self, key: &K) -> Result<(), u64> {
        self.with_bucket(key, false)
    }

    fn with_bucket(&self, key: &K, take: bool) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !b.contains_key(key) && b.len() >= MAX_BUCKETS {
            let (rate, burst) = (self.per_second, self.burst);
            b.retain(|_, (t, last)| *t + now.duration_since(*last).as_secs_f64() * rate < burst);
            if b.len() >= MAX_BUCKETS {
                return Err(1);
            }
        }
        let (tokens, last) = b.entry(key.clone()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            if take {
                *tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Keys a [`Budget`] remembers before it forgets those with a full budget.
const MAX_KEYS: usize = 100_000;

/// A budget of `capacity` outcomes per `window` per key, refilled continuously.
pub(crate) struct Budget {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Budget {
    pub(crate) fn new(capacity: u32, window: std::time::Duration) -> Budget {
        Budget {
            capacity: f64::from(capacity),
            per_second: f64::from(capacity) / window.as_secs_f64(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The budget left to `key` now, refilled up to capacity.
    fn left<'a>(
        &self,
        b: &'a mut HashMap<String, (f64, Instant)>,
        key: &str,
    ) -> &'a mut (f64, Instant) {
        let now = Instant::now();
        // Bounded: past MAX_KEYS keys, those whose budget has refilled completely are forgotten
        // (forgetting them changes nothing: a new entry starts full).
        if b.len() >= MAX_KEYS && !b.contains_key(key) {
            let (capacity, rate) = (self.capacity, self.per_second);
            b.retain(|_, (left, at)| {
                *left + now.duration_since(*at).as_secs_f64() * rate < capacity
            });
        }
        let entry = b.entry(key.to_owned()).or_insert((self.capacity, now));
        entry.0 = (entry.0 + now.duration_since(entry.1).as_secs_f64() * self.per_second)
            .min(self.capacity);
        entry.1 = now;
        entry
    }

    /// `Ok` while `key` has budget left; otherwise the seconds until it has.
    pub(crate) fn check(&self, key: &str) -> Result<(), u64> {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (left, _) = *self.left(&mut b, key);
        if left >= 1.0 {
            Ok(())
        } else {
            Err(((1.0 - left) / self.per_second).ceil().max(1.0) as u64)
        }
    }

    /// Spends one unit of `key`'s budget; true when this spent the last of it (the limit trips).
    pub(crate) fn spend(&self, key: &str) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let entry = self.left(&mut b, key);
        let before = entry.0;
        // Requests checked before the budget ran out may still spend it: never below -capacity,
        // so a burst cannot lock a key out for longer than two windows.
        entry.0 = (entry.0 - 1.0).max(-self.capacity);
        before >= 1.0 && entry.0 < 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_spent_then_refused_per_key() {
        let b = Budget::new(3, std::time::Duration::from_secs(60));
        assert!(!b.spend("k") && !b.spend("k"));
        assert!(b.check("k").is_ok());
        assert!(b.spend("k"), "the third spends the last");
        assert_eq!(b.check("k"), Err(20), "one unit refills in 60 s / 3");
        assert!(!b.spend("k"), "tripped once only");
        assert!(b.check("other").is_ok(), "budgets are per key");
    }

    #[test]
    fn allows_burst_then_refuses() {
        let r = RateLimiter::new(2);
        let k = "k".to_owned();
        for _ in 0..4 {
            assert!(r.check(&k).is_ok());
        }
        assert_eq!(r.check(&k), Err(1));
        assert_eq!(r.peek(&k), Err(1));
        assert!(r.check(&"other".to_owned()).is_ok(), "buckets are per key");
        assert!(RateLimiter::new(0).check(&k).is_ok());
    }

    #[test]
    fn peeking_takes_nothing() {
        let r = RateLimiter::with_burst(1, 1);
        assert!(r.peek(&1u8).is_ok());
        assert!(r.peek(&1u8).is_ok());
        assert!(r.check(&1u8).is_ok());
        assert!(r.peek(&1u8).is_err());
    }
}
