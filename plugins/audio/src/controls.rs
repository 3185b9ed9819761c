//! What the page sets outside a call and every call reads: the selected
//! devices and volumes (mute is each call's own: `calls.rs`). Media threads read the atomics each frame, so a
//! change applies to the signal within 20 ms.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use crate::devices::{self, DeviceKind, Direction};

/// Volumes are 0–100; 100 is unity gain.
pub const DEFAULT_VOLUME: u8 = 100;

pub struct Controls {
    pub mic_volume: AtomicU8,
    pub speaker_volume: AtomicU8,
    /// Bumped when a selection changes, so running calls reopen their devices.
    pub generation: AtomicU64,
    configured_mic: Option<DeviceKind>,
    configured_speaker: Option<DeviceKind>,
    pub ring: Option<DeviceKind>,
    selected: Mutex<Selection>,
}

#[derive(Default)]
struct Selection {
    mic: Option<DeviceKind>,
    speaker: Option<DeviceKind>,
}

impl Controls {
    pub fn new(
        mic: Option<DeviceKind>,
        speaker: Option<DeviceKind>,
        ring: Option<DeviceKind>,
    ) -> Self {
        Self {
            mic_volume: AtomicU8::new(DEFAULT_VOLUME),
            speaker_volume: AtomicU8::new(DEFAULT_VOLUME),
            generation: AtomicU64::new(0),
            configured_mic: mic,
            configured_speaker: speaker,
            ring,
            selected: Mutex::new(Selection::default()),
        }
    }

    fn configured(&self, direction: Direction) -> Option<&DeviceKind> {
        match direction {
            Direction::Input => self.configured_mic.as_ref(),
            Direction::Output => self.configured_speaker.as_ref(),
        }
    }

    /// The list the page sees for `direction` (enumerates sound devices).
    pub fn list(&self, direction: Direction) -> Vec<DeviceKind> {
        devices::list(direction, self.configured(direction))
    }

    fn slot(sel: &mut Selection, direction: Direction) -> &mut Option<DeviceKind> {
        match direction {
            Direction::Input => &mut sel.mic,
            Direction::Output => &mut sel.speaker,
        }
    }

    /// The selected device's index in `list`. A selection that vanished
    /// falls back to index 0; the returned flag says so.
    pub fn index_in(&self, direction: Direction, list: &[DeviceKind]) -> (usize, bool) {
        let mut sel = self.selected.lock().unwrap_or_else(|p| p.into_inner());
        let slot = Self::slot(&mut sel, direction);
        match slot {
            None => (0, false),
            Some(kind) => match list.iter().position(|d| d.same_as(kind)) {
                Some(i) => (i, false),
                None => {
                    *slot = None;
                    self.generation.fetch_add(1, Ordering::AcqRel);
                    (0, true)
                }
            },
        }
    }

    /// Selects `list[index]`; `None` when there is no such index.
    pub fn select(
        &self,
        direction: Direction,
        list: &[DeviceKind],
        index: usize,
    ) -> Option<DeviceKind> {
        let kind = list.get(index)?.clone();
        let mut sel = self.selected.lock().unwrap_or_else(|p| p.into_inner());
        *Self::slot(&mut sel, direction) = Some(kind.clone());
        self.generation.fetch_add(1, Ordering::AcqRel);
        Some(kind)
    }

    /// The device a call should open now: the selection, else the
    /// configured device, else the system default (first in the list).
    pub fn current(&self, direction: Direction) -> DeviceKind {
        let selected = {
            let mut sel = self.selected.lock().unwrap_or_else(|p| p.into_inner());
            Self::slot(&mut sel, direction).clone()
        };
        selected
            .or_else(|| self.configured(direction).cloned())
            .unwrap_or_else(|| {
                self.list(direction)
                    .into_iter()
                    .next()
                    .unwrap_or(DeviceKind::Null)
            })
    }

    /// The microphone's gain in a call that is `muted` or not.
    pub fn mic_gain(&self, muted: bool) -> f32 {
        if muted {
            0.0
        } else {
            f32::from(self.mic_volume.load(Ordering::Acquire)) / 100.0
        }
    }

    pub fn speaker_gain(&self) -> f32 {
        f32::from(self.speaker_volume.load(Ordering::Acquire)) / 100.0
    }
}
