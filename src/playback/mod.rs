//! Playback: a transport shared between the window and the audio thread, and one source that plays
//! the original and the enhanced signal in lock-step so A/B switching is seamless (the two tracks
//! are always at the same sample; a switch cross-fades over a few milliseconds instead of jumping).
//!
//! The device side (rodio) sits behind [`AudioOutput`]; without a sound card (CI, remote machines)
//! opening it fails with a clear error and everything else, the transport included, still works.

use std::num::NonZero;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::audio::ANALYSIS_RATE_HZ;

/// Which track is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Original,
    /// Sparse MERIT's enhanced signal.
    Enhanced,
    /// RNNoise, the classic enhancement baseline.
    Rnnoise,
}

impl Track {
    const ALL: [Self; 3] = [Self::Original, Self::Enhanced, Self::Rnnoise];

    fn index(self) -> usize {
        match self {
            Self::Original => 0,
            Self::Enhanced => 1,
            Self::Rnnoise => 2,
        }
    }
}

/// Playback speeds on offer (the rate changes, and with it the pitch, as on a tape machine).
pub const SPEEDS: [f32; 6] = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0];
/// Length of the A/B cross-fade.
const SWITCH_FADE_SAMPLES: u32 = ANALYSIS_RATE_HZ / 100;
const NO_LOOP: u64 = u64::MAX;

/// The state both the window and the audio thread see. All fields are atomics: the audio thread
/// never waits for the window.
#[derive(Debug)]
pub struct Transport {
    playing: AtomicBool,
    /// Playback position in 1/65536 samples (fixed point, so speeds other than 1 step smoothly).
    position: AtomicU64,
    length: AtomicU64,
    track: AtomicU8,
    speed_bits: AtomicU32,
    loop_start: AtomicU64,
    loop_end: AtomicU64,
    /// Pause when the position reaches this sample ("play segment"); `NO_LOOP`: play on.
    stop_at: AtomicU64,
    /// Bumped whenever new tracks are loaded; a source of an older generation ends itself.
    generation: AtomicU64,
}

const FIXED_ONE: u64 = 1 << 16;

impl Default for Transport {
    fn default() -> Self {
        Self {
            playing: AtomicBool::new(false),
            position: AtomicU64::new(0),
            length: AtomicU64::new(0),
            track: AtomicU8::new(0),
            speed_bits: AtomicU32::new(1.0_f32.to_bits()),
            loop_start: AtomicU64::new(NO_LOOP),
            loop_end: AtomicU64::new(NO_LOOP),
            stop_at: AtomicU64::new(NO_LOOP),
            generation: AtomicU64::new(0),
        }
    }
}

impl Transport {
    #[must_use]
    pub fn is_playing(&self) -> bool {
        self.playing.load(Ordering::Relaxed)
    }

    pub fn set_playing(&self, playing: bool) {
        // Pressing play at the end starts again from the loop start or the beginning.
        if playing && self.position_samples() >= self.length_samples() {
            self.seek_samples(self.loop_range().map_or(0, |(start, _)| start));
        }
        self.playing.store(playing, Ordering::Relaxed);
    }

    pub fn toggle_playing(&self) {
        self.set_playing(!self.is_playing());
    }

    #[must_use]
    pub fn track(&self) -> Track {
        Track::ALL[usize::from(self.track.load(Ordering::Relaxed)).min(Track::ALL.len() - 1)]
    }

    pub fn set_track(&self, track: Track) {
        self.track
            .store(u8::try_from(track.index()).unwrap_or(0), Ordering::Relaxed);
    }

    /// Switches between original and enhanced at the current position (A/B); from RNNoise, back
    /// to the original.
    pub fn toggle_track(&self) {
        self.set_track(match self.track() {
            Track::Original => Track::Enhanced,
            Track::Enhanced | Track::Rnnoise => Track::Original,
        });
    }

    /// Switches between RNNoise and the original.
    pub fn toggle_rnnoise(&self) {
        self.set_track(if self.track() == Track::Rnnoise {
            Track::Original
        } else {
            Track::Rnnoise
        });
    }

    #[must_use]
    pub fn speed(&self) -> f32 {
        f32::from_bits(self.speed_bits.load(Ordering::Relaxed))
    }

    pub fn set_speed(&self, speed: f32) {
        let speed = speed.clamp(SPEEDS[0], SPEEDS[SPEEDS.len() - 1]);
        self.speed_bits.store(speed.to_bits(), Ordering::Relaxed);
    }

    /// Steps to the next (`up`) or previous speed in [`SPEEDS`].
    pub fn step_speed(&self, up: bool) {
        let now = self.speed();
        let next = if up {
            SPEEDS.iter().copied().find(|&s| s > now + 1e-3)
        } else {
            SPEEDS.iter().rev().copied().find(|&s| s < now - 1e-3)
        };
        if let Some(speed) = next {
            self.set_speed(speed);
        }
    }

    #[must_use]
    pub fn position_samples(&self) -> u64 {
        self.position.load(Ordering::Relaxed) / FIXED_ONE
    }

    #[must_use]
    pub fn position_s(&self) -> f64 {
        self.position.load(Ordering::Relaxed) as f64
            / FIXED_ONE as f64
            / f64::from(ANALYSIS_RATE_HZ)
    }

    #[must_use]
    pub fn length_samples(&self) -> u64 {
        self.length.load(Ordering::Relaxed)
    }

    pub fn seek_samples(&self, sample: u64) {
        let sample = sample.min(self.length_samples());
        self.position.store(sample * FIXED_ONE, Ordering::Relaxed);
    }

    pub fn seek_s(&self, seconds: f64) {
        self.seek_samples((seconds.max(0.0) * f64::from(ANALYSIS_RATE_HZ)) as u64);
    }

    /// The loop region in samples, if looping.
    #[must_use]
    pub fn loop_range(&self) -> Option<(u64, u64)> {
        let (start, end) = (
            self.loop_start.load(Ordering::Relaxed),
            self.loop_end.load(Ordering::Relaxed),
        );
        (start != NO_LOOP && end > start).then_some((start, end))
    }

    /// Loops `[start_s, end_s)`, or stops looping with `None`.
    pub fn set_loop_s(&self, range: Option<(f64, f64)>) {
        let to_samples = |s: f64| (s.max(0.0) * f64::from(ANALYSIS_RATE_HZ)) as u64;
        let (start, end) = range.map_or((NO_LOOP, NO_LOOP), |(a, b)| {
            (to_samples(a.min(b)), to_samples(a.max(b)))
        });
        self.loop_start.store(start, Ordering::Relaxed);
        self.loop_end.store(end, Ordering::Relaxed);
    }

    /// Pauses exactly at `seconds` (cleared once reached), or plays on with `None`.
    pub fn set_stop_at_s(&self, seconds: Option<f64>) {
        let sample = seconds.map_or(NO_LOOP, |s| {
            (s.max(0.0) * f64::from(ANALYSIS_RATE_HZ)) as u64
        });
        self.stop_at.store(sample, Ordering::Relaxed);
    }

    /// Where playback will pause by itself, if set.
    #[must_use]
    pub fn stop_at_samples(&self) -> Option<u64> {
        let sample = self.stop_at.load(Ordering::Relaxed);
        (sample != NO_LOOP).then_some(sample)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}

/// The two signals a [`PlaybackSource`] plays, 16 kHz mono, the enhanced one absent until analysed
/// (the original is heard then, whatever the A/B switch says).
#[derive(Debug, Clone)]
pub struct Tracks {
    pub original: Arc<[f32]>,
    pub enhanced: Option<Arc<[f32]>>,
    pub rnnoise: Option<Arc<[f32]>>,
}

impl Tracks {
    fn get(&self, track: Track) -> Option<&[f32]> {
        match track {
            Track::Original => Some(&self.original),
            Track::Enhanced => self.enhanced.as_deref(),
            Track::Rnnoise => self.rnnoise.as_deref(),
        }
    }

    /// The track to hear for `wanted`: itself when loaded, else the original.
    fn audible(&self, wanted: Track) -> Track {
        if self.get(wanted).is_some() {
            wanted
        } else {
            Track::Original
        }
    }
}

/// An endless mono source reading [`Tracks`] at the transport's position and speed; silent while
/// paused, so the device stream never stops and starting is instant.
pub struct PlaybackSource {
    tracks: Tracks,
    transport: Arc<Transport>,
    generation: u64,
    /// Gain of each track (original, enhanced, RNNoise), moving towards the switch's target so a
    /// switch cross-fades instead of clicking.
    gains: [f32; 3],
}

impl PlaybackSource {
    /// A source for `tracks`; every older source of the same transport ends.
    #[must_use]
    pub fn new(tracks: Tracks, transport: Arc<Transport>) -> Self {
        let generation = transport.generation.fetch_add(1, Ordering::Relaxed) + 1;
        transport
            .length
            .store(tracks.original.len() as u64, Ordering::Relaxed);
        transport.seek_samples(0);
        let mut gains = [0.0; 3];
        gains[tracks.audible(transport.track()).index()] = 1.0;
        Self {
            tracks,
            transport,
            generation,
            gains,
        }
    }

    fn sample_at(signal: &[f32], position: u64) -> f32 {
        // Linear interpolation between neighbouring samples (fixed-point position).
        let index = (position / FIXED_ONE) as usize;
        let fraction = (position % FIXED_ONE) as f32 / FIXED_ONE as f32;
        let a = signal.get(index).copied().unwrap_or(0.0);
        let b = signal.get(index + 1).copied().unwrap_or(a);
        a + (b - a) * fraction
    }
}

impl Iterator for PlaybackSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let transport = &self.transport;
        if transport.generation() != self.generation {
            return None;
        }
        if !transport.is_playing() {
            return Some(0.0);
        }
        let position = transport.position.load(Ordering::Relaxed);
        let length = self.tracks.original.len() as u64 * FIXED_ONE;
        let audible = self.tracks.audible(transport.track());
        let step = 1.0 / SWITCH_FADE_SAMPLES as f32;
        let mut value = 0.0;
        for track in Track::ALL {
            let gain = &mut self.gains[track.index()];
            *gain = if track == audible {
                (*gain + step).min(1.0)
            } else {
                (*gain - step).max(0.0)
            };
            if *gain > 0.0
                && let Some(signal) = self.tracks.get(track)
            {
                value += *gain * Self::sample_at(signal, position);
            }
        }
        let mut next = position + (f64::from(transport.speed()) * FIXED_ONE as f64) as u64;
        if let Some(stop) = transport.stop_at_samples()
            && position < stop * FIXED_ONE
            && next >= stop * FIXED_ONE
        {
            next = stop * FIXED_ONE;
            transport.playing.store(false, Ordering::Relaxed);
            transport.stop_at.store(NO_LOOP, Ordering::Relaxed);
        } else if let Some((start, end)) = transport.loop_range()
            && next >= end * FIXED_ONE
        {
            next = start * FIXED_ONE;
        } else if next >= length {
            next = length;
            transport.playing.store(false, Ordering::Relaxed);
        }
        // A seek from the window between load and store is kept: only move on from where we read.
        let _ = transport.position.compare_exchange(
            position,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        Some(value)
    }
}

impl rodio::Source for PlaybackSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::<u16>::MIN
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(ANALYSIS_RATE_HZ).unwrap_or(NonZero::<u32>::MIN)
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error("no audio output device ({0}); playback is off, everything else works")]
    NoDevice(String),
}

/// Where sources go: the sound card, or nothing (tests, machines without one).
pub trait AudioSink {
    fn play(&mut self, source: PlaybackSource);
}

/// The default output device through rodio.
pub struct AudioOutput {
    sink: rodio::MixerDeviceSink,
}

impl AudioOutput {
    /// Opens the default output device.
    ///
    /// # Errors
    /// [`PlaybackError::NoDevice`] when there is no usable device.
    pub fn open() -> Result<Self, PlaybackError> {
        let mut sink = rodio::DeviceSinkBuilder::open_default_sink()
            .map_err(|e| PlaybackError::NoDevice(e.to_string()))?;
        sink.log_on_drop(false);
        Ok(Self { sink })
    }
}

impl AudioSink for AudioOutput {
    fn play(&mut self, source: PlaybackSource) {
        self.sink.mixer().add(source);
    }
}

#[cfg(test)]
mod tests;
