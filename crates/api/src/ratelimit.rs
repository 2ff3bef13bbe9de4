//! Per-key rate limiting: a token bucket per API key, refilled continuously. [`RateLimiter`]
//! limits requests; [`Budget`] limits a rare outcome (idempotency conflicts): spent by the outcome,
//! checked before each request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub(crate) struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; on refusal, the seconds until one is available.
    pub(crate) fn check(&self, key: &str) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let burst = self.per_second * 2.0;
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = b.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

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
        for _ in 0..4 {
            assert!(r.check("k").is_ok());
        }
        assert_eq!(r.check("k"), Err(1));
        assert!(r.check("other").is_ok(), "buckets are per key");
        assert!(RateLimiter::new(0).check("k").is_ok());
    }
}
