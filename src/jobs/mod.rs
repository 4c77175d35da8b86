//! Background work (decoding, scanning, inference, exports) on named threads, with progress that
//! the UI or a terminal can poll and cancellation that is checked between units of work.

pub mod batch;
pub mod cache;
pub mod model_choice;
pub mod references;
pub mod scan;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Called when a job makes progress or ends (the window uses it to repaint).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// Worker threads to use by default: the machine's cores.
#[must_use]
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// What a running job sees: its cancel flag and its progress counters.
pub struct JobContext {
    cancel: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    notify: Option<Notify>,
}

impl JobContext {
    /// A context that nobody watches (for running job code in the foreground).
    #[must_use]
    pub fn detached() -> Self {
        Self {
            cancel: Arc::default(),
            done: Arc::default(),
            total: Arc::default(),
            notify: None,
        }
    }

    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The flag itself, for code that takes `&AtomicBool` (e.g. decoding).
    #[must_use]
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.notify();
    }

    pub fn advance(&self, units: u64) {
        self.done.fetch_add(units, Ordering::Relaxed);
        self.notify();
    }

    /// Sets the units done (for work that knows its fraction rather than counting units).
    pub fn set_done(&self, units: u64) {
        self.done.store(units, Ordering::Relaxed);
        self.notify();
    }

    fn notify(&self) {
        if let Some(notify) = &self.notify {
            notify();
        }
    }
}

/// A snapshot of a job's progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub elapsed: Duration,
}

impl Progress {
    #[must_use]
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0) as f32
        }
    }

    /// Remaining time at the rate so far; `None` until something is done.
    #[must_use]
    pub fn eta(&self) -> Option<Duration> {
        if self.done == 0 || self.total < self.done {
            return None;
        }
        let per_unit = self.elapsed.as_secs_f64() / self.done as f64;
        Some(Duration::from_secs_f64(
            per_unit * (self.total - self.done) as f64,
        ))
    }
}

/// A panic while working on one file, caught so that the rest of a batch goes on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: internal error: {message} (a bug; please report it with this file)", path.display())]
pub struct FilePanicked {
    pub path: std::path::PathBuf,
    pub message: String,
}

/// Runs one file's work of a batch; a panic in it becomes that file's [`FilePanicked`] (logged
/// with the file; the panic hook has already printed where it happened) instead of ending the
/// whole batch.
///
/// # Errors
/// [`FilePanicked`] when `work` panicked.
pub fn contain_panic<T>(
    path: &std::path::Path,
    work: impl FnOnce() -> T,
) -> Result<T, FilePanicked> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let error = FilePanicked {
            path: path.to_path_buf(),
            message: crate::audio::panic_message(payload.as_ref()),
        };
        tracing::error!("{error}");
        error
    })
}

/// The job's thread panicked; the panic message when it had one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("background job `{name}` failed: {message}")]
pub struct JobPanicked {
    pub name: String,
    pub message: String,
}

/// A handle on a background job. Dropping it cancels the job without waiting for it.
pub struct Job<T> {
    name: String,
    context: JobContext,
    started: Instant,
    handle: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a thread named `name`; `notify` (if any) is called on each progress step
    /// and when the job ends, e.g. to request a repaint.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn<F>(name: &str, notify: Option<Notify>, work: F) -> std::io::Result<Self>
    where
        F: FnOnce(&JobContext) -> T + Send + 'static,
    {
        let context = JobContext {
            notify,
            ..JobContext::detached()
        };
        let worker_context = JobContext {
            cancel: Arc::clone(&context.cancel),
            done: Arc::clone(&context.done),
            total: Arc::clone(&context.total),
            notify: context.notify.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = work(&worker_context);
                worker_context.notify();
                result
            })?;
        Ok(Self {
            name: name.to_owned(),
            context,
            started: Instant::now(),
            handle: Some(handle),
        })
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[must_use]
    pub fn progress(&self) -> Progress {
        Progress {
            done: self.context.done.load(Ordering::Relaxed),
            total: self.context.total.load(Ordering::Relaxed),
            elapsed: self.started.elapsed(),
        }
    }

    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.context.cancel.store(true, Ordering::Relaxed);
    }

    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// The result once the job has finished; `None` while it runs or after it was taken.
    pub fn try_take(&mut self) -> Option<Result<T, JobPanicked>> {
        if !self.handle.as_ref()?.is_finished() {
            return None;
        }
        self.handle.take().map(|handle| self.join(handle))
    }

    /// Blocks until the job ends.
    ///
    /// # Errors
    /// [`JobPanicked`] if the job's thread panicked (or the result was already taken).
    pub fn wait(mut self) -> Result<T, JobPanicked> {
        match self.handle.take() {
            Some(handle) => self.join(handle),
            None => Err(JobPanicked {
                name: self.name.clone(),
                message: "the result was already taken".into(),
            }),
        }
    }

    fn join(&self, handle: JoinHandle<T>) -> Result<T, JobPanicked> {
        handle.join().map_err(|payload| JobPanicked {
            name: self.name.clone(),
            message: crate::audio::panic_message(payload.as_ref()),
        })
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        self.context.cancel.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_on_one_file_becomes_that_files_error() {
        let path = std::path::Path::new("corpus/bad.wav");
        let results: Vec<Result<u32, FilePanicked>> = [1_u32, 0, 3]
            .into_iter()
            .map(|n| contain_panic(path, || 6 / n))
            .collect();
        assert_eq!(results[0].as_ref().ok(), Some(&6));
        assert_eq!(results[2].as_ref().ok(), Some(&2));
        let error = results[1].as_ref().unwrap_err();
        assert!(error.message.contains("divide by zero"), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("corpus/bad.wav: internal error"),
            "{error}"
        );
    }

    #[test]
    fn reports_progress_and_result() {
        let job = Job::spawn("count", None, |ctx| {
            ctx.set_total(10);
            for _ in 0..10 {
                ctx.advance(1);
            }
            42
        })
        .unwrap();
        let progress_before = job.progress();
        assert!(progress_before.done <= 10);
        let total_at_end = {
            let result = job.wait().unwrap();
            assert_eq!(result, 42);
            10
        };
        assert_eq!(total_at_end, 10);
    }

    #[test]
    fn cancellation_reaches_the_worker() {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let job = Job::spawn("spin", None, move |ctx| {
            started_tx.send(()).unwrap();
            let mut rounds = 0_u64;
            while !ctx.is_cancelled() {
                rounds += 1;
                std::thread::yield_now();
            }
            rounds
        })
        .unwrap();
        started_rx.recv().unwrap();
        job.cancel();
        assert!(job.wait().is_ok());
    }

    #[test]
    fn a_panic_becomes_an_error() {
        let job = Job::spawn("boom", None, |_| -> u32 { panic!("bad input") }).unwrap();
        let error = job.wait().unwrap_err();
        assert_eq!(error.message, "bad input");
        assert!(error.to_string().contains("boom"));
    }

    #[test]
    fn eta_follows_the_rate() {
        let progress = Progress {
            done: 25,
            total: 100,
            elapsed: Duration::from_secs(5),
        };
        assert_eq!(progress.eta(), Some(Duration::from_secs(15)));
        assert!((progress.fraction() - 0.25).abs() < 1e-6);
        let nothing_yet = Progress {
            done: 0,
            ..progress
        };
        assert_eq!(nothing_yet.eta(), None);
    }
}
