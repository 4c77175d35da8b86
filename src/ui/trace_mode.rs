//! The window's trace part: tracing a dimension while the recording plays. A pass samples the
//! current value at the scheme's rate against the *playback position* (audio time): each frame,
//! every grid point `k / rate_hz` the playhead has passed since the last frame gets the value
//! held now, so speed changes and pauses never stretch the trace. Samples go to the journal in
//! blocks of at most half a second; the pass ends at the end of the recording (complete), on the
//! trace key or a seek backwards (incomplete, kept), or when the gamepad goes away (incomplete).

use crate::annotation::AnnotationStore;
use crate::annotation::trace::{PassState, TraceInput, block_len};
use crate::project::{Project, TraceMode, TraceScheme};

/// A stick of a gamepad (or a test's stand-in): its vertical axis in −1…1, and whether the pad
/// is still there. A pass started while a pad is connected follows the stick (and ends, kept as
/// incomplete, if the pad goes away); otherwise it follows the pointer and keys.
pub trait StickInput {
    /// `None` when no pad is connected.
    fn axis(&mut self) -> Option<f64>;
}

/// The pass being traced.
#[derive(Debug, Clone)]
pub struct ActivePass {
    pub file: String,
    pub pass: u64,
    pub scheme: TraceScheme,
    /// Grid index the next sample belongs to.
    pub next_index: u64,
    /// The pass follows the gamepad stick.
    pub gamepad: bool,
    /// Samples not yet written (less than a block).
    pub pending: Vec<f64>,
    /// Every sample of the pass so far (for drawing it live).
    pub values: Vec<f64>,
    pub start_index: u64,
}

/// Trace mode: which dimension, the value the input holds now, and the running pass.
#[derive(Default)]
pub struct Tracing {
    /// Index into the project's trace schemes.
    pub dimension: usize,
    /// The value the annotator holds now, on the scheme's scale (relative: unbounded).
    pub value: Option<f64>,
    pub active: Option<ActivePass>,
    /// The gamepad stick, when one is in use.
    pub stick: Option<Box<dyn StickInput>>,
    /// Why the last trace action failed, or how the last pass ended.
    pub message: Option<String>,
}

impl Tracing {
    /// The dimension traced now among `project`'s trace schemes.
    #[must_use]
    pub fn scheme(&self, project: Option<&Project>) -> Option<TraceScheme> {
        let schemes = project?.file.traces.schemes(&project?.file.label_scheme);
        schemes.get(self.dimension % schemes.len().max(1)).cloned()
    }

    /// Starts a pass of `scheme` over `file` at `position_s` of audio.
    pub fn start(
        &mut self,
        store: &mut AnnotationStore,
        file: &str,
        scheme: &TraceScheme,
        position_s: f64,
    ) {
        let gamepad = self.stick.as_mut().and_then(|s| s.axis()).is_some();
        let input = if gamepad {
            TraceInput::Gamepad
        } else {
            TraceInput::Mouse
        };
        let start_index = (position_s * scheme.rate_hz).ceil().max(0.0) as u64;
        if self.value.is_none() {
            let (min, max) = scheme.range();
            self.value = Some(match scheme.mode {
                TraceMode::Bounded { .. } => (min + max) / 2.0,
                TraceMode::Relative => 0.0,
            });
        }
        match store.begin_pass(file, scheme, input, start_index) {
            Ok(pass) => {
                self.message = None;
                self.active = Some(ActivePass {
                    file: file.to_owned(),
                    pass,
                    scheme: scheme.clone(),
                    gamepad,
                    next_index: start_index,
                    pending: Vec::new(),
                    values: Vec::new(),
                    start_index,
                });
            }
            Err(error) => self.message = Some(format!("cannot start a trace: {error}")),
        }
    }

    /// Sets the held value (clamped to a bounded scale).
    pub fn set_value(&mut self, value: f64, scheme: &TraceScheme) {
        self.value = Some(match scheme.mode {
            TraceMode::Bounded { min, max } => value.clamp(min, max),
            TraceMode::Relative => value,
        });
    }

    /// Takes the samples due at `position_s` of audio; ends the pass at `end` (the recording's
    /// end, reached) or when the playhead went back. Called once per frame.
    pub fn sample(&mut self, store: &mut AnnotationStore, position_s: f64, at_end: bool) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        if let Some(stick) = self.stick.as_mut().filter(|_| active.gamepad) {
            match stick.axis() {
                Some(axis) => {
                    let scheme = active.scheme.clone();
                    let (min, max) = scheme.range();
                    let value = match scheme.mode {
                        TraceMode::Bounded { .. } => min + (axis + 1.0) / 2.0 * (max - min),
                        TraceMode::Relative => self.value.unwrap_or(0.0) + axis * 0.02,
                    };
                    self.set_value(value, &scheme);
                }
                None => {
                    self.stop(store, PassState::Incomplete, "the gamepad went away");
                    return;
                }
            }
        }
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let rate = active.scheme.rate_hz;
        let last_taken = active.next_index as f64 / rate - 1.0 / rate;
        if position_s < last_taken - 1.0 / rate {
            self.stop(store, PassState::Incomplete, "the playhead went back");
            return;
        }
        let value = self.value.unwrap_or(0.0);
        let due = (position_s * rate + 1e-9).floor() as u64;
        while active.next_index <= due {
            active.pending.push(value);
            active.values.push(value);
            active.next_index += 1;
        }
        if active.pending.len() >= block_len(rate) {
            self.flush(store);
        }
        if at_end {
            self.stop(store, PassState::Complete, "pass complete");
        }
    }

    fn flush(&mut self, store: &mut AnnotationStore) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let pending = std::mem::take(&mut active.pending);
        if let Err(error) =
            store.append_trace(&active.file, active.pass, active.scheme.rate_hz, &pending)
        {
            self.message = Some(format!("trace not saved: {error}"));
        }
    }

    /// Ends the running pass (writing what is pending), kept as `state`.
    pub fn stop(&mut self, store: &mut AnnotationStore, state: PassState, why: &str) {
        self.flush(store);
        let Some(active) = self.active.take() else {
            return;
        };
        self.message = Some(match store.end_pass(&active.file, active.pass, state) {
            Ok(_) => format!(
                "{why} ({} samples; Ctrl+Z discards it)",
                active.values.len()
            ),
            Err(error) => format!("cannot end the pass: {error}"),
        });
    }
}
