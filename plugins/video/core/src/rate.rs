//! What we send, adapted to the path: the peer's receiver reports say how
//! much of our stream it lost, and the bitrate steps down under loss and
//! back up when the path is clean; below half the configured rate the frame
//! rate halves, below a third the picture size halves. Never above what the
//! configuration or the peer's `b=AS`/`b=TIAS` allow.

/// What the encoder should make now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub bitrate: u32,
    pub fps: u32,
    /// 1 = the configured size, 2 = half width and height.
    pub divide: u32,
}

pub struct RateControl {
    ceiling: u32,
    fps: u32,
    floor: u32,
    current: u32,
    clean_reports: u32,
}

/// Loss (out of 256) above which we step down (~8 %), and below which a
/// report counts as clean (~2 %).
const LOSSY: u8 = 20;
const CLEAN: u8 = 5;

impl RateControl {
    /// `bitrate` and `fps` from `[video]`; `peer_max` from the peer's SDP.
    pub fn new(bitrate: u32, fps: u32, peer_max: Option<u32>) -> RateControl {
        let ceiling = peer_max.map_or(bitrate, |m| m.min(bitrate)).max(50_000);
        RateControl {
            ceiling,
            fps: fps.max(1),
            floor: (ceiling / 10).max(50_000),
            current: ceiling,
            clean_reports: 0,
        }
    }

    pub fn rate(&self) -> Rate {
        Rate {
            bitrate: self.current,
            fps: if self.current * 2 < self.ceiling {
                (self.fps / 2).max(1)
            } else {
                self.fps
            },
            divide: if self.current * 3 < self.ceiling {
                2
            } else {
                1
            },
        }
    }

    /// A report from the peer; the new rate when it changed.
    pub fn report(&mut self, fraction_lost: u8) -> Option<Rate> {
        let before = self.rate();
        if fraction_lost > LOSSY {
            self.clean_reports = 0;
            // Down in proportion to the loss (RFC 8836's spirit: at least 15 %).
            let keep = (256 - u32::from(fraction_lost)).min(218);
            self.current = (u64::from(self.current) * u64::from(keep) / 256) as u32;
        } else if fraction_lost < CLEAN {
            self.clean_reports += 1;
            // Up 10 % after two clean reports in a row.
            if self.clean_reports >= 2 {
                self.current = self.current.saturating_add(self.current / 10);
            }
        }
        self.current = self.current.clamp(self.floor, self.ceiling);
        let after = self.rate();
        (after != before).then_some(after)
    }
}

/// Halves a picture's width and height (2×2 averages), for `divide` 2.
pub fn half(p: &crate::picture::Picture) -> crate::picture::Picture {
    let (w, h) = (p.width as usize, p.height as usize);
    let (hw, hh) = ((w / 2) & !1, (h / 2) & !1);
    let mut out = Vec::with_capacity(hw * hh * 3 / 2);
    let plane = |out: &mut Vec<u8>, base: usize, pw: usize, ow: usize, oh: usize| {
        for y in 0..oh {
            for x in 0..ow {
                let at =
                    |dx: usize, dy: usize| u16::from(p.i420[base + (2 * y + dy) * pw + 2 * x + dx]);
                out.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8);
            }
        }
    };
    plane(&mut out, 0, w, hw, hh);
    plane(&mut out, w * h, w / 2, hw / 2, hh / 2);
    plane(&mut out, w * h + w * h / 4, w / 2, hw / 2, hh / 2);
    crate::picture::Picture {
        width: hw as u32,
        height: hh as u32,
        i420: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::Picture;

    #[test]
    fn loss_steps_down_and_a_clean_path_steps_back_up() {
        let mut rc = RateControl::new(800_000, 25, None);
        assert_eq!(
            rc.rate(),
            Rate {
                bitrate: 800_000,
                fps: 25,
                divide: 1
            }
        );
        assert_eq!(rc.report(2), None, "clean at the ceiling: no change");
        let r = rc.report(64).unwrap(); // 25 % lost
        assert_eq!(r.bitrate, 600_000);
        // Heavy loss for a while: down to the floor, half rate, half size.
        for _ in 0..20 {
            rc.report(128);
        }
        assert_eq!(
            rc.rate(),
            Rate {
                bitrate: 80_000,
                fps: 12,
                divide: 2
            }
        );
        // Moderate loss (between clean and lossy) holds the rate.
        assert_eq!(rc.report(10), None);
        // Clean reports climb back, never past the ceiling.
        for _ in 0..100 {
            rc.report(0);
        }
        assert_eq!(
            rc.rate(),
            Rate {
                bitrate: 800_000,
                fps: 25,
                divide: 1
            }
        );
    }

    #[test]
    fn the_peer_bandwidth_caps_the_rate() {
        let rc = RateControl::new(800_000, 25, Some(300_000));
        assert_eq!(rc.rate().bitrate, 300_000);
        let rc = RateControl::new(800_000, 25, Some(1));
        assert_eq!(rc.rate().bitrate, 50_000, "never below a usable minimum");
    }

    #[test]
    fn half_averages_two_by_two() {
        let mut p = Picture::filled(4, 4, (100, 50, 200));
        p.i420[0] = 104; // one luma sample of the top-left block
        let h = half(&p);
        assert_eq!((h.width, h.height), (2, 2));
        assert_eq!(h.yuv(0, 0), (101, 50, 200));
        assert_eq!(h.yuv(1, 1), (100, 50, 200));
    }
}
