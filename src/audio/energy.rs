//! The quietest moment near a time, where a segment boundary snaps to (a pause between words is
//! a better boundary than the middle of a vowel).

/// Energy is measured over 10 ms windows...
const WINDOW_S: f64 = 0.010;
/// ...whose centres are 1 ms apart.
const STEP_S: f64 = 0.001;

/// The centre of the 10 ms window with the least energy whose centre lies within `within_s` of
/// `at_s` (and inside the signal); of equally quiet ones, the nearest to `at_s`. `at_s` itself
/// when the signal is empty there.
#[must_use]
pub fn quietest_point(samples: &[f32], rate_hz: u32, at_s: f64, within_s: f64) -> f64 {
    let rate = f64::from(rate_hz);
    let duration_s = samples.len() as f64 / rate;
    let half = (WINDOW_S * rate / 2.0).round().max(1.0) as usize;
    let (from_s, to_s) = (
        (at_s - within_s).max(0.0),
        (at_s + within_s).min(duration_s),
    );
    if samples.is_empty() || to_s < from_s {
        return at_s;
    }
    // Prefix sums of squares over the stretch the windows can reach.
    let first = ((from_s * rate) as usize).saturating_sub(half);
    let last = ((to_s * rate).ceil() as usize + half).min(samples.len());
    let mut prefix = Vec::with_capacity(last - first + 1);
    prefix.push(0.0_f64);
    let mut sum = 0.0;
    for &x in &samples[first..last] {
        sum += f64::from(x) * f64::from(x);
        prefix.push(sum);
    }
    let energy = |centre: usize| {
        let a = centre.saturating_sub(half).max(first) - first;
        let b = (centre + half).min(last) - first;
        (prefix[b] - prefix[a]) / (b - a).max(1) as f64
    };
    let steps = ((to_s - from_s) / STEP_S).floor() as usize;
    let mut best = (f64::INFINITY, f64::INFINITY, at_s);
    for step in 0..=steps {
        let t = from_s + step as f64 * STEP_S;
        let key = (energy((t * rate) as usize), (t - at_s).abs());
        if key.0 < best.0 - 1e-12 || ((key.0 - best.0).abs() <= 1e-12 && key.1 < best.1) {
            best = (key.0, key.1, t);
        }
    }
    best.2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 200 Hz tone of 2 s at 16 kHz with a 6 ms silence centred on `gap_s`.
    fn tone_with_gap(gap_s: f64) -> Vec<f32> {
        (0..32_000)
            .map(|i| {
                let t = f64::from(i) / 16_000.0;
                if (t - gap_s).abs() < 0.003 {
                    0.0
                } else {
                    (t * 200.0 * std::f64::consts::TAU).sin() as f32
                }
            })
            .collect()
    }

    #[test]
    fn snaps_to_a_pause_within_reach_only() {
        let signal = tone_with_gap(1.03);
        let snapped = quietest_point(&signal, 16_000, 1.0, 0.05);
        assert!((snapped - 1.03).abs() <= 0.003, "{snapped}");
        let before = quietest_point(&signal, 16_000, 1.07, 0.05);
        assert!((before - 1.03).abs() <= 0.003, "{before}");
        // 80 ms away: out of reach, so it lands within 50 ms, nowhere near the pause.
        let far = quietest_point(&signal, 16_000, 1.11, 0.05);
        assert!(
            (far - 1.11).abs() <= 0.05 + 1e-9 && (far - 1.03).abs() > 0.02,
            "{far}"
        );
    }

    #[test]
    fn silence_keeps_the_time_and_the_ends_are_respected() {
        let silence = vec![0.0; 16_000];
        assert!((quietest_point(&silence, 16_000, 0.5, 0.05) - 0.5).abs() < 1e-9);
        assert!((quietest_point(&[], 16_000, 0.5, 0.05) - 0.5).abs() < 1e-9);
        let signal = tone_with_gap(1.99);
        let end = quietest_point(&signal, 16_000, 1.98, 0.05);
        assert!(end <= 2.0 && (end - 1.99).abs() <= 0.004, "{end}");
    }
}
