//! How tall each lane of the recording view is: by default the lanes share the height the window
//! has (so at 1280×800 every lane of an analysed recording is visible without scrolling); a lane
//! the user resized keeps its height, a collapsed lane is a title bar. Also whether the label
//! strip is folded. Pure: the panel reads it, actions change it.

use std::collections::{BTreeMap, BTreeSet};

/// The resizable lanes, top to bottom (the ruler and the segments lane have fixed heights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LaneKind {
    Original,
    Enhanced,
    Spectrogram,
    Prosody,
    Trajectory,
    SerRouter,
    SeRouter,
    /// The time-continuous trace of the chosen dimension (when the project traces any).
    Trace,
}

impl LaneKind {
    /// The height the lane was designed at; defaults scale from these.
    #[must_use]
    pub fn base_px(self) -> f32 {
        match self {
            Self::Original | Self::Enhanced => 80.0,
            Self::Spectrogram => 110.0,
            Self::Prosody => 70.0,
            Self::Trajectory => 150.0,
            Self::SerRouter | Self::SeRouter => 72.0,
            Self::Trace => 140.0,
        }
    }

    /// The title a collapsed lane shows.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Original => "Original",
            Self::Enhanced => "Enhanced (Sparse MERIT)",
            Self::Spectrogram => "Spectrogram",
            Self::Prosody => "Pitch and intensity",
            Self::Trajectory => "Emotion trajectory",
            Self::SerRouter => "SER router",
            Self::SeRouter => "SE router",
            Self::Trace => "Trace",
        }
    }
}

/// A collapsed lane's height.
pub const COLLAPSED_PX: f32 = 18.0;
/// The drag handle under each lane.
pub const HANDLE_PX: f32 = 6.0;
/// The smallest height a lane is drawn at (and can be dragged to).
pub const MIN_PX: f32 = 32.0;
/// The largest height a lane can be dragged to.
pub const MAX_PX: f32 = 800.0;
/// A default (fitted) lane grows to at most this many times its base height.
const MAX_GROWTH: f32 = 2.5;

#[derive(Debug, Default)]
pub struct LaneLayout {
    /// Heights the user dragged lanes to.
    chosen: BTreeMap<LaneKind, f32>,
    collapsed: BTreeSet<LaneKind>,
    /// The label strip shows only its first row (class, accept, undo).
    pub label_folded: bool,
}

impl LaneLayout {
    #[must_use]
    pub fn is_collapsed(&self, lane: LaneKind) -> bool {
        self.collapsed.contains(&lane)
    }

    pub fn toggle_collapsed(&mut self, lane: LaneKind) {
        if !self.collapsed.remove(&lane) {
            self.collapsed.insert(lane);
        }
    }

    /// The user dragged `lane` to `height_px` (kept between [`MIN_PX`] and [`MAX_PX`]).
    pub fn set_height(&mut self, lane: LaneKind, height_px: f32) {
        self.chosen.insert(lane, height_px.clamp(MIN_PX, MAX_PX));
    }

    /// The height of each of `lanes` (in order), sharing `available_px` (the handles under them
    /// included): collapsed lanes are title bars, resized lanes keep their height, the others
    /// share what is left in proportion to their base heights, at least [`MIN_PX`] each (the
    /// view scrolls when even that does not fit).
    #[must_use]
    pub fn heights(&self, lanes: &[LaneKind], available_px: f32) -> Vec<f32> {
        let fixed: f32 = lanes
            .iter()
            .map(|lane| {
                if self.is_collapsed(*lane) {
                    COLLAPSED_PX
                } else {
                    self.chosen.get(lane).copied().unwrap_or(0.0) + HANDLE_PX
                }
            })
            .sum();
        let flexible: f32 = lanes
            .iter()
            .filter(|lane| !self.is_collapsed(**lane) && !self.chosen.contains_key(lane))
            .map(|lane| lane.base_px())
            .sum();
        let scale = if flexible > 0.0 {
            ((available_px - fixed) / flexible).max(0.0)
        } else {
            1.0
        };
        lanes
            .iter()
            .map(|lane| {
                if self.is_collapsed(*lane) {
                    COLLAPSED_PX
                } else if let Some(chosen) = self.chosen.get(lane) {
                    *chosen
                } else {
                    (lane.base_px() * scale).clamp(MIN_PX, lane.base_px() * MAX_GROWTH)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [LaneKind; 7] = [
        LaneKind::Original,
        LaneKind::Enhanced,
        LaneKind::Spectrogram,
        LaneKind::Trajectory,
        LaneKind::Prosody,
        LaneKind::SerRouter,
        LaneKind::SeRouter,
    ];

    fn total(heights: &[f32]) -> f32 {
        heights.iter().map(|h| h + HANDLE_PX).sum()
    }

    #[test]
    fn default_lanes_fill_the_height_in_proportion() {
        let layout = LaneLayout::default();
        let heights = layout.heights(&ALL, 480.0);
        assert!((total(&heights) - 480.0).abs() < 0.5, "{heights:?}");
        // The trajectory was designed taller than a waveform and stays so.
        assert!(heights[3] > heights[0] * 1.8);
        // Much room: lanes stop growing; little room: they keep a minimum (and the view scrolls).
        assert!(layout.heights(&ALL, 5_000.0)[0] <= 80.0 * MAX_GROWTH);
        assert!(layout.heights(&ALL, 50.0).iter().all(|h| *h >= MIN_PX));
    }

    #[test]
    fn resized_and_collapsed_lanes_leave_the_rest_to_the_others() {
        let mut layout = LaneLayout::default();
        let before = layout.heights(&ALL, 480.0);
        layout.set_height(LaneKind::Spectrogram, 300.0);
        layout.toggle_collapsed(LaneKind::SerRouter);
        let after = layout.heights(&ALL, 480.0);
        assert_eq!(after[2], 300.0);
        assert_eq!(after[5], COLLAPSED_PX, "{ALL:?}");
        assert!(after[0] < before[0], "the others shrink to make room");
        layout.toggle_collapsed(LaneKind::SerRouter);
        assert!(!layout.is_collapsed(LaneKind::SerRouter));
        layout.set_height(LaneKind::Original, 1.0);
        assert_eq!(layout.heights(&ALL, 480.0)[0], MIN_PX);
    }
}
