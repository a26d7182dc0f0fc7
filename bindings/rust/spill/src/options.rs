//! Options for open, reap and scan: only what the caller set is written over the library's own
//! defaults (spill_opts_init), so fields the C library adds later keep their defaults.
use crate::{sys, Addr, Callbacks, Error, ErrorCode, LogFn, LogSink, ProgressFn, ProgressSink, RawOpts, ReapStats, Result,
            VerifyFn};
use std::ffi::{c_void, CStr, CString};
use std::os::raw::{c_char, c_int};
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// When [`Spill::open`](crate::Spill::open) reaps the orphans under its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReapOnOpen {
    /// Not at all.
    None,
    /// First, on the calling thread (the default).
    Sync,
    /// On a thread of its own, one per root per process, shared by the handles open on that
    /// root; open returns without waiting, and the last handle's close stops it at its next
    /// check. Its log and progress closures are those of the open that started it, called from
    /// its thread: the handles keep them alive (see [`Options::progress`]).
    Background,
}

/// What a progress closure returns: `true` or `ControlFlow::Break(())` stops the reap at its
/// next check ([`ReapStats::cancelled`]); `false` or `ControlFlow::Continue(())` goes on.
pub trait ProgressReply {
    fn stop(self) -> bool;
}

impl ProgressReply for bool {
    fn stop(self) -> bool {
        self
    }
}

impl ProgressReply for ControlFlow<()> {
    fn stop(self) -> bool {
        self.is_break()
    }
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
    reap_on_open: Option<ReapOnOpen>,
    reap_budget: Option<Duration>,
    expected_bytes: Option<u64>,
    threads: Option<u32>,
    tag: Option<String>,
    log: Option<LogFn>,
    dry_run: Option<bool>,
    progress: Option<ProgressFn>,
    progress_interval: Option<Duration>,
    keep: Option<Duration>,
    reap_resumable: Option<bool>,
    verify: Option<VerifyFn>,
    root_limit: Option<u64>,
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

    /// Whether open reaps the orphans under the root, and how: `true` or [`ReapOnOpen::Sync`]
    /// (the default) first, `false` or [`ReapOnOpen::None`] not at all,
    /// [`ReapOnOpen::Background`] on a thread of its own ([`Options::background`]).
    pub fn reap_on_open(mut self, reap: impl Into<ReapOnOpen>) -> Options {
        self.reap_on_open = Some(reap.into());
        self
    }

    /// Open returns without waiting for the reap, which runs on a background thread
    /// ([`ReapOnOpen::Background`]). With [`Options::expected_bytes`] short of free space, open
    /// first reaps synchronously all the same.
    pub fn background(self) -> Options {
        self.reap_on_open(ReapOnOpen::Background)
    }

    /// The reap in open (and reap itself) stops after this (default: no limit; at least 1 ms).
    pub fn reap_budget(mut self, budget: Duration) -> Options {
        self.reap_budget = Some(budget);
        self
    }

    /// Open needs this many bytes plus 10% free, after reaping ([`ErrorCode::NoSpace`]
    /// otherwise). Default 0: no check. It is also the spill's first reservation, which the
    /// other processes on the root count ([`Options::root_limit`]).
    pub fn expected_bytes(mut self, bytes: u64) -> Options {
        self.expected_bytes = Some(bytes);
        self
    }

    /// Open: the most that this user's live spills under the root may hold together (default:
    /// no limit). Every spill holds a reservation (its first one is [`Options::expected_bytes`]),
    /// shared with the other processes on the root; an open or a put that would take the root
    /// past the limit is refused ([`ErrorCode::NoSpace`], before any byte is written). Scan
    /// shows each live spill's reservation and limit ([`Entry`](crate::Entry)).
    pub fn root_limit(mut self, bytes: u64) -> Options {
        self.root_limit = Some(bytes);
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

    /// Called during a reap (reap, or open's) at most every [`Options::progress_interval`]
    /// with the counts so far, and once at the end with the final ones; returning `true` (or
    /// `ControlFlow::Break(())`) stops the reap at its next check, and its stats say
    /// `cancelled`. It runs on the thread that runs the reap: the caller's, or for a background
    /// reap its own thread after open has returned, which is why it must be `Send`; the handles
    /// on that root keep it alive until the last of them is closed. A panic in it stops the
    /// reap.
    pub fn progress<R: ProgressReply>(mut self, progress: impl FnMut(&ReapStats) -> R + Send + 'static) -> Options {
        let mut f = progress;
        self.progress = Some(Arc::new(ProgressSink(Mutex::new(Box::new(move |s: &ReapStats| f(s).stop())))));
        self
    }

    /// How often the progress closure is called at most (default 200 ms; whole milliseconds).
    pub fn progress_interval(mut self, every: Duration) -> Options {
        self.progress_interval = Some(every);
        self
    }

    /// Open (and [`adopt`](crate::adopt)): should this process die, its spill stays resumable
    /// (kept for [`adopt`](crate::adopt), [`State::Resumable`](crate::State::Resumable)) for this
    /// long after its last change (whole seconds; default 0: reaped at once). Keep it only as
    /// long as a restart of the job takes: a resumable orphan holds its disk space meanwhile.
    pub fn keep(mut self, keep: Duration) -> Options {
        self.keep = Some(keep);
        self
    }

    /// reap: remove resumable orphans at once, like any other orphan.
    pub fn reap_resumable(mut self, yes: bool) -> Options {
        self.reap_resumable = Some(yes);
        self
    }

    /// [`adopt`](crate::adopt) only: called on the calling thread for each chunk the killed
    /// run's journal proves complete, with its address and its bytes read back, before anything
    /// in the orphan changes. `true`: the chunk is what its address says (adopted); `false`: it
    /// is not (a power loss left it zero-filled or stale): it is removed, not adopted. A panic
    /// in it fails the adopt with nothing removed (the orphan stays as it was, adoptable again)
    /// and is then resumed on the thread that called adopt. Without it adopt trusts the
    /// journal's lengths, as 0.2 did. It must not call into a spill (the one being adopted does
    /// not exist yet).
    ///
    /// ```
    /// // content-addressed chunks: the address is the data's hash
    /// fn hash(data: &[u8]) -> spill::Addr {
    ///     let mut a = [0u8; 32];
    ///     for (i, b) in data.iter().enumerate() {
    ///         a[i % 32] = a[i % 32].rotate_left(3) ^ *b;
    ///     }
    ///     a
    /// }
    /// let opts = spill::Options::new().verify(|addr, data| *addr == hash(data));
    /// ```
    pub fn verify(mut self, verify: impl Fn(&Addr, &[u8]) -> bool + Send + Sync + 'static) -> Options {
        self.verify = Some(Arc::new(verify));
        self
    }

    /// The verify closure, for adopt (which passes it with a context of its own per call).
    pub(crate) fn verify_fn(&self) -> Option<&VerifyFn> {
        self.verify.as_ref()
    }

    pub(crate) fn callbacks(&self) -> Callbacks {
        Callbacks { _log: self.log.clone(), _progress: self.progress.clone() }
    }

    pub(crate) fn is_background(&self) -> bool {
        self.reap_on_open == Some(ReapOnOpen::Background)
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
            raw.reap_on_open = match r {
                ReapOnOpen::None => sys::SPILL_REAP_NONE,
                ReapOnOpen::Sync => sys::SPILL_REAP_SYNC,
                ReapOnOpen::Background => sys::SPILL_REAP_BACKGROUND,
            };
        }
        if let Some(p) = self.progress_interval {
            raw.progress_ms = u32::try_from(p.as_millis()).unwrap_or(u32::MAX);
        }
        if let Some(k) = self.keep {
            raw.keep_seconds = u32::try_from(k.as_secs()).unwrap_or(u32::MAX);
        }
        if let Some(r) = self.reap_resumable {
            raw.reap_resumable = c_int::from(r);
        }
        if let Some(b) = self.reap_budget {
            raw.reap_budget_ms = u32::try_from(b.as_millis()).unwrap_or(u32::MAX).max(1);
        }
        if let Some(e) = self.expected_bytes {
            raw.expected_bytes = e;
        }
        if let Some(l) = self.root_limit {
            raw.root_limit_bytes = l;
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
        if let Some(progress) = &self.progress {
            raw.progress = Some(progress_call);
            raw.progress_ctx = Arc::as_ptr(progress) as *mut c_void;
        }
        Ok(RawOpts { raw, _tag: tag, _borrow: PhantomData })
    }
}

unsafe extern "C" fn log_line(ctx: *mut c_void, level: c_int, msg: *const c_char) {
    // SAFETY: ctx is a LogSink kept alive by the Options of the call or the handle; msg a
    // valid string.
    #[allow(unused_unsafe)] // rustc before 1.65 calls it unneeded in an unsafe fn
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

unsafe extern "C" fn progress_call(ctx: *mut c_void, so_far: *const sys::spill_reap_stats) -> c_int {
    // SAFETY: ctx is a ProgressSink kept alive by the Options of the call or by the handles on
    // the root (crate::background); so_far is valid during the call.
    #[allow(unused_unsafe)] // rustc before 1.65 calls it unneeded in an unsafe fn
    let (sink, so_far) = unsafe { (&*(ctx as *const ProgressSink), ReapStats::from_raw(&*so_far)) };
    // a panic must not unwind into C: it stops the reap (and poisons nothing: the lock's
    // poison is ignored below)
    let stop = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut f = sink.0.lock().unwrap_or_else(|e| e.into_inner());
        (f)(&so_far)
    }));
    c_int::from(stop.unwrap_or(true))
}

impl From<bool> for ReapOnOpen {
    fn from(reap: bool) -> ReapOnOpen {
        if reap {
            ReapOnOpen::Sync
        } else {
            ReapOnOpen::None
        }
    }
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
            .field("progress", &self.progress.is_some())
            .field("progress_interval", &self.progress_interval)
            .field("keep", &self.keep)
            .field("reap_resumable", &self.reap_resumable)
            .field("verify", &self.verify.is_some())
            .field("root_limit", &self.root_limit)
            .finish()
    }
}
