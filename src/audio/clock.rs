//! Times and durations as people read them: `h:mm:ss.mmm`, shared by the window and the terminal.

/// Hours, minutes, seconds and milliseconds of `seconds` (negative counts as 0), rounded to the
/// millisecond.
fn split(seconds: f64) -> (u64, u64, u64, u64) {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    (hours, minutes, rest / 1000, rest % 1000)
}

/// `h:mm:ss.mmm`, hours always shown (totals and durations in reports).
#[must_use]
pub fn format_duration(seconds: f64) -> String {
    let (hours, minutes, secs, ms) = split(seconds);
    format!("{hours}:{minutes:02}:{secs:02}.{ms:03}")
}

/// `m:ss.mmm`, with hours only when there are some (positions on a time axis).
#[must_use]
pub fn format_time(seconds: f64) -> String {
    match split(seconds) {
        (0, minutes, secs, ms) => format!("{minutes}:{secs:02}.{ms:03}"),
        _ => format_duration(seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_h_mm_ss_mmm() {
        assert_eq!(format_duration(0.0), "0:00:00.000");
        assert_eq!(format_duration(3.2146), "0:00:03.215");
        assert_eq!(format_duration(3723.5), "1:02:03.500");
    }

    #[test]
    fn times_read_as_h_mm_ss_mmm() {
        assert_eq!(format_time(0.0), "0:00.000");
        assert_eq!(format_time(75.5), "1:15.500");
        assert_eq!(format_time(3723.004), "1:02:03.004");
    }
}
