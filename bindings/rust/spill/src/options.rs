//! Options for open, reap and scan: only what the caller set is written over the library's own
//! defaults (spill_opts_init), so fields the C library adds later keep their defaults.
use crate::{sys, Error, ErrorCode, LogFn, LogSink, RawOpts, Result};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Duration;

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// Options for [`Spill::open`](crate::Spill::open), [`reap`](crate::reap) and
/// [`scan`](crate::scan). `Options::new()` (or `default()`) is the library's defaults; each
/// method sets one option:
///
/// ```
/// use std::time::Duration;
/// let opts = spill::Options::new().grace(Duration::from_secs(5)).tag("upload").threads(2);
/// ```
#[derive(Clone, Default)]
pub struct Options {
    grace: Option<Duration>,
    reap_on_open: Option<bool>,
    reap_budget: Option<Duration>,
    expected_bytes: Option<u64>,
    threads: Option<u32>,
    tag: Option<String>,
    log: Option<LogFn>,
    dry_run: Option<bool>,
}

impl Options {
    pub fn new() -> Options {
        Options::default()
    }

    /// Age before a lockless or foreign directory is reaped (default 30 s; whole seconds).
    pub fn grace(mut self, grace: Duration) -> Options {
        self.grace = Some(grace);
        self
    }

    /// Whether open first reaps the orphans under the root (default true).
    pub fn reap_on_open(mut self, reap: bool) -> Options {
        self.reap_on_open = Some(reap);
        self
    }

    /// The reap in open (and reap itself) stops after this (default: no limit; at least 1 ms).
    pub fn reap_budget(mut self, budget: Duration) -> Options {
        self.reap_budget = Some(budget);
        self
    }

    /// Open needs this many bytes plus 10% free, after reaping ([`ErrorCode::NoSpace`]
    /// otherwise). Default 0: no check.
    pub fn expected_bytes(mut self, bytes: u64) -> Options {
        self.expected_bytes = Some(bytes);
        self
    }

    /// Reaper workers (default 1; 0 = one per core).
    pub fn threads(mut self, threads: u32) -> Options {
        self.threads = Some(threads);
        self
    }

    /// A label kept in the owner record, shown by `spill ls`.
    pub fn tag(mut self, tag: impl Into<String>) -> Options {
        self.tag = Some(tag.into());
        self
    }

    /// Receives the library's log lines, on the thread that called in, during the call.
    pub fn log(mut self, log: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> Options {
        self.log = Some(Arc::new(LogSink(Box::new(log))));
        self
    }

    /// reap only: judge exactly as a real run would and remove nothing; the stats say what a
    /// real run would remove. Open refuses it ([`ErrorCode::Invalid`]).
    pub fn dry_run(mut self, dry_run: bool) -> Options {
        self.dry_run = Some(dry_run);
        self
    }

    pub(crate) fn log_sink(&self) -> Option<LogFn> {
        self.log.clone()
    }

    pub(crate) fn to_raw(&self) -> Result<RawOpts<'_>> {
        let mut raw = MaybeUninit::<sys::spill_opts>::zeroed();
        // SAFETY: spill_opts_init_version fills every field of the version spill-sys declares
        // (the struct is that version's size), or fails and writes nothing (zeroes are fine).
        let rc = unsafe { sys::spill_opts_init_version(raw.as_mut_ptr(), sys::SPILL_OPTS_VERSION) };
        crate::check(rc)?;
        // SAFETY: every field is set (or zero, a valid value of each field's type).
        let mut raw = unsafe { raw.assume_init() };
        if let Some(g) = self.grace {
            raw.grace_seconds = u32::try_from(g.as_secs()).unwrap_or(u32::MAX);
        }
        if let Some(r) = self.reap_on_open {
            raw.reap_on_open = c_int::from(r);
        }
        if let Some(b) = self.reap_budget {
            raw.reap_budget_ms = u32::try_from(b.as_millis()).unwrap_or(u32::MAX).max(1);
        }
        if let Some(e) = self.expected_bytes {
            raw.expected_bytes = e;
        }
        if let Some(d) = self.dry_run {
            raw.dry_run = c_int::from(d);
        }
        if let Some(t) = self.threads {
            raw.threads = t;
        }
        let tag = match &self.tag {
            Some(t) => Some(CString::new(t.as_str()).map_err(|_| {
                Error::new(ErrorCode::Invalid, "", "", "the tag contains a NUL byte")
            })?),
            None => None,
        };
        if let Some(t) = &tag {
            raw.tag = t.as_ptr();
        }
        if let Some(log) = &self.log {
            raw.log = Some(log_line);
            raw.log_ctx = Arc::as_ptr(log) as *mut c_void;
        }
        Ok(RawOpts { raw, _tag: tag, _borrow: PhantomData })
    }
}

unsafe extern "C" fn log_line(ctx: *mut c_void, level: c_int, msg: *const c_char) {
    // SAFETY: ctx is a LogSink kept alive by the Options of the call or the handle; msg a
    // valid string.
    let (log, msg) = unsafe { (&*(ctx as *const LogSink), CStr::from_ptr(msg).to_string_lossy()) };
    let level = match level {
        0 => LogLevel::Error,
        1 => LogLevel::Warn,
        2 => LogLevel::Info,
        _ => LogLevel::Debug,
    };
    // a panic must not unwind into C
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (log.0)(level, &msg)));
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("grace", &self.grace)
            .field("reap_on_open", &self.reap_on_open)
            .field("reap_budget", &self.reap_budget)
            .field("expected_bytes", &self.expected_bytes)
            .field("threads", &self.threads)
            .field("tag", &self.tag)
            .field("log", &self.log.is_some())
            .field("dry_run", &self.dry_run)
            .finish()
    }
}
