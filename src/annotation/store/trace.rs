//! Trace passes in the store: a pass is written as it is traced (`begin`, blocks, `end`), and only
//! a finished pass becomes an undo step — undoing it discards the whole pass, redo keeps it again.

use super::{AnnotationStore, Applied, Step};
use crate::annotation::AnnotationError;
use crate::annotation::label::Op;
use crate::annotation::trace::{PassState, TraceEdit, TraceInput, block_len};
use crate::project::TraceScheme;

impl AnnotationStore {
    /// Writes `edit` durably and applies it, without an undo step of its own.
    fn write_trace(&mut self, file: &str, edit: TraceEdit) -> Result<Applied, AnnotationError> {
        let writer = self.writer.as_mut().ok_or(AnnotationError::NoAnnotator)?;
        let entry = writer.append(file, Op::trace(edit), None)?;
        self.apply(&entry);
        Ok(Applied { entry })
    }

    /// Starts a pass over `file` in `scheme`'s dimension, its first sample at grid index
    /// `start_index` (`start_index / rate_hz` seconds of audio). Returns the pass id.
    ///
    /// # Errors
    /// No annotator chosen, or the journal cannot be written.
    pub fn begin_pass(
        &mut self,
        file: &str,
        scheme: &TraceScheme,
        input: TraceInput,
        start_index: u64,
    ) -> Result<u64, AnnotationError> {
        let pass = self.next_seq().ok_or(AnnotationError::NoAnnotator)?;
        self.write_trace(
            file,
            TraceEdit::Begin {
                pass,
                dimension: scheme.dimension.clone(),
                rate_hz: scheme.rate_hz,
                mode: scheme.mode,
                input,
                start_index,
            },
        )?;
        Ok(pass)
    }

    /// Appends samples to pass `pass` in journal blocks of at most half a second each (one
    /// fsynced line per block); returns how many lines were written.
    ///
    /// # Errors
    /// As [`AnnotationStore::edit`]; blocks written before the failure stay.
    pub fn append_trace(
        &mut self,
        file: &str,
        pass: u64,
        rate_hz: f64,
        values: &[f64],
    ) -> Result<usize, AnnotationError> {
        let mut lines = 0;
        for block in values.chunks(block_len(rate_hz)) {
            self.write_trace(
                file,
                TraceEdit::Block {
                    pass,
                    values: block.to_vec(),
                },
            )?;
            lines += 1;
        }
        Ok(lines)
    }

    /// Ends pass `pass` (complete, or cut short and kept as incomplete); the pass becomes one
    /// undo step.
    ///
    /// # Errors
    /// As [`AnnotationStore::edit`].
    pub fn end_pass(
        &mut self,
        file: &str,
        pass: u64,
        state: PassState,
    ) -> Result<Applied, AnnotationError> {
        let applied = self.write_trace(file, TraceEdit::End { pass, state })?;
        self.undo.push(Step {
            file: file.to_owned(),
            op: Op::trace(TraceEdit::Discard { pass, on: true }),
            seq: applied.entry.seq,
        });
        self.redo.clear();
        Ok(applied)
    }
}
