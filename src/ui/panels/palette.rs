//! The command palette (Ctrl+K): every command of the table, filtered as you type.

use crate::ui::commands::{Action, CommandSender, all_commands};
use crate::ui::view::StudioView;

pub fn palette_ui(ctx: &egui::Context, view: &StudioView<'_>, commands: &CommandSender) {
    let Some(shown) = &view.windows.palette else {
        return;
    };
    let mut query = shown.clone();
    let mut chosen = None;
    let mut open = true;
    let mut escape = false;
    egui::Window::new("Commands")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 80.0])
        .open(&mut open)
        .show(ctx, |ui| {
            let search = ui.add(
                egui::TextEdit::singleline(&mut query)
                    .hint_text("type to filter commands")
                    .desired_width(360.0),
            );
            search.request_focus();
            let needle = query.to_lowercase();
            let matching: Vec<_> = all_commands()
                .filter(|(_, name, _)| name.to_lowercase().contains(&needle))
                .collect();
            for (command, name, shortcut) in &matching {
                ui.horizontal(|ui| {
                    if ui.selectable_label(false, *name).clicked() {
                        chosen = Some(*command);
                    }
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.weak(ctx.format_shortcut(shortcut));
                    });
                });
            }
            if search.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                chosen = matching.first().map(|(command, _, _)| *command);
            }
            escape = ui.input(|i| i.key_pressed(egui::Key::Escape));
        });
    if let Some(command) = chosen {
        commands.send(Action::SetPaletteQuery(None));
        commands.send(command);
    } else if !open || escape {
        commands.send(Action::SetPaletteQuery(None));
    } else if query != *shown {
        commands.send(Action::SetPaletteQuery(Some(query)));
    }
}
