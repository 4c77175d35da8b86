//! Splitting a long 16 kHz signal into overlapping chunks for the model and joining the results:
//! enhanced audio cross-faded (overlap-add with weights that sum to one), router frames taken from
//! whichever chunk sees them farther from its edges, trajectory windows from a chunk that holds
//! them whole. Pure arithmetic, no ONNX Runtime.

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

/// Joins per-chunk signals into one of `total` samples, one chunk at a time, so a chunk's output
/// can be dropped as soon as it is added. In each overlap the earlier chunk fades out and the later
/// one fades in along a raised cosine; where the last chunk (moved back to end at `total`) overlaps
/// two others, the weights are normalised to sum to one.
pub struct OverlapAdd<'a> {
    chunks: &'a [Chunk],
    joined: Vec<f32>,
}

impl<'a> OverlapAdd<'a> {
    #[must_use]
    pub fn new(chunks: &'a [Chunk], total: usize) -> Self {
        Self {
            chunks,
            joined: vec![0.0; total],
        }
    }

    /// Adds the output of chunk `index` (its first `range.len()` values).
    pub fn add(&mut self, index: usize, output: &[f32]) {
        let chunk = &self.chunks[index];
        let span = chunk.range.len().min(output.len());
        for (offset, &value) in output[..span].iter().enumerate() {
            self.joined[chunk.range.start + offset] += self.weight(index, offset) * value;
        }
    }

    /// The joined signal; samples that no chunk covered are zero.
    #[must_use]
    pub fn finish(mut self) -> Vec<f32> {
        // Weights are one outside overlaps and f(x) + f(1 - x) = 1 within a two-chunk overlap, so
        // only samples under three chunks need normalising; check every overlap to be exact.
        let mut normalised_to = 0;
        for index in 1..self.chunks.len() {
            let from = self.chunks[index].range.start.max(normalised_to);
            let to = self.chunks[index - 1].range.end.min(self.joined.len());
            for at in from..to {
                let sum: f32 = (index.saturating_sub(2)..self.chunks.len())
                    .take_while(|&j| self.chunks[j].range.start <= at)
                    .filter(|&j| self.chunks[j].range.contains(&at))
                    .map(|j| self.weight(j, at - self.chunks[j].range.start))
                    .sum();
                if sum > 0.0 {
                    self.joined[at] /= sum;
                }
            }
            normalised_to = normalised_to.max(to);
        }
        self.joined
    }

    /// Weight of chunk `index` at `offset` samples from its start.
    fn weight(&self, index: usize, offset: usize) -> f32 {
        let chunk = &self.chunks[index];
        let fade_in = index.checked_sub(1).map_or(0, |previous| {
            self.chunks[previous]
                .range
                .end
                .saturating_sub(chunk.range.start)
        });
        let fade_out = self
            .chunks
            .get(index + 1)
            .map_or(0, |next| chunk.range.end.saturating_sub(next.range.start));
        let mut weight = 1.0_f32;
        if offset < fade_in {
            weight *= raised_cosine((offset as f32 + 0.5) / fade_in as f32);
        }
        let from_end = chunk.range.len() - offset;
        if from_end <= fade_out {
            weight *= raised_cosine((from_end as f32 - 0.5) / fade_out as f32);
        }
        weight
    }
}

/// The chunk to read the trajectory window `[start, start + window)` from: among the chunks that hold
/// the whole window, the one where it sits farthest from an edge; failing that, the last chunk
/// that holds its start (the window is then cut at that chunk's end).
#[must_use]
pub fn chunk_for_window(chunks: &[Chunk], start: usize, window: usize) -> Option<usize> {
    let end = start + window;
    chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.range.start <= start && end <= c.range.end)
        .max_by_key(|(_, c)| (start - c.range.start).min(c.range.end - end))
        .or_else(|| {
            chunks
                .iter()
                .enumerate()
                .rfind(|(_, c)| c.range.contains(&start))
        })
        .map(|(index, _)| index)
}

/// 0 at x = 0 rising to 1 at x = 1, with f(x) + f(1 - x) = 1.
fn raised_cosine(x: f32) -> f32 {
    0.5 - 0.5 * (std::f32::consts::PI * x.clamp(0.0, 1.0)).cos()
}

/// Joins per-chunk frame rows (`frames × width`, frame `f` of a chunk starting at sample `s` sits at
/// global frame `(s / hop) + f`) into `total_frames` rows. Where chunks overlap, each frame comes
/// from the chunk in which it is farthest from an edge. Chunks without output (`None`: not run
/// yet) are skipped, and frames that no chunk covers are NaN.
#[must_use]
pub fn stitch_frames(
    chunks: &[Chunk],
    outputs: &[Option<&[f32]>],
    width: usize,
    hop_samples: usize,
    total_frames: usize,
) -> Vec<f32> {
    let mut joined = vec![f32::NAN; total_frames * width];
    let mut best_margin = vec![-1_i64; total_frames];
    for (chunk, output) in chunks.iter().zip(outputs) {
        let Some(output) = output else { continue };
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
        for chunks in [
            plan_chunks(signal.len(), 300, 80),
            plan_chunks(signal.len(), 300, 20),
        ] {
            let mut joiner = OverlapAdd::new(&chunks, signal.len());
            for (index, chunk) in chunks.iter().enumerate() {
                joiner.add(index, &signal[chunk.range.clone()]);
            }
            for (a, b) in joiner.finish().iter().zip(&signal) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn three_chunks_over_one_sample_still_sum_to_one() {
        // 0..300, 280..580, 290..590: the last chunk overlaps both others.
        let chunks = plan_chunks(590, 300, 20);
        assert_eq!(chunks.len(), 3);
        assert!(chunks[2].range.start < chunks[0].range.end);
        let mut joiner = OverlapAdd::new(&chunks, 590);
        for index in 0..chunks.len() {
            joiner.add(index, &[2.0; 300]);
        }
        assert!(joiner.finish().iter().all(|v| (v - 2.0).abs() < 1e-5));
    }

    #[test]
    fn windows_are_read_from_a_chunk_that_holds_them() {
        let chunks = plan_chunks(100, 40, 15); // 0..40, 25..65, 50..90, 60..100
        assert_eq!(chunk_for_window(&chunks, 0, 10), Some(0));
        assert_eq!(chunk_for_window(&chunks, 28, 10), Some(1)); // central in 25..65
        assert_eq!(chunk_for_window(&chunks, 90, 10), Some(3));
        // Longer than the overlap allows: cut in the last chunk that holds the start.
        assert_eq!(chunk_for_window(&chunks, 30, 38), Some(1));
    }

    #[test]
    fn overlap_add_cross_fades_between_different_chunks() {
        let chunks = plan_chunks(200, 120, 40);
        let mut joiner = OverlapAdd::new(&chunks, 200);
        joiner.add(0, &[1.0; 120]);
        joiner.add(1, &[3.0; 120]);
        let joined = joiner.finish();
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
        let joined = stitch_frames(&chunks, &[Some(&first), Some(&second)], 1, 2, 16);
        assert_eq!(joined[0], 0.0);
        assert_eq!(joined[7], 7.0); // margin 2 in the first chunk, 1 in the second
        assert_eq!(joined[8], 102.0); // margin 1 in the first, 2 in the second
        assert_eq!(joined[15], 109.0);
        // The first chunk not run yet: its frames are NaN, the second's stay whole.
        let joined = stitch_frames(&chunks, &[None, Some(&second)], 1, 2, 16);
        assert!(joined[..6].iter().all(|v| v.is_nan()));
        assert_eq!(joined[6..], second[..]);
    }

    #[test]
    fn windows_reach_the_end() {
        assert_eq!(window_starts(100, 30, 20), vec![0, 20, 40, 60, 70]);
        assert_eq!(window_starts(90, 30, 20), vec![0, 20, 40, 60]);
        assert_eq!(window_starts(10, 30, 20), vec![0]);
    }
}
