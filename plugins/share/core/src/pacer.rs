//! How often a shared screen is grabbed: only after something in it
//! changed, and then at most 5 times a second while changes are sparse
//! (typing, a click), up to 15 while they go on (scrolling, a video); a
//! still screen is not grabbed at all. Sans-IO: fed damage and `now`.

use std::time::{Duration, Instant};

/// The slower pace, for sparse changes.
pub const STILL_FPS: u32 = 5;
/// The faster pace, while the screen keeps changing.
pub const MOVING_FPS: u32 = 15;
/// Changes in this many grabs in a row mean the screen is moving.
const BUSY_AFTER: u32 = 3;
/// Without a change this long, back to the slower pace.
const CALM_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Pacer {
    /// Something changed since the last grab.
    dirty: bool,
    last_grab: Option<Instant>,
    last_change: Option<Instant>,
    /// Changes in a row that came sooner after a grab than the slow pace.
    busy: u32,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

impl Pacer {
    /// A new share: the first grab is due at once.
    pub fn new() -> Pacer {
        Pacer {
            dirty: true,
            last_grab: None,
            last_change: None,
            busy: 0,
        }
    }

    /// Something in the shared area changed.
    pub fn changed(&mut self, now: Instant) {
        if !self.dirty {
            // The first change since the last grab: sooner than the slow
            // pace allows means the screen changes faster than it.
            let soon = self
                .last_grab
                .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1) / STILL_FPS);
            self.busy = if soon { self.busy + 1 } else { 0 };
        }
        self.dirty = true;
        self.last_change = Some(now);
    }

    /// The pace now.
    pub fn fps(&self, now: Instant) -> u32 {
        let calm = self
            .last_change
            .is_none_or(|t| now.duration_since(t) >= CALM_AFTER);
        if self.busy >= BUSY_AFTER && !calm {
            MOVING_FPS
        } else {
            STILL_FPS
        }
    }

    /// When the next grab is due: `None` while nothing changed.
    pub fn next_grab(&self, now: Instant) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        let every = Duration::from_secs(1) / self.fps(now);
        Some(self.last_grab.map_or(now, |t| t + every))
    }

    /// Whether to grab now.
    pub fn due(&self, now: Instant) -> bool {
        self.next_grab(now).is_some_and(|at| at <= now)
    }

    /// A grab was made.
    pub fn grabbed(&mut self, now: Instant) {
        self.dirty = false;
        self.last_grab = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grabs made in `secs` with a change every `change_every`.
    fn run(secs: u64, change_every: Option<Duration>) -> u32 {
        let t0 = Instant::now();
        let mut p = Pacer::new();
        let mut grabs = 0;
        let tick = Duration::from_millis(5);
        let mut now = t0;
        let mut next_change = change_every.map(|d| t0 + d);
        while now < t0 + Duration::from_secs(secs) {
            if let (Some(at), Some(every)) = (next_change, change_every) {
                if now >= at {
                    p.changed(now);
                    next_change = Some(at + every);
                }
            }
            if p.due(now) {
                p.grabbed(now);
                grabs += 1;
            }
            now += tick;
        }
        grabs
    }

    #[test]
    fn a_still_screen_is_grabbed_once() {
        assert_eq!(run(20, None), 1);
    }

    #[test]
    fn sparse_changes_are_grabbed_as_they_come() {
        // A key press every 400 ms: one grab each.
        let n = run(10, Some(Duration::from_millis(400)));
        assert!((24..=26).contains(&n), "{n}");
    }

    #[test]
    fn changes_faster_than_five_a_second_are_paced() {
        // Every 150 ms: the pace starts at 5 a second, then follows.
        let n = run(10, Some(Duration::from_millis(150)));
        assert!((60..=68).contains(&n), "{n}");
    }

    #[test]
    fn continuous_change_goes_up_to_fifteen_a_second() {
        let n = run(10, Some(Duration::from_millis(20)));
        assert!((130..=151).contains(&n), "{n}");
    }

    #[test]
    fn after_a_calm_second_the_pace_drops_again() {
        let t0 = Instant::now();
        let mut p = Pacer::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(1) {
            p.changed(now);
            if p.due(now) {
                p.grabbed(now);
            }
            now += Duration::from_millis(10);
        }
        assert_eq!(p.fps(now), MOVING_FPS);
        p.grabbed(now);
        assert_eq!(p.fps(now + Duration::from_millis(1100)), STILL_FPS);
        assert_eq!(
            p.next_grab(now + Duration::from_secs(5)),
            None,
            "nothing changed"
        );
    }
}
