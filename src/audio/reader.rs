//! Reading any file a corpus holds (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A, ...) through symphonia:
//! its headers, then one packet at a time, so long recordings never need more memory than their
//! outputs.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::error::panic_message;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::AudioError;

/// The sample rates accepted, from telephone-band audio's neighbourhood to ultrasound recorders.
/// Outside them a header is damaged or hostile: resampling 4.29 GHz to 16 kHz planned 3 GB of FFT,
/// and 2 Hz to 16 kHz made 8,000 samples of every one.
const SAMPLE_RATES_HZ: std::ops::RangeInclusive<u32> = 1_000..=1_000_000;

/// What a file's headers say, read without decoding the audio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AudioInfo {
    /// Container short name, e.g. `wave`, `flac`, `ogg`, `isomp4`.
    pub container: String,
    /// Codec short name, e.g. `pcm_s16le`, `flac`, `mp3`, `vorbis`, `aac`.
    pub codec: String,
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub bits_per_sample: Option<u32>,
    /// Sample format the decoder produces, e.g. `s16`, `f32`.
    pub sample_format: Option<String>,
    /// Frames (samples per channel) according to the header, when it says.
    pub frames: Option<u64>,
    pub file_size_bytes: u64,
}

impl AudioInfo {
    /// Duration according to the header, when it gives a frame count.
    #[must_use]
    pub fn duration_secs(&self) -> Option<f64> {
        self.frames
            .map(|frames| frames as f64 / f64::from(self.sample_rate_hz))
    }

    /// Whether the header's frame count is exact, so that fewer decoded frames mean a truncated file.
    /// Lossy codecs only estimate it (and do not trim encoder delay), so they are not held to it.
    fn has_exact_length(&self) -> bool {
        self.codec.starts_with("pcm") || matches!(self.codec.as_str(), "flac" | "alac")
    }
}

/// One decoded packet: interleaved samples and their channel count.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    pub samples: &'a [f32],
    pub channels: usize,
}

/// A packet-by-packet decoder over one file, yielding interleaved `f32` blocks.
pub struct AudioReader {
    path: PathBuf,
    info: AudioInfo,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    block: Vec<f32>,
    decoded_frames: u64,
    non_finite_count: u64,
    first_non_finite_frame: Option<u64>,
}

impl AudioReader {
    /// Opens a file and reads its headers; no audio is decoded yet.
    ///
    /// # Errors
    /// Any [`AudioError`] that the headers reveal: unreadable, empty, unrecognised or invalid file.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let io_error = |error| AudioError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(io_error)?;
        let file_size_bytes = file.metadata().map_err(io_error)?.len();
        if file_size_bytes == 0 {
            return Err(AudioError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(extension);
        }
        // A malformed header can make the demuxer panic (e.g. an integer overflow in debug
        // builds); that is this file's error, never the caller's crash.
        let format = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            symphonia::default::get_probe().probe(
                &hint,
                stream,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
        }))
        .map_err(|payload| AudioError::InvalidHeader {
            path: path.to_path_buf(),
            reason: format!(
                "the demuxer failed on it ({})",
                panic_message(payload.as_ref())
            ),
        })?
        .map_err(|error| match error {
            SymphoniaError::IoError(source)
                if source.kind() != std::io::ErrorKind::UnexpectedEof =>
            {
                io_error(source)
            }
            SymphoniaError::Unsupported(what) => AudioError::UnrecognisedFormat {
                path: path.to_path_buf(),
                reason: format!("no known container matches ({what})"),
            },
            other => AudioError::InvalidHeader {
                path: path.to_path_buf(),
                reason: other.to_string(),
            },
        })?;
        Self::from_format(path, format, file_size_bytes)
    }

    fn from_format(
        path: &Path,
        format: Box<dyn FormatReader>,
        file_size_bytes: u64,
    ) -> Result<Self, AudioError> {
        let no_track = || AudioError::NoAudioTrack {
            path: path.to_path_buf(),
        };
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(no_track)?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|params| params.audio())
            .ok_or_else(no_track)?;
        let invalid = |reason: &str| AudioError::InvalidHeader {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let sample_rate_hz = params
            .sample_rate
            .ok_or_else(|| invalid("no sample rate"))?;
        if !SAMPLE_RATES_HZ.contains(&sample_rate_hz) {
            return Err(invalid(&format!(
                "sample rate {sample_rate_hz} Hz is outside {} Hz to {} Hz",
                SAMPLE_RATES_HZ.start(),
                SAMPLE_RATES_HZ.end()
            )));
        }
        let channels = params
            .channels
            .as_ref()
            .map(symphonia::core::audio::Channels::count);
        if channels == Some(0) {
            return Err(invalid("0 channels"));
        }
        let registry = symphonia::default::get_codecs();
        let codec = registry
            .get_audio_decoder(params.codec)
            .map(|registered| registered.codec.info.short_name.to_owned())
            .ok_or_else(|| AudioError::Unsupported {
                path: path.to_path_buf(),
                what: format!("no decoder for codec id {}", params.codec),
            })?;
        let decoder = registry
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|error| AudioError::Unsupported {
                path: path.to_path_buf(),
                what: error.to_string(),
            })?;
        let info = AudioInfo {
            container: format.format_info().short_name.to_owned(),
            codec,
            sample_rate_hz,
            // Some codecs (AAC in MP4) only know the channel layout after the first packet.
            channels: channels.unwrap_or(0),
            bits_per_sample: params.bits_per_sample,
            sample_format: params
                .sample_format
                .map(|f| format!("{f:?}").to_lowercase()),
            frames: track.num_frames,
            file_size_bytes,
        };
        let track_id = track.id;
        Ok(Self {
            path: path.to_path_buf(),
            info,
            format,
            decoder,
            track_id,
            block: Vec::new(),
            decoded_frames: 0,
            non_finite_count: 0,
            first_non_finite_frame: None,
        })
    }

    #[must_use]
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames decoded so far.
    #[must_use]
    pub fn decoded_frames(&self) -> u64 {
        self.decoded_frames
    }

    fn position_secs(&self, frame: u64) -> f64 {
        frame as f64 / f64::from(self.info.sample_rate_hz)
    }

    /// The error for a packet that made symphonia panic.
    fn crashed(&self, payload: &(dyn std::any::Any + Send)) -> AudioError {
        AudioError::Corrupt {
            path: self.path.clone(),
            at_secs: self.decoded_frames as f64 / f64::from(self.info.sample_rate_hz.max(1)),
            reason: format!("the decoder failed on it ({})", panic_message(payload)),
        }
    }

    /// Decodes the next block of interleaved samples; `None` once the stream has ended cleanly.
    ///
    /// # Errors
    /// [`AudioError::Corrupt`], [`AudioError::Truncated`], [`AudioError::NonFiniteSamples`] (reported
    /// at the end of the stream, with the total count) and other decoding failures.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, AudioError> {
        loop {
            // A malformed packet can make the demuxer or the decoder panic: this file's error.
            let format = &mut self.format;
            let next = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                format.next_packet()
            })) {
                Ok(next) => next,
                Err(payload) => return Err(self.crashed(payload.as_ref())),
            };
            let packet = match next {
                Ok(Some(packet)) => packet,
                Ok(None) => return self.finish().map(|()| None),
                Err(SymphoniaError::IoError(error))
                    if error.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Err(self.truncated());
                }
                Err(error) => return Err(self.stream_error(error)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoder = &mut self.decoder;
            let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                // Moved in, so the closure is FnOnce and the decoded buffer may borrow it.
                let decoder = decoder;
                decoder.decode(&packet)
            })) {
                Ok(result) => result,
                Err(payload) => return Err(self.crashed(payload.as_ref())),
            };
            let decoded = match result {
                Ok(decoded) => decoded,
                Err(error) => return Err(self.stream_error(error)),
            };
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let channels = decoded.spec().channels().count();
            if channels == 0 {
                return Err(AudioError::InvalidHeader {
                    path: self.path.clone(),
                    reason: "a packet decodes to 0 channels".into(),
                });
            }
            if self.info.channels == 0 {
                self.info.channels = channels;
            } else if channels != self.info.channels {
                return Err(AudioError::Unsupported {
                    path: self.path.clone(),
                    what: format!(
                        "the channel count changes mid-stream ({} -> {channels})",
                        self.info.channels
                    ),
                });
            }
            self.block.resize(decoded.samples_interleaved(), 0.0);
            decoded.copy_to_slice_interleaved(&mut self.block);
            self.count_non_finite(channels);
            self.decoded_frames += frames as u64;
            return Ok(Some(Block {
                samples: &self.block,
                channels,
            }));
        }
    }

    fn count_non_finite(&mut self, channels: usize) {
        for (index, sample) in self.block.iter_mut().enumerate() {
            if !sample.is_finite() {
                self.non_finite_count += 1;
                self.first_non_finite_frame
                    .get_or_insert(self.decoded_frames + (index / channels) as u64);
                // Never hand NaN or infinity to DSP downstream, even before the error is reported.
                *sample = 0.0;
            }
        }
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        if let Some(first_frame) = self.first_non_finite_frame {
            return Err(AudioError::NonFiniteSamples {
                path: self.path.clone(),
                count: self.non_finite_count,
                first_at_secs: self.position_secs(first_frame),
            });
        }
        if self.decoded_frames == 0 {
            return Err(AudioError::NoAudio {
                path: self.path.clone(),
            });
        }
        match self.info.frames {
            Some(expected) if self.info.has_exact_length() && self.decoded_frames < expected => {
                Err(self.truncated())
            }
            _ => Ok(()),
        }
    }

    fn truncated(&self) -> AudioError {
        match self.info.frames {
            Some(expected_frames) => AudioError::Truncated {
                path: self.path.clone(),
                expected_frames,
                decoded_frames: self.decoded_frames,
            },
            None => AudioError::Corrupt {
                path: self.path.clone(),
                at_secs: self.position_secs(self.decoded_frames),
                reason: "the data ends in the middle of a packet".into(),
            },
        }
    }

    fn stream_error(&self, error: SymphoniaError) -> AudioError {
        let path = self.path.clone();
        match error {
            SymphoniaError::IoError(error) => AudioError::Io { path, error },
            SymphoniaError::Unsupported(what) => AudioError::Unsupported {
                path,
                what: what.to_owned(),
            },
            SymphoniaError::ResetRequired => AudioError::Unsupported {
                path,
                what: "the stream changes its parameters mid-way".into(),
            },
            other => AudioError::Corrupt {
                path,
                at_secs: self.position_secs(self.decoded_frames),
                reason: other.to_string(),
            },
        }
    }
}

/// Reads only a file's headers.
///
/// # Errors
/// As [`AudioReader::open`].
pub fn probe(path: &Path) -> Result<AudioInfo, AudioError> {
    AudioReader::open(path).map(|reader| reader.info)
}
