//! Colours: the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies) for
//! classes, and viridis for probabilities and spectrogram levels.

use egui::Color32;

const OKABE_ITO: [Color32; 8] = [
    Color32::from_rgb(0xD5, 0x5E, 0x00), // vermillion
    Color32::from_rgb(0x00, 0x72, 0xB2), // blue
    Color32::from_rgb(0xE6, 0x9F, 0x00), // orange
    Color32::from_rgb(0x99, 0x99, 0x99), // grey
    Color32::from_rgb(0x00, 0x9E, 0x73), // bluish green
    Color32::from_rgb(0x56, 0xB4, 0xE9), // sky blue
    Color32::from_rgb(0xCC, 0x79, 0xA7), // reddish purple
    Color32::from_rgb(0xF0, 0xE4, 0x42), // yellow
];

/// Colour of the class at `index` in a model's output order.
#[must_use]
pub fn class_colour(index: usize) -> Color32 {
    OKABE_ITO[index % OKABE_ITO.len()]
}

/// Colours by name for the usual classes, so a class looks the same under every model.
#[must_use]
pub fn class_colour_by_name(name: &str) -> Color32 {
    match name.to_lowercase().as_str() {
        "angry" | "a" => OKABE_ITO[0],
        "sad" | "s" => OKABE_ITO[1],
        "happy" | "h" => OKABE_ITO[2],
        "neutral" | "n" => OKABE_ITO[3],
        "surprise" | "u" => OKABE_ITO[4],
        "fear" | "f" => OKABE_ITO[5],
        "disgust" | "d" => OKABE_ITO[6],
        _ => OKABE_ITO[7],
    }
}

/// Viridis at `value` in [0, 1] (interpolated between nine samples of the map).
#[must_use]
pub fn viridis(value: f32) -> Color32 {
    const STOPS: [[u8; 3]; 9] = [
        [68, 1, 84],
        [71, 44, 122],
        [59, 81, 139],
        [44, 113, 142],
        [33, 144, 141],
        [39, 173, 129],
        [92, 200, 99],
        [170, 220, 50],
        [253, 231, 37],
    ];
    let position = value.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let low = (position as usize).min(STOPS.len() - 2);
    let t = position - low as f32;
    let mix = |channel: usize| {
        let (a, b) = (
            f32::from(STOPS[low][channel]),
            f32::from(STOPS[low + 1][channel]),
        );
        (a + (b - a) * t).round() as u8
    };
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

/// Viridis for a byte level (a table, for drawing spectrograms fast).
#[must_use]
pub fn viridis_level(level: u8) -> Color32 {
    static TABLE: std::sync::LazyLock<[Color32; 256]> =
        std::sync::LazyLock::new(|| std::array::from_fn(|i| viridis(i as f32 / 255.0)));
    TABLE[usize::from(level)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_runs_dark_to_light() {
        assert_eq!(viridis(0.0), Color32::from_rgb(68, 1, 84));
        assert_eq!(viridis(1.0), Color32::from_rgb(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis_level(255), viridis(1.0));
    }

    #[test]
    fn classes_keep_their_colour_across_label_schemes() {
        assert_eq!(class_colour_by_name("Angry"), class_colour_by_name("A"));
        assert_ne!(class_colour_by_name("sad"), class_colour_by_name("happy"));
    }
}
