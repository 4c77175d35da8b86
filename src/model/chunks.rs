//! Splitting a long 16 kHz signal into overlapping chunks for the model and joining the results:
//! enhanced audio cross-faded (overlap-add with weights that sum to one), router frames taken from
//! whichever chunk sees them farther from its edges. Pure arithmetic, no ONNX Runtime.

use std::ops::Range;

/// One chunk of the input, in samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub range: Range<usize>,
}

/// Chunks of `chunk_len` samples overlapping by `overlap` that cover `total` samples exactly. The
/// last chunk is moved back to end at `total` (so no chunk is shorter than `chunk_len` unless the
/// whole signal is).
#[must_use]
pub fn plan_chunks(total: usize, chunk_len: usize, overlap: usize) -> Vec<Chunk> {
    if total == 0 {
        return Vec::new();
    }
    if total <= chunk_len {
        return vec![Chunk { range: 0..total }];
    }
    let step = chunk_len.saturating_sub(overlap).max(1);
    let mut chunks = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + chunk_len).min(total);
        chunks.push(Chunk {
            range: end.saturating_sub(chunk_len)..end,
        });
        if end == total {
            break;
        }
        start += step;
    }
    chunks
}

/// Joins per-chunk signals into one of `total` samples. In each overlap the earlier chunk fades
/// out and the later one fades in along a raised cosine, so the weights sum to one everywhere.
#[must_use]
pub fn overlap_add(chunks: &[Chunk], outputs: &[Vec<f32>], total: usize) -> Vec<f32> {
    let mut joined = vec![0.0_f32; total];
    let mut weights = vec![0.0_f32; total];
    for (index, (chunk, output)) in chunks.iter().zip(outputs).enumerate() {
        let fade_in = index.checked_sub(1).map_or(0, |previous| {
            chunks[previous].range.end.saturating_sub(chunk.range.start)
        });
        let fade_out = chunks
            .get(index + 1)
            .map_or(0, |next| chunk.range.end.saturating_sub(next.range.start));
        let len = chunk.range.len();
        for (offset, &value) in output.iter().take(len).enumerate() {
            let mut weight = 1.0_f32;
            if offset < fade_in {
                weight *= raised_cosine((offset as f32 + 0.5) / fade_in as f32);
            }
            let from_end = len - offset;
            if from_end <= fade_out {
                weight *= raised_cosine((from_end as f32 - 0.5) / fade_out as f32);
            }
            let at = chunk.range.start + offset;
            joined[at] += weight * value;
            weights[at] += weight;
        }
    }
    for (value, weight) in joined.iter_mut().zip(&weights) {
        if *weight > 0.0 {
            *value /= weight;
        }
    }
    joined
}

/// 0 at x = 0 rising to 1 at x = 1, with f(x) + f(1 - x) = 1.
fn raised_cosine(x: f32) -> f32 {
    0.5 - 0.5 * (std::f32::consts::PI * x.clamp(0.0, 1.0)).cos()
}

/// Joins per-chunk frame rows (`frames × width`, frame `f` of a chunk starting at sample `s` sits at
/// global frame `(s / hop) + f`) into `total_frames` rows. Where chunks overlap, each frame comes
/// from the chunk in which it is farthest from an edge.
#[must_use]
pub fn stitch_frames(
    chunks: &[Chunk],
    outputs: &[Vec<f32>],
    width: usize,
    hop_samples: usize,
    total_frames: usize,
) -> Vec<f32> {
    let mut joined = vec![0.0_f32; total_frames * width];
    let mut best_margin = vec![-1_i64; total_frames];
    for (chunk, output) in chunks.iter().zip(outputs) {
        let first = chunk.range.start / hop_samples.max(1);
        let frames = output.len() / width.max(1);
        for frame in 0..frames {
            let global = first + frame;
            if global >= total_frames {
                break;
            }
            let margin = frame.min(frames - 1 - frame) as i64;
            if margin > best_margin[global] {
                best_margin[global] = margin;
                joined[global * width..(global + 1) * width]
                    .copy_from_slice(&output[frame * width..(frame + 1) * width]);
            }
        }
    }
    joined
}

/// Start samples of sliding windows of `window` samples every `hop` samples over `total` samples;
/// the last window ends at `total`. A signal shorter than one window gets one window.
#[must_use]
pub fn window_starts(total: usize, window: usize, hop: usize) -> Vec<usize> {
    if total <= window {
        return vec![0];
    }
    let mut starts: Vec<usize> = (0..=total - window).step_by(hop.max(1)).collect();
    if starts.last().is_some_and(|&last| last + window < total) {
        starts.push(total - window);
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_signal_with_the_overlap() {
        let chunks = plan_chunks(100, 40, 10);
        let ranges: Vec<_> = chunks.iter().map(|c| c.range.clone()).collect();
        assert_eq!(ranges, vec![0..40, 30..70, 60..100]);
        assert_eq!(plan_chunks(35, 40, 10)[0].range, 0..35);
        assert_eq!(plan_chunks(105, 40, 10).last().unwrap().range, 65..105);
        assert!(plan_chunks(0, 40, 10).is_empty());
    }

    #[test]
    fn overlap_add_of_identical_chunks_restores_the_signal() {
        let signal: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin()).collect();
        let chunks = plan_chunks(signal.len(), 300, 80);
        let outputs: Vec<Vec<f32>> = chunks
            .iter()
            .map(|c| signal[c.range.clone()].to_vec())
            .collect();
        let joined = overlap_add(&chunks, &outputs, signal.len());
        for (a, b) in joined.iter().zip(&signal) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn overlap_add_cross_fades_between_different_chunks() {
        let chunks = plan_chunks(200, 120, 40);
        let outputs = vec![vec![1.0; 120], vec![3.0; 120]];
        let joined = overlap_add(&chunks, &outputs, 200);
        assert_eq!(joined[0], 1.0);
        assert_eq!(joined[199], 3.0);
        // Monotonic fade from 1 to 3 across the overlap 80..120.
        assert!(joined[80..120].windows(2).all(|w| w[1] >= w[0]));
        assert!((joined[100] - 2.0).abs() < 0.1);
    }

    #[test]
    fn frames_come_from_the_chunk_where_they_are_central() {
        // Two chunks of 10 frames (hop 2 samples), the second starting at frame 6.
        let chunks = vec![Chunk { range: 0..20 }, Chunk { range: 12..32 }];
        let first: Vec<f32> = (0..10).map(|f| f as f32).collect();
        let second: Vec<f32> = (0..10).map(|f| 100.0 + f as f32).collect();
        let joined = stitch_frames(&chunks, &[first, second], 1, 2, 16);
        assert_eq!(joined[0], 0.0);
        assert_eq!(joined[7], 7.0); // margin 2 in the first chunk, 1 in the second
        assert_eq!(joined[8], 102.0); // margin 1 in the first, 2 in the second
        assert_eq!(joined[15], 109.0);
    }

    #[test]
    fn windows_reach_the_end() {
        assert_eq!(window_starts(100, 30, 20), vec![0, 20, 40, 60, 70]);
        assert_eq!(window_starts(90, 30, 20), vec![0, 20, 40, 60]);
        assert_eq!(window_starts(10, 30, 20), vec![0]);
    }
}
