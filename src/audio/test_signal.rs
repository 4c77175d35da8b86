//! A deterministic speech-like signal for benchmarks: a gliding harmonic voice (F0 110–170 Hz) with a
//! syllable-rate envelope and light noise. Not speech, but it exercises every stage realistically.

/// `seconds` of the signal at `rate_hz`.
#[must_use]
pub fn speech_like(seconds: f64, rate_hz: u32) -> Vec<f32> {
    let rate = rate_hz as f32;
    let mut state = 0x2545_f491_u32;
    (0..(seconds * f64::from(rate_hz)) as usize)
        .map(|i| {
            let t = i as f32 / rate;
            let f0 = 140.0 + 30.0 * (t * 0.7).sin();
            let voice: f32 = (1..6)
                .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                .sum();
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = state as f32 / u32::MAX as f32 - 0.5;
            0.2 * voice * (0.5 + 0.5 * (t * 4.0 * std::f32::consts::TAU).sin()).max(0.0)
                + 0.03 * noise
        })
        .collect()
}
