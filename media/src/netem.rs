//! A network on simulated time, for tests: what is sent at `now` arrives
//! after a base delay plus random jitter (so packets overtake each other),
//! or is lost, or arrives twice. Every draw comes from a seeded generator,
//! so a test meets the same network on every run, and a failure replays.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How the simulated path treats packets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetemConfig {
    /// Every packet takes at least this long.
    pub delay: Duration,
    /// Plus a uniform random extra of up to this much: packets sent closer
    /// together than the jitter may arrive in another order.
    pub jitter: Duration,
    /// Share of packets lost, 0.0–1.0.
    pub loss: f64,
    /// Share of packets that arrive twice (the copy with its own delay).
    pub duplicate: f64,
    pub seed: u64,
}

impl Default for NetemConfig {
    /// A clean path: 10 ms, nothing lost.
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            seed: 1,
        }
    }
}

/// Packets in flight on one direction of a simulated path.
pub struct Netem<T> {
    config: NetemConfig,
    rng: StdRng,
    /// By arrival time; the counter keeps equal times in sending order.
    in_flight: BTreeMap<(Instant, u64), T>,
    sent: u64,
    /// How many the path dropped.
    pub lost: u64,
}

impl<T: Clone> Netem<T> {
    pub fn new(config: NetemConfig) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            in_flight: BTreeMap::new(),
            sent: 0,
            lost: 0,
        }
    }

    /// Puts `packet` on the path at `now`.
    pub fn send(&mut self, now: Instant, packet: T) {
        if self.rng.random::<f64>() < self.config.loss {
            self.lost += 1;
            return;
        }
        let copies = if self.rng.random::<f64>() < self.config.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let extra = self.config.jitter.mul_f64(self.rng.random::<f64>());
            self.sent += 1;
            self.in_flight
                .insert((now + self.config.delay + extra, self.sent), packet.clone());
        }
    }

    /// When the next packet arrives, if any is in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    /// The next packet that has arrived by `now`, with its arrival time.
    pub fn poll_receive(&mut self, now: Instant) -> Option<(Instant, T)> {
        let (&(at, n), _) = self.in_flight.iter().next()?;
        if at > now {
            return None;
        }
        self.in_flight.remove(&(at, n)).map(|p| (at, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrivals(config: NetemConfig) -> Vec<u32> {
        let t0 = Instant::now();
        let mut net = Netem::new(config);
        for i in 0..200u32 {
            net.send(t0 + Duration::from_millis(u64::from(i) * 20), i);
        }
        let mut out = Vec::new();
        while let Some((_, p)) = net.poll_receive(t0 + Duration::from_secs(60)) {
            out.push(p);
        }
        out
    }

    #[test]
    fn the_same_seed_gives_the_same_network() {
        let config = NetemConfig {
            jitter: Duration::from_millis(60),
            loss: 0.1,
            duplicate: 0.05,
            seed: 42,
            ..NetemConfig::default()
        };
        let a = arrivals(config);
        assert_eq!(a, arrivals(config));
        assert_ne!(a, arrivals(NetemConfig { seed: 43, ..config }));
        // Lossy, reordered and duplicated, as asked.
        assert!(a.len() < 200 && a.len() > 150, "{}", a.len());
        assert!(a.windows(2).any(|w| w[1] < w[0]), "no reordering");
        let mut sorted = a.clone();
        sorted.sort();
        sorted.dedup();
        assert!(sorted.len() < a.len(), "no duplicate");
    }

    #[test]
    fn a_clean_path_delivers_everything_in_order_after_the_delay() {
        let t0 = Instant::now();
        let mut net = Netem::new(NetemConfig::default());
        net.send(t0, 1);
        net.send(t0, 2);
        assert_eq!(net.poll_timeout(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(net.poll_receive(t0 + Duration::from_millis(9)), None);
        let at = t0 + Duration::from_millis(10);
        assert_eq!(net.poll_receive(at), Some((at, 1)));
        assert_eq!(net.poll_receive(at), Some((at, 2)));
        assert_eq!(net.poll_timeout(), None);
    }
}
