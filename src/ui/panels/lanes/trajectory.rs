//! The emotion trajectory pane (class probabilities at window centres) and the annotators' labels
//! drawn over it.

use std::ops::Range;

use egui::{Pos2, Rect, Sense, Vec2};
use egui_plot::{Legend, Line, Plot, PlotBounds, PlotPoints};

use crate::model::analysis::SignalAnalysis;
use crate::ui::theme;
use crate::ui::timeline::Timeline;

use super::{TimeGesture, gestures};

/// The trajectory of `analysis`; `done_fraction` when it is partial.
pub fn trajectory(
    ui: &mut egui::Ui,
    size: egui::Vec2,
    timeline: &Timeline,
    analysis: &SignalAnalysis,
    done_fraction: Option<f64>,
) -> (Rect, Vec<TimeGesture>) {
    let trajectory = &analysis.trajectory;
    let plot = Plot::new("trajectory")
        .width(size.x)
        .height(size.y)
        .show_axes([false, false])
        .show_grid([false, true])
        .show_x(false)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .set_margin_fraction(Vec2::ZERO)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds(PlotBounds::from_min_max(
                [timeline.start_s, 0.0],
                [timeline.end_s(), 1.02],
            ));
            // Only the windows in view (and one either side, so lines reach the edges).
            let first = trajectory
                .times_s
                .partition_point(|&t| t < timeline.start_s)
                .saturating_sub(1);
            let last = (trajectory
                .times_s
                .partition_point(|&t| t <= timeline.end_s())
                + 1)
            .min(trajectory.times_s.len());
            for run in unbroken_runs(&trajectory.times_s[first..last]) {
                let run = first + run.start..first + run.end;
                for (class_index, class) in analysis.classes.iter().enumerate() {
                    let points: PlotPoints = trajectory.times_s[run.clone()]
                        .iter()
                        .zip(&trajectory.probs[run.clone()])
                        .map(|(&t, row)| {
                            [t, f64::from(row.get(class_index).copied().unwrap_or(0.0))]
                        })
                        .collect();
                    plot_ui.line(
                        Line::new(class.as_str(), points)
                            .color(theme::class_colour(class_index))
                            .width(2.0),
                    );
                }
            }
        });
    let response = plot.response.interact(Sense::click_and_drag());
    let rect = response.rect;
    let painter = ui.painter_at(rect);
    let best = analysis
        .probs
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0));
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!(
            "Emotion trajectory (window centres) · utterance{}: {} {:.0}%",
            done_fraction.map_or(String::new(), |done| format!(
                " so far ({:.0} % analysed)",
                done * 100.0
            )),
            analysis.classes.get(best.0).map_or("", String::as_str),
            best.1 * 100.0
        ),
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
    let gestures = gestures(ui, &response, timeline, "Emotion trajectory");
    (rect, gestures)
}

/// Index ranges of window centres with none missing between them (a gap is wider than one and a
/// half of the hop), so a partial analysis draws no line across the part not analysed. The hop is
/// the smallest step but the last: the last window is aligned to the recording's end, so its step
/// is usually shorter, and taken as the hop it made every regular step look like a gap.
fn unbroken_runs(times_s: &[f64]) -> Vec<Range<usize>> {
    let steps: Vec<f64> = times_s.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let regular = match steps.split_last() {
        Some((_, before_last)) if !before_last.is_empty() => before_last,
        _ => &steps[..],
    };
    let step = regular
        .iter()
        .copied()
        .filter(|&d| d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let mut runs = Vec::new();
    let mut start = 0;
    for (index, pair) in times_s.windows(2).enumerate() {
        if pair[1] - pair[0] > 1.5 * step {
            runs.push(start..index + 1);
            start = index + 1;
        }
    }
    if start < times_s.len() {
        runs.push(start..times_s.len());
    }
    runs
}

/// Each annotator's label as a band along the top of `rect`: the recording's class faint across
/// the whole width, segments solid where they are.
pub fn labels_over(
    ui: &egui::Ui,
    rect: Rect,
    timeline: &Timeline,
    labels: &std::collections::BTreeMap<String, crate::annotation::Label>,
) {
    let painter = ui.painter_at(rect);
    let row = 12.0;
    for (index, (annotator, label)) in labels.iter().enumerate() {
        let top = rect.top() + 16.0 + index as f32 * (row + 2.0);
        let band = |from: f64, to: f64| {
            Rect::from_x_y_ranges(
                timeline.x_of(from, rect.left(), rect.width())
                    ..=timeline.x_of(to, rect.left(), rect.width()),
                top..=top + row,
            )
        };
        if let Some(class) = &label.class {
            painter.rect_filled(
                band(0.0, timeline.duration_s),
                0.0,
                theme::class_colour_by_name(class).gamma_multiply(0.35),
            );
        }
        for segment in &label.segments {
            painter.rect_filled(
                band(segment.start_s, segment.end_s),
                2.0,
                theme::class_colour_by_name(&segment.class),
            );
        }
        painter.text(
            Pos2::new(rect.left() + 4.0, top + row / 2.0),
            egui::Align2::LEFT_CENTER,
            format!("{annotator}: {}", label.class.as_deref().unwrap_or("–")),
            egui::FontId::proportional(10.0),
            ui.visuals().strong_text_color(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::unbroken_runs;

    #[test]
    fn lines_break_where_windows_are_missing() {
        assert_eq!(unbroken_runs(&[0.5, 1.0, 1.5, 4.0, 4.5]), vec![0..3, 3..5]);
        // The last window ends with the recording, a shorter step than the hop: no gap.
        assert_eq!(unbroken_runs(&[1.5, 2.0, 2.066]), vec![0..3]);
        assert_eq!(
            unbroken_runs(&[0.5, 1.0, 1.5, 4.0, 4.5, 4.566]),
            vec![0..3, 3..6]
        );
        assert_eq!(unbroken_runs(&[1.5, 1.566]), vec![0..2]);
        assert_eq!(unbroken_runs(&[0.5, 1.0, 1.5]), vec![0..3]);
        assert_eq!(unbroken_runs(&[2.0]), vec![0..1]);
        assert!(unbroken_runs(&[]).is_empty());
    }
}
