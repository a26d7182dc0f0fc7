//! spill: a private spill directory that cleans up after its owner, even after a hard death.
//!
//! The safe Rust API over the spill C library (through `spill-sys`). A [`Spill`] holds a locked
//! directory of chunks, each stored under a 32-byte address; closing or dropping it removes the
//! directory, and the next [`Spill::open`] or [`reap`] under the same root removes the directory
//! of an owner that died without closing.
//!
//! ```
//! let root = std::env::temp_dir().join(format!("spill-doc-{}", std::process::id()));
//! let s = spill::Spill::open(&root, &spill::Options::new().tag("doc"))?;
//! s.put(&[7; 32], b"chunk")?;
//! assert_eq!(s.get(&[7; 32])?, b"chunk");
//! let dir = s.path().to_path_buf();
//! s.close()?;
//! assert!(!dir.exists());
//! # std::fs::remove_dir(&root).unwrap(); // empty: nothing of the spill is left
//! # Ok::<(), spill::Error>(())
//! ```
//!
//! A `Spill` is `Send` and `Sync`: one handle may be shared by threads (an `Arc<Spill>`, or a
//! `&Spill` held across `.await` in tasks that move between threads). The C library allows one
//! thread at a time per handle; the `Spill` keeps that rule itself with a lock of its own around
//! every call on the handle, so calls from several threads take turns. A log or progress closure
//! must not call into the handle whose call it runs in: that call holds the lock.
//! ```
//! fn shared<T: Send + Sync>() {}
//! shared::<spill::Spill>();
//! ```

use spill_sys as sys;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_void, CStr, CString};
use std::os::raw::{c_char, c_int};
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod background;
mod options;
pub use options::{LogLevel, Options, ProgressReply, ReapOnOpen};

/// The length of a chunk address.
pub const ADDR_LEN: usize = sys::SPILL_ADDR_LEN;
/// A chunk's address (for instance its content hash).
pub type Addr = [u8; ADDR_LEN];

/// What went wrong: spill's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A bad argument.
    Invalid,
    NoMemory,
    /// The OS refused an operation ([`Error::os_error`] says how).
    Io,
    /// Not enough free space or quota.
    NoSpace,
    /// No chunk under that address.
    NotFound,
    /// Held by a live owner.
    Busy,
    /// Refused: a link, a foreign owner, an unsafe root.
    Unsafe,
    /// The filesystem cannot lock.
    NoLock,
    /// Permission denied.
    Access,
    /// This spill's directory or lock was taken away from under it.
    Lost,
    /// The handle was used in a process other than the one that opened it.
    Forked,
    /// A buffer too small.
    Range,
    /// The budget (`reap_budget_ms`) ran out before spill_adopt could decide.
    TimedOut,
    /// A code this crate does not know yet (the C enum may grow).
    Other(i32),
}

impl ErrorCode {
    /// The spill_err value.
    pub fn raw(self) -> i32 {
        match self {
            ErrorCode::Invalid => sys::SPILL_EINVAL,
            ErrorCode::NoMemory => sys::SPILL_ENOMEM,
            ErrorCode::Io => sys::SPILL_EIO,
            ErrorCode::NoSpace => sys::SPILL_ENOSPC,
            ErrorCode::NotFound => sys::SPILL_ENOTFOUND,
            ErrorCode::Busy => sys::SPILL_EBUSY,
            ErrorCode::Unsafe => sys::SPILL_EUNSAFE,
            ErrorCode::NoLock => sys::SPILL_ENOLCK,
            ErrorCode::Access => sys::SPILL_EACCES,
            ErrorCode::Lost => sys::SPILL_ELOST,
            ErrorCode::Forked => sys::SPILL_EFORKED,
            ErrorCode::Range => sys::SPILL_ERANGE,
            ErrorCode::TimedOut => sys::SPILL_ETIMEDOUT,
            ErrorCode::Other(code) => code,
        }
    }

    /// The code of a spill_err value.
    pub fn from_raw(code: i32) -> ErrorCode {
        [
            ErrorCode::Invalid, ErrorCode::NoMemory, ErrorCode::Io, ErrorCode::NoSpace,
            ErrorCode::NotFound, ErrorCode::Busy, ErrorCode::Unsafe, ErrorCode::NoLock,
            ErrorCode::Access, ErrorCode::Lost, ErrorCode::Forked, ErrorCode::Range,
            ErrorCode::TimedOut,
        ]
        .into_iter()
        .find(|c| c.raw() == code)
        .unwrap_or(ErrorCode::Other(code))
    }
}

/// A failed call: spill_error's fields (the code, the OS error, the operation, the path and a
/// message a person can act on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    os_error: i32,
    op: String,
    path: String,
    message: String,
}

fn lossy(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: the library's strings are NUL-terminated and live until this thread's next
        // failing call; they are copied at once.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

impl Error {
    /// This thread's last failure, which returned `code`.
    fn last(code: c_int) -> Error {
        // SAFETY: spill_error_last never returns NULL.
        let e = unsafe { &*sys::spill_error_last() };
        if e.code != code {
            // the call failed without details (it should not happen): the code's description
            return Error::new(ErrorCode::from_raw(code), "", "", &strerror(code));
        }
        Error {
            code: ErrorCode::from_raw(code),
            os_error: e.os_error,
            op: lossy(e.op),
            path: lossy(e.path),
            message: lossy(e.message),
        }
    }

    fn new(code: ErrorCode, op: &str, path: &str, message: &str) -> Error {
        Error { code, os_error: 0, op: op.into(), path: path.into(), message: message.into() }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// errno (GetLastError() on Windows), if the OS refused something.
    pub fn os_error(&self) -> Option<i32> {
        (self.os_error != 0).then_some(self.os_error)
    }
    /// The operation that failed, e.g. "openat"; "" if none.
    pub fn op(&self) -> &str {
        &self.op
    }
    /// The path involved, or "".
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

fn strerror(code: c_int) -> String {
    // SAFETY: a static string.
    lossy(unsafe { sys::spill_strerror(code) })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // the library's message already names the operation and the OS error
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The io::ErrorKind of each code: NoSpace is StorageFull and Busy ResourceBusy when built with
/// rustc 1.83 or later (std has no such kinds before; they are Other there).
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match e.code {
            ErrorCode::NotFound => std::io::ErrorKind::NotFound,
            ErrorCode::Access => std::io::ErrorKind::PermissionDenied,
            ErrorCode::Invalid => std::io::ErrorKind::InvalidInput,
            ErrorCode::NoMemory => std::io::ErrorKind::OutOfMemory,
            #[cfg(spill_io_error_more)] // 1.83, which spill/build.rs checks
            #[allow(clippy::incompatible_msrv)]
            ErrorCode::NoSpace => std::io::ErrorKind::StorageFull,
            #[cfg(spill_io_error_more)]
            #[allow(clippy::incompatible_msrv)]
            ErrorCode::Busy => std::io::ErrorKind::ResourceBusy,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn check(rc: c_int) -> Result<()> {
    if rc == sys::SPILL_OK {
        Ok(())
    } else {
        Err(Error::last(rc))
    }
}

/// A path as the library takes it: bytes on POSIX, UTF-8 on Windows.
fn c_path(p: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = p
        .to_str()
        .ok_or_else(|| Error::new(ErrorCode::Invalid, "", &p.to_string_lossy(), "the path is not UTF-8"))?
        .as_bytes()
        .to_vec();
    CString::new(bytes)
        .map_err(|_| Error::new(ErrorCode::Invalid, "", &p.to_string_lossy(), "the path contains a NUL byte"))
}

fn path_from_c(p: *const c_char) -> PathBuf {
    // SAFETY: a NUL-terminated string of the library, copied at once.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    #[cfg(unix)]
    return PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes));
    #[cfg(not(unix))]
    return PathBuf::from(String::from_utf8_lossy(bytes).into_owned());
}

/// One live spill directory, owned by this process: chunks stored under 32-byte addresses. Its
/// directory is removed by [`Spill::close`], or by `Drop`; if the process dies first, the next
/// open or reap under the root removes it. Shared by threads, its calls take turns (see the
/// crate's documentation).
pub struct Spill {
    // every call on the C handle holds this lock: spill.h allows one thread at a time per handle
    raw: Mutex<Handle>,
    path: PathBuf,
    // what the options' pointers point to, kept for the handle's life: the C library may call
    // back after spill_open returns
    callbacks: Option<Callbacks>,
    // a background reap's root, whose closures crate::background keeps until its last handle
    // has closed
    background: Option<background::Root>,
}

/// The C handle, only ever used under Spill's lock (or with the Spill owned: close, drop).
struct Handle(NonNull<sys::spill_t>);

// SAFETY: a handle may be used from any thread, by one thread at a time (spill.h): Spill's Mutex
// makes that so, and so Spill is Sync as well.
unsafe impl Send for Handle {}

impl Spill {
    /// Creates a private spill directory under `root` (created 0700 with its parents if
    /// missing), first reaping the orphans under it unless the options say otherwise.
    pub fn open(root: impl AsRef<Path>, opts: &Options) -> Result<Spill> {
        let root = c_path(root.as_ref())?;
        let raw_opts = opts.to_raw()?;
        let mut out = ptr::null_mut();
        // SAFETY: valid strings and options, which outlive the call.
        check(unsafe { sys::spill_open(root.as_ptr(), raw_opts.as_ptr(), &mut out) })?;
        Ok(Spill::from_raw(out, opts, opts.is_background()))
    }

    fn from_raw(out: *mut sys::spill_t, opts: &Options, background: bool) -> Spill {
        let raw = NonNull::new(out).expect("spill call succeeded without a handle");
        // SAFETY: a live handle's path is a valid string until close.
        let path = path_from_c(unsafe { sys::spill_path(raw.as_ptr()) });
        let background = if background { background::attach(&path, opts.callbacks()) } else { None };
        Spill { raw: Mutex::new(Handle(raw)), path, callbacks: Some(opts.callbacks()), background }
    }

    /// The C handle, locked for one call (a panic while locked leaves the handle as it was: the
    /// poison is ignored).
    fn handle(&self) -> MutexGuard<'_, Handle> {
        self.raw.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handle is closed (rc): what kept its callbacks alive may go.
    fn closed(&mut self, rc: c_int) {
        if rc == sys::SPILL_EINVAL && self.background.is_some() {
            // refused from its own background reap's callback: the C handle stays open, and so
            // the reap may call again (a leak, not a dangling closure)
            std::mem::forget(self.callbacks.take());
            std::mem::forget(self.background.take());
            return;
        }
        drop(self.callbacks.take());
        if let Some(b) = self.background.take() {
            background::detach(b);
        }
    }

    /// Stores `data` under `addr`. An address already stored writes nothing and succeeds.
    pub fn put(&self, addr: &Addr, data: &[u8]) -> Result<()> {
        let h = self.handle();
        // SAFETY: a live handle, locked; a 32-byte address, data of that length.
        check(unsafe { sys::spill_put(h.0.as_ptr(), addr.as_ptr(), data.as_ptr().cast(), data.len()) })
    }

    /// The chunk stored under `addr` ([`ErrorCode::NotFound`] if none).
    pub fn get(&self, addr: &Addr) -> Result<Vec<u8>> {
        let (mut data, mut len) = (ptr::null_mut(), 0usize);
        let h = self.handle();
        // SAFETY: a live handle, locked.
        check(unsafe { sys::spill_get(h.0.as_ptr(), addr.as_ptr(), &mut data, &mut len) })?;
        drop(h); // the buffer is the caller's
        // SAFETY: the library's buffer of len bytes, copied, then released with spill_free.
        let bytes = unsafe {
            let v = if len == 0 { Vec::new() } else { std::slice::from_raw_parts(data as *const u8, len).to_vec() };
            sys::spill_free(data);
            v
        };
        Ok(bytes)
    }

    /// Frees the chunk under `addr` (once uploaded, say); the order of the others is kept.
    pub fn remove(&self, addr: &Addr) -> Result<()> {
        let h = self.handle();
        // SAFETY: a live handle, locked, and a 32-byte address.
        check(unsafe { sys::spill_remove(h.0.as_ptr(), addr.as_ptr()) })
    }

    /// The chunks stored now.
    pub fn len(&self) -> usize {
        // SAFETY: a live handle, locked.
        unsafe { sys::spill_count(self.handle().0.as_ptr()) }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of the chunks stored now.
    pub fn total_bytes(&self) -> u64 {
        // SAFETY: a live handle, locked.
        unsafe { sys::spill_total_bytes(self.handle().0.as_ptr()) }
    }

    /// The stored addresses, in insertion order, read one at a time: a put or remove by another
    /// thread meanwhile shows in the rest (and a remove may end it early).
    pub fn addrs(&self) -> Addrs<'_> {
        Addrs { spill: self, next: 0, end: self.len() }
    }

    /// The spill directory: the root as given (made absolute) joined with the spill's name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory and everything in it, and releases the lock. Dropping the spill does
    /// the same but cannot report a failure.
    pub fn close(self) -> Result<()> {
        let mut me = ManuallyDrop::new(self);
        drop(std::mem::take(&mut me.path));
        // SAFETY: the lock is moved out once and me.raw never read again (Drop does not run).
        let raw = unsafe { ptr::read(&me.raw) }.into_inner().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the handle is live (owned: no other thread holds it), and never used again.
        let rc = unsafe { sys::spill_close(raw.0.as_ptr()) };
        me.closed(rc); // only once the library is done with them
        check(rc)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let raw = self.raw.get_mut().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the handle is live (owned); it is freed here, whatever spill_close returns.
        let rc = unsafe { sys::spill_close(raw.0.as_ptr()) };
        self.closed(rc);
    }
}

impl fmt::Debug for Spill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spill").field("path", &self.path).field("len", &self.len()).finish()
    }
}

/// The addresses of a spill, in insertion order ([`Spill::addrs`]).
pub struct Addrs<'a> {
    spill: &'a Spill,
    next: usize,
    end: usize,
}

impl Iterator for Addrs<'_> {
    type Item = Addr;
    fn next(&mut self) -> Option<Addr> {
        if self.next >= self.end {
            return None;
        }
        let mut out = [0u8; ADDR_LEN];
        // SAFETY: a live handle (borrowed), locked; a 32-byte buffer.
        let rc = unsafe { sys::spill_addr(self.spill.handle().0.as_ptr(), self.next, out.as_mut_ptr()) };
        self.next += 1;
        (rc == sys::SPILL_OK).then_some(out)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.end - self.next, Some(self.end - self.next))
    }
}

impl ExactSizeIterator for Addrs<'_> {}

/// What a reap did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReapStats {
    /// Spill-named children of the root looked at.
    pub scanned: u32,
    /// Orphans removed (in a dry run: that would be).
    pub reaped: u32,
    /// Held by a live owner.
    pub live: u32,
    /// Lockless or foreign, younger than the grace.
    pub young: u32,
    /// Not ours to judge: a link, a foreign shape or owner.
    pub unsafe_: u32,
    /// Could not be judged or removed.
    pub errors: u32,
    /// Sizes of the regular files removed.
    pub bytes_freed: u64,
    /// Every non-directory entry removed, `.lock` included.
    pub files_removed: u64,
    pub elapsed: Duration,
    /// The time budget stopped it early.
    pub budget_exhausted: bool,
    /// Resumable orphans kept for [`adopt`] ([`Options::keep`]).
    pub resumable: u32,
    /// Orphans started and not finished (the budget); a later reap finishes them.
    pub cut_short: u32,
    /// A progress callback stopped it.
    pub cancelled: bool,
}

impl ReapStats {
    pub(crate) fn from_raw(r: &sys::spill_reap_stats) -> ReapStats {
        ReapStats {
            scanned: r.scanned,
            reaped: r.reaped,
            live: r.live,
            young: r.young,
            unsafe_: r.unsafe_,
            errors: r.errors,
            bytes_freed: r.bytes_freed,
            files_removed: r.files_removed,
            elapsed: Duration::from_millis(r.elapsed_ms.into()),
            budget_exhausted: r.budget_exhausted != 0,
            resumable: r.resumable,
            cut_short: r.cut_short,
            cancelled: r.cancelled != 0,
        }
    }
}

/// Removes the orphans of dead owners under `root`; never a live spill, never through a link,
/// never outside root. A missing root is not an error.
pub fn reap(root: impl AsRef<Path>, opts: &Options) -> Result<ReapStats> {
    let root = c_path(root.as_ref())?;
    let raw_opts = opts.to_raw()?;
    let mut stats = sys::spill_reap_stats { version: sys::SPILL_REAP_STATS_VERSION, ..Default::default() };
    // SAFETY: valid strings, options and stats, which outlive the call.
    check(unsafe { sys::spill_reap(root.as_ptr(), raw_opts.as_ptr(), &mut stats) })?;
    Ok(ReapStats::from_raw(&stats))
}

/// How a scan judged a spill directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Held by a live owner.
    Live,
    /// Its owner is gone: a reap removes it.
    Orphan,
    /// Lockless or foreign, younger than the grace.
    Young,
    /// Not ours to judge.
    Unsafe,
    /// Could not be judged (`reason` says why).
    Error,
    /// An orphan whose owner asked ([`Options::keep`]) that it be kept for [`adopt`], within
    /// that time.
    Resumable,
    /// A state this crate does not know yet.
    Other(i32),
}

impl State {
    fn from_raw(s: sys::spill_state) -> State {
        match s {
            sys::SPILL_LIVE => State::Live,
            sys::SPILL_ORPHAN => State::Orphan,
            sys::SPILL_YOUNG => State::Young,
            sys::SPILL_UNSAFE => State::Unsafe,
            sys::SPILL_ERROR => State::Error,
            sys::SPILL_RESUMABLE => State::Resumable,
            other => State::Other(other),
        }
    }
}

/// One spill-named child of the root, as [`scan`] judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    pub name: String,
    pub state: State,
    pub age_seconds: i64,
    pub bytes: u64,
    pub files: u64,
    /// From the owner record, for people (never used to judge liveness).
    pub owner_pid: Option<i64>,
    /// "" when unknown.
    pub owner_host: String,
    /// "" when unknown.
    pub tag: String,
    /// Why unsafe or young, for people; "" otherwise.
    pub reason: String,
    /// A live spill's reservation, the bytes it may hold (its data and bookkeeping); `None`
    /// when none is known (an older library's spill, or not a live one).
    pub reserved_bytes: Option<u64>,
    /// The root limit ([`Options::root_limit`]) the spill's owner enforces; `None`: none.
    pub limit_bytes: Option<u64>,
}

unsafe extern "C" fn collect(ctx: *mut c_void, e: *const sys::spill_entry) -> c_int {
    // SAFETY: ctx is the Vec scan() passed; e is valid during the callback.
    #[allow(unused_unsafe)] // rustc before 1.65 calls it unneeded in an unsafe fn
    let (out, e) = unsafe { (&mut *(ctx as *mut Vec<Entry>), &*e) };
    out.push(Entry {
        name: lossy(e.name),
        state: State::from_raw(e.state),
        age_seconds: e.age_seconds,
        bytes: e.bytes,
        files: e.files,
        owner_pid: (e.owner_pid >= 0).then_some(e.owner_pid),
        owner_host: lossy(e.owner_host),
        tag: lossy(e.tag),
        reason: lossy(e.reason),
        reserved_bytes: (e.reserved_bytes > 0).then_some(e.reserved_bytes),
        limit_bytes: (e.limit_bytes > 0).then_some(e.limit_bytes),
    });
    0
}

/// Judges each spill-named child of `root` as [`reap`] would, removing nothing.
pub fn scan(root: impl AsRef<Path>, opts: &Options) -> Result<Vec<Entry>> {
    let root = c_path(root.as_ref())?;
    let raw_opts = opts.to_raw()?;
    let mut out: Vec<Entry> = Vec::new();
    // SAFETY: valid arguments; `collect` only pushes to `out` (no panic crosses it but an
    // allocation failure, which aborts).
    check(unsafe {
        sys::spill_scan(root.as_ptr(), raw_opts.as_ptr(), Some(collect), &mut out as *mut Vec<Entry> as *mut c_void)
    })?;
    Ok(out)
}

/// Resumes a killed job instead of redoing it: takes over the newest orphan under `root` whose
/// owner record carries `tag` and which can prove its chunks complete (one opened with
/// [`Options::keep`], or journaled), and returns it as a live [`Spill`] of this process that
/// holds those chunks, in the order they were written. Anything unproven in it is removed.
/// [`ErrorCode::Busy`] when only live spills carry the tag (the job runs elsewhere),
/// [`ErrorCode::NotFound`] when none does. With `opts.keep` the adopted spill is resumable again.
/// With [`Options::verify`], only the chunks the closure accepts are adopted (the others are
/// removed); a panic in it fails the adopt with nothing removed and is resumed here, after the
/// C call has returned.
pub fn adopt(root: impl AsRef<Path>, tag: &str, opts: &Options) -> Result<Spill> {
    let root = c_path(root.as_ref())?;
    let tag = CString::new(tag).map_err(|_| Error::new(ErrorCode::Invalid, "", "", "the tag contains a NUL byte"))?;
    let mut raw_opts = opts.to_raw()?;
    // the verify closure gets a context of this call's own, where a panic in it is kept
    let call = opts.verify_fn().map(|f| VerifyCall { f: &**f, panic: RefCell::new(None) });
    if let Some(call) = &call {
        raw_opts.raw.verify = Some(verify_chunk);
        raw_opts.raw.verify_ctx = call as *const VerifyCall<'_> as *mut c_void;
    }
    let mut out = ptr::null_mut();
    // SAFETY: valid strings and options, which outlive the call; verify_ctx points to `call`,
    // which lives until after it (spill_adopt calls verify on this thread, during the call).
    let rc = unsafe { sys::spill_adopt(root.as_ptr(), tag.as_ptr(), raw_opts.as_ptr(), &mut out) };
    // adopt runs no reap: no background to attach
    let adopted = if rc == sys::SPILL_OK { Some(Spill::from_raw(out, opts, false)) } else { None };
    if let Some(panic) = call.and_then(|c| c.panic.into_inner()) {
        // the closure panicked: spill_adopt stopped (SPILL_VERIFY_STOP) and removed nothing;
        // the panic goes on where the closure would have raised it, on this thread
        drop(adopted); // (never Some: a stopped adopt returns no handle)
        std::panic::resume_unwind(panic);
    }
    check(rc)?;
    Ok(adopted.expect("spill_adopt succeeded"))
}

/// One adopt's verify: the caller's closure, and the payload of its panic, if it panicked.
struct VerifyCall<'a> {
    f: &'a VerifyClosure,
    panic: RefCell<Option<Box<dyn Any + Send + 'static>>>,
}

unsafe extern "C" fn verify_chunk(ctx: *mut c_void, addr: *const u8, data: *const c_void, len: usize) -> c_int {
    // SAFETY: ctx is adopt's VerifyCall, alive for the call, used on this thread only; addr is
    // SPILL_ADDR_LEN bytes and data len bytes, valid during the callback.
    #[allow(unused_unsafe)] // rustc before 1.65 calls it unneeded in an unsafe fn
    let (call, addr, data) = unsafe {
        let data: &[u8] = if len == 0 { &[] } else { std::slice::from_raw_parts(data as *const u8, len) };
        (&*(ctx as *const VerifyCall<'_>), &*(addr as *const Addr), data)
    };
    // a panic must not unwind into C, and must never read as "accept": it stops the adopt
    // (nothing removed) and adopt resumes it once spill_adopt has returned
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (call.f)(addr, data))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(payload) => {
            *call.panic.borrow_mut() = Some(payload);
            sys::SPILL_VERIFY_STOP
        }
    }
}

/// The default root for an application: its per-OS data directory joined with "spill".
pub fn default_root(app: &str) -> Result<PathBuf> {
    let app = CString::new(app).map_err(|_| Error::new(ErrorCode::Invalid, "", "", "the name contains a NUL byte"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: a buffer of its length.
        let rc = unsafe { sys::spill_default_root(app.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc == sys::SPILL_ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        check(rc)?;
        return Ok(path_from_c(buf.as_ptr().cast()));
    }
}

/// Ok if the filesystem holding `root` (or its nearest existing parent) has `bytes` free for
/// this user; [`ErrorCode::NoSpace`] otherwise.
pub fn check_space(root: impl AsRef<Path>, bytes: u64) -> Result<()> {
    let root = c_path(root.as_ref())?;
    // SAFETY: a valid string.
    check(unsafe { sys::spill_check_space(root.as_ptr(), bytes) })
}

/// The C library's version, "MAJOR.MINOR.PATCH".
pub fn version() -> String {
    // SAFETY: a static string.
    lossy(unsafe { sys::spill_version() })
}

/// Options converted for one call: the C struct and what its pointers point to.
pub(crate) struct RawOpts<'a> {
    raw: sys::spill_opts,
    _tag: Option<CString>,
    _borrow: PhantomData<&'a Options>,
}

impl RawOpts<'_> {
    fn as_ptr(&self) -> *const sys::spill_opts {
        &self.raw
    }
}

/// A log closure, behind a thin pointer that stays where it is for as long as a clone lives
/// (the C library keeps `log_ctx`; a handle keeps its clone, see `Spill::callbacks`).
pub(crate) struct LogSink(pub(crate) Box<LogClosure>);
pub(crate) type LogClosure = dyn Fn(LogLevel, &str) + Send + Sync;
pub(crate) type LogFn = Arc<LogSink>;

/// A progress closure, likewise behind a thin pointer (`progress_ctx`); FnMut, so behind a lock.
pub(crate) struct ProgressSink(pub(crate) std::sync::Mutex<Box<ProgressClosure>>);
pub(crate) type ProgressClosure = dyn FnMut(&ReapStats) -> bool + Send;
pub(crate) type ProgressFn = Arc<ProgressSink>;

/// A verify closure (adopt only: called during the call, on the calling thread).
pub(crate) type VerifyClosure = dyn Fn(&Addr, &[u8]) -> bool + Send + Sync;
pub(crate) type VerifyFn = Arc<VerifyClosure>;

/// The closures one call's options point to.
#[derive(Clone)]
pub(crate) struct Callbacks {
    pub(crate) _log: Option<LogFn>,
    pub(crate) _progress: Option<ProgressFn>,
}
