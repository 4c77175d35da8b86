//! The audio core: decoding, resampling, waveform pyramids and spectrograms.
//! Pure signal code; no UI, model or playback dependency.

mod clock;
mod decode;
pub mod energy;
mod error;
pub mod pitch;
pub mod pyramid;
mod reader;
pub mod resample;
pub mod rnnoise;
pub mod spectrogram;
pub mod test_signal;
pub mod wav;

pub use clock::{format_duration, format_time};
pub use decode::{DecodeOptions, DecodedFile, InterleavedAudio, decode_file, mix_to_mono};
pub use error::{AudioError, panic_message};
pub use reader::{AudioInfo, AudioReader, Block, probe};
pub use resample::ANALYSIS_RATE_HZ;

/// File extensions a folder scan treats as audio (symphonia decodes all of them).
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "aif", "aiff", "caf", "mka",
    "webm",
];

/// Whether a path's extension marks it as audio.
#[must_use]
pub fn has_audio_extension(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}
