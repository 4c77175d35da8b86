//! The export window: format, whose labels, and a folder to export into (in the background).

use crate::export::Format;
use crate::ui::commands::{Action, Command, CommandSender, tooltip};
use crate::ui::view::StudioView;

pub fn export_ui(ctx: &egui::Context, view: &StudioView<'_>, commands: &CommandSender) {
    let state = view.export;
    if !state.open {
        return;
    }
    let (mut format, mut mine_only) = (state.format, state.mine_only);
    let mut open = true;
    egui::Window::new("Export labels")
        .open(&mut open)
        .default_width(380.0)
        .show(ctx, |ui| {
            egui::ComboBox::from_label("Format")
                .selected_text(format!("{format:?}").to_lowercase())
                .show_ui(ui, |ui| {
                    for choice in [
                        Format::Msp,
                        Format::Audiofolder,
                        Format::Jsonl,
                        Format::Textgrid,
                        Format::Eaf,
                        Format::Audacity,
                        Format::TracesCsv,
                        Format::Nova,
                    ] {
                        ui.selectable_value(
                            &mut format,
                            choice,
                            format!("{choice:?}").to_lowercase(),
                        );
                    }
                });
            let me = view.labelling.annotations.annotator().map(str::to_owned);
            ui.add_enabled_ui(me.is_some(), |ui| {
                ui.checkbox(
                    &mut mine_only,
                    format!(
                        "only {}'s labels (else the consensus)",
                        me.as_deref().unwrap_or("my")
                    ),
                );
            });
            ui.weak("Splits, model labels and enhanced audio: merit-studio export (see README).");
            if state.job.is_some() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("exporting…");
                });
            } else if ui
                .button("Choose a folder and export…")
                .on_hover_text(tooltip(ui.ctx(), Command::ChooseExportFolder))
                .clicked()
            {
                commands.send(Command::ChooseExportFolder);
            }
            match &state.message {
                Some(Ok(text)) => {
                    ui.label(text);
                }
                Some(Err(error)) => {
                    ui.colored_label(ui.visuals().error_fg_color, error.to_string());
                }
                None => {}
            }
        });
    if !open {
        commands.send(Action::ShowExport(false));
    }
    if (format, mine_only) != (state.format, state.mine_only) {
        commands.send(Action::SetExportChoice { format, mine_only });
    }
}
