//! Applying trace mode's commands and sampling the running pass once per frame (the trace part
//! of `command_handling.rs`, kept apart so it reads on its own).

use super::app::StudioApp;
use super::commands::Command;
use super::view::scheme_of;
use crate::annotation::Op;
use crate::annotation::trace::{PassState, TraceEdit};
use crate::project::{PassCombine, TraceScheme};

impl StudioApp {
    /// The open project's traceable dimensions and how an annotator's passes combine.
    pub(super) fn trace_settings(&self) -> (Vec<TraceScheme>, PassCombine) {
        self.collection.project.as_ref().map_or_else(
            || (Vec::new(), PassCombine::Final),
            |p| {
                (
                    p.file.traces.schemes(&p.file.label_scheme),
                    p.file.traces.combine,
                )
            },
        )
    }

    fn trace_scheme(&self) -> Option<TraceScheme> {
        self.trace.scheme(self.collection.project.as_ref())
    }

    /// Trace commands: start or stop a pass, switch the dimension.
    pub(super) fn run_trace(&mut self, command: Command) {
        match command {
            Command::TracePass => {
                if self.trace.active.is_some() {
                    self.trace.stop(
                        &mut self.labelling.annotations,
                        PassState::Incomplete,
                        "pass stopped",
                    );
                    self.player.transport.set_playing(false);
                    return;
                }
                let file = self
                    .recording
                    .as_ref()
                    .filter(|r| r.original.is_some())
                    .and_then(|r| self.collection.listed_path(r.index))
                    .map(str::to_owned);
                let (Some(file), Some(scheme)) = (file, self.trace_scheme()) else {
                    self.trace.message = Some("open a recording of a project first".into());
                    return;
                };
                let transport = &self.player.transport;
                if transport.position_samples() >= transport.length_samples() {
                    transport.seek_s(0.0);
                }
                let position = transport.position_s();
                self.trace
                    .start(&mut self.labelling.annotations, &file, &scheme, position);
                if self.trace.active.is_some() {
                    transport.set_playing(true);
                }
            }
            Command::MarkFinalPass => self.mark_next_final(),
            Command::NextTraceDimension if self.trace.active.is_none() => {
                let count = self
                    .collection
                    .project
                    .as_ref()
                    .map_or(1, |p| p.file.traces.schemes(&p.file.label_scheme).len());
                self.trace.dimension = (self.trace.dimension + 1) % count.max(1);
            }
            _ => {}
        }
    }

    /// Marks the current annotator's latest kept pass of the traced dimension final; pressed
    /// again, the one before it, and after the oldest none (the latest then counts). The trace
    /// strip shows which one is.
    fn mark_next_final(&mut self) {
        let file = self.current_file().map(str::to_owned);
        let (Some(file), Some(scheme)) = (file, self.trace_scheme()) else {
            return;
        };
        let dimension = scheme.dimension;
        let traces = self.labelling.label_of(&file).map(|l| &l.traces);
        let kept: Vec<u64> = traces
            .map(|t| t.kept(&dimension).map(|p| p.id).collect())
            .unwrap_or_default();
        let marked = traces
            .and_then(|t| t.finals.get(&dimension))
            .and_then(|id| kept.iter().position(|k| k == id));
        let Some(&latest) = kept.last() else {
            self.trace.message = Some(format!("no pass of {dimension} to mark final"));
            return;
        };
        let next = match marked {
            None => Some(latest),
            Some(0) => None,
            Some(i) => Some(kept[i - 1]),
        };
        let scheme_of_labels = scheme_of(&self.collection);
        self.labelling.edit(
            &file,
            Op::trace(TraceEdit::SetFinal {
                dimension,
                pass: next,
            }),
            scheme_of_labels,
        );
    }

    /// Samples the running pass at the playback position; ends it at the end of the recording.
    pub(super) fn poll_trace(&mut self) {
        if self.trace.active.is_none() {
            return;
        }
        let transport = &self.player.transport;
        let at_end =
            !transport.is_playing() && transport.position_samples() >= transport.length_samples();
        let position = transport.position_s();
        self.trace
            .sample(&mut self.labelling.annotations, position, at_end);
    }
}
