//! The window's playback part: the transport the audio thread reads, and where sound goes.

use std::sync::Arc;

use crate::playback::{AudioSink, PlaybackSource, Tracks, Transport};

use super::recording::RecordingState;

/// Where the studio plays sound: the sound card, a test's sink, or nowhere (with the reason).
pub enum Playback {
    Sink(Box<dyn AudioSink>),
    Unavailable(String),
}

pub struct Player {
    pub transport: Arc<Transport>,
    pub output: Playback,
}

impl Player {
    #[must_use]
    pub fn new(output: Playback) -> Self {
        Self {
            transport: Arc::new(Transport::default()),
            output,
        }
    }

    /// Hands `recording`'s tracks to the audio sink (keeping the position when only the enhanced
    /// or RNNoise track is new).
    pub fn attach(&mut self, recording: &RecordingState, keep_position: bool) {
        let Some(original) = &recording.original else {
            return;
        };
        let position = self.transport.position_samples();
        let source = PlaybackSource::new(
            Tracks {
                original: original.samples.clone(),
                enhanced: recording
                    .analysis
                    .as_ref()
                    .map(|a| a.enhanced.samples.clone()),
                rnnoise: recording.rnnoise.clone(),
            },
            self.transport.clone(),
        );
        if keep_position {
            self.transport.seek_samples(position);
        }
        if let Playback::Sink(sink) = &mut self.output {
            sink.play(source);
        }
    }

    /// Loops the selection, or stops looping (also when there is no selection).
    pub fn toggle_loop(&self, selection: Option<(f64, f64)>) {
        if self.transport.loop_range().is_some() || selection.is_none() {
            self.transport.set_loop_s(None);
        } else {
            self.transport.set_loop_s(selection);
            if let Some((start, _)) = selection {
                self.transport.seek_s(start);
            }
        }
    }
}
