//! Shared ONNX Runtime sessions.
//!
//! `ort`'s `Session::run` takes `&mut self`, so one session serves one caller
//! at a time. A [`SessionPool`] holds a few sessions of the same model, each
//! with its own small intra-op thread pool, so concurrent requests run in
//! parallel on all cores instead of queueing behind one mutex.

use std::sync::atomic::{AtomicUsize, Ordering};

use ort::session::{Session, builder::GraphOptimizationLevel};
use parking_lot::Mutex;

use crate::VisionError;

/// Threading for one model's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threading {
    /// Number of sessions in the pool (concurrent inferences).
    pub sessions: usize,
    /// ONNX Runtime intra-op threads per session.
    pub intra_threads: usize,
}

impl Threading {
    /// One session using every core: lowest latency for a single caller.
    pub fn single_caller() -> Self {
        Self {
            sessions: 1,
            intra_threads: available_cores(),
        }
    }

    /// One single-threaded session per core: highest throughput under load.
    pub fn per_core() -> Self {
        Self {
            sessions: available_cores(),
            intra_threads: 1,
        }
    }
}

pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub struct SessionPool {
    name: String,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPool")
            .field("name", &self.name)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl SessionPool {
    /// Build `threading.sessions` sessions from one model's ONNX bytes.
    pub fn from_bytes(
        env: &ort::environment::Environment,
        name: &str,
        model: &[u8],
        threading: Threading,
    ) -> Result<Self, VisionError> {
        let model_error = |e: ort::Error| VisionError::Model {
            model: name.to_owned(),
            message: e.to_string(),
        };
        let mut sessions = Vec::with_capacity(threading.sessions.max(1));
        // Measured and left at ONNX Runtime's defaults: sharing prepacked
        // weights between a pool's sessions, and turning off the memory
        // pattern or the CPU arena, each raised peak RSS under load.
        for _ in 0..threading.sessions.max(1) {
            let session = Session::builder(env)
                .map_err(model_error)?
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .map_err(|e| model_error(e.into()))?
                .with_intra_threads(threading.intra_threads.max(1))
                .map_err(|e| model_error(e.into()))?
                .with_inter_threads(1)
                .map_err(|e| model_error(e.into()))?
                .commit_from_memory(model)
                .map_err(model_error)?;
            sessions.push(Mutex::new(session));
        }
        Ok(Self {
            name: name.to_owned(),
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run `f` with exclusive use of one session: a free one if any, else
    /// wait on the next in round-robin order.
    pub fn with_session<R>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<R, ort::Error>,
    ) -> Result<R, VisionError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.sessions.len();
        let mut guard = (0..n)
            .find_map(|i| self.sessions[(start + i) % n].try_lock())
            .unwrap_or_else(|| self.sessions[start % n].lock());
        f(&mut guard).map_err(|e| VisionError::Model {
            model: self.name.clone(),
            message: e.to_string(),
        })
    }

    /// Names of the model's inputs, in order.
    pub fn input_names(&self) -> Vec<String> {
        self.sessions[0]
            .lock()
            .inputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect()
    }

    pub fn output_names(&self) -> Vec<String> {
        self.sessions[0]
            .lock()
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect()
    }
}

/// Hand memory freed while building sessions back to the OS.
///
/// Creating a session parses the model, copies its weights and prepacks
/// them; the intermediate copies are freed, but glibc keeps freed heap pages
/// mapped, so a loaded engine looked twice its size in RSS. One
/// `malloc_trim` after loading returns them (measured: see ARCHITECTURE.md).
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap bookkeeping; it takes
    // no pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
