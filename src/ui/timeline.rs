//! The one time axis every pane of the recording view shares: the visible span, zoom and scroll
//! (pure arithmetic, tested without a window), and the h:mm:ss.mmm ruler.

/// Shortest visible span: 20 ms, a router frame.
const MIN_SPAN_S: f64 = 0.02;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    pub duration_s: f64,
    pub start_s: f64,
    pub span_s: f64,
}

impl Timeline {
    /// The whole recording in view.
    #[must_use]
    pub fn new(duration_s: f64) -> Self {
        let duration_s = duration_s.max(MIN_SPAN_S);
        Self {
            duration_s,
            start_s: 0.0,
            span_s: duration_s,
        }
    }

    #[must_use]
    pub fn end_s(&self) -> f64 {
        self.start_s + self.span_s
    }

    pub fn fit(&mut self) {
        *self = Self::new(self.duration_s);
    }

    /// Zooms by `factor` (< 1 zooms in) keeping the time under `anchor_s` where it is.
    pub fn zoom(&mut self, factor: f64, anchor_s: f64) {
        let span = (self.span_s * factor).clamp(MIN_SPAN_S, self.duration_s);
        let anchor_fraction = ((anchor_s - self.start_s) / self.span_s).clamp(0.0, 1.0);
        self.start_s = anchor_s - anchor_fraction * span;
        self.span_s = span;
        self.clamp();
    }

    /// Shows `[from_s, to_s]` (in either order).
    pub fn show(&mut self, from_s: f64, to_s: f64) {
        let (from, to) = (from_s.min(to_s), from_s.max(to_s));
        self.span_s = (to - from).clamp(MIN_SPAN_S, self.duration_s);
        self.start_s = from;
        self.clamp();
    }

    /// Moves the view by `fraction` of its span (negative = earlier).
    pub fn scroll(&mut self, fraction: f64) {
        self.start_s += fraction * self.span_s;
        self.clamp();
    }

    /// Scrolls just enough to keep `time_s` in view (following the playhead).
    pub fn follow(&mut self, time_s: f64) {
        if time_s < self.start_s || time_s > self.end_s() {
            self.start_s = time_s - 0.1 * self.span_s;
            self.clamp();
        }
    }

    fn clamp(&mut self) {
        self.start_s = self
            .start_s
            .clamp(0.0, (self.duration_s - self.span_s).max(0.0));
    }

    /// x coordinate of `time_s` in a pane spanning `left..left + width`.
    #[must_use]
    pub fn x_of(&self, time_s: f64, left: f32, width: f32) -> f32 {
        left + ((time_s - self.start_s) / self.span_s) as f32 * width
    }

    /// Time under x in a pane spanning `left..left + width`.
    #[must_use]
    pub fn time_at(&self, x: f32, left: f32, width: f32) -> f64 {
        self.start_s + f64::from((x - left) / width.max(1.0)) * self.span_s
    }

    /// Ruler ticks: a round step giving at most `max_ticks` ticks, and the tick times in view.
    #[must_use]
    pub fn ticks(&self, max_ticks: usize) -> (f64, Vec<f64>) {
        const STEPS: [f64; 17] = [
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
            300.0, 600.0,
        ];
        let wanted = self.span_s / max_ticks.max(1) as f64;
        let step = STEPS
            .iter()
            .copied()
            .find(|&s| s >= wanted)
            .unwrap_or_else(|| (wanted / 3600.0).ceil() * 3600.0);
        let first = (self.start_s / step).ceil() as i64;
        let last = (self.end_s() / step).floor() as i64;
        (step, (first..=last).map(|i| i as f64 * step).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_keeps_the_anchor_still_and_stays_inside() {
        let mut view = Timeline::new(100.0);
        view.zoom(0.1, 50.0);
        assert!((view.span_s - 10.0).abs() < 1e-9);
        assert!((view.start_s - 45.0).abs() < 1e-9);
        view.zoom(0.5, 45.0);
        assert!((view.start_s - 45.0).abs() < 1e-9);
        view.zoom(1000.0, 0.0);
        assert_eq!(view, Timeline::new(100.0));
        view.zoom(1e-9, 10.0);
        assert!((view.span_s - MIN_SPAN_S).abs() < 1e-12);
    }

    #[test]
    fn scrolling_and_following_clamp_to_the_recording() {
        let mut view = Timeline::new(60.0);
        view.show(10.0, 20.0);
        view.scroll(-5.0);
        assert_eq!(view.start_s, 0.0);
        view.scroll(100.0);
        assert!((view.end_s() - 60.0).abs() < 1e-9);
        view.show(0.0, 10.0);
        view.follow(15.0);
        assert!(view.start_s <= 15.0 && view.end_s() >= 15.0);
    }

    #[test]
    fn pixels_and_times_round_trip() {
        let mut view = Timeline::new(10.0);
        view.show(2.0, 4.0);
        let x = view.x_of(3.0, 100.0, 400.0);
        assert!((x - 300.0).abs() < 1e-4);
        assert!((view.time_at(x, 100.0, 400.0) - 3.0).abs() < 1e-6);
    }

    #[test]
    fn ruler_ticks_are_round() {
        let mut view = Timeline::new(3600.0);
        let (step, ticks) = view.ticks(10);
        assert_eq!(step, 600.0);
        assert_eq!(ticks.len(), 7);
        view.show(1.0, 1.2);
        let (step, ticks) = view.ticks(10);
        assert_eq!(step, 0.02);
        assert!((ticks[0] - 1.0).abs() < 1e-9);
    }
}
