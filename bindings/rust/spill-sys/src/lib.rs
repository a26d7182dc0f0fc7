//! spill-sys: the raw C API of spill (include/spill.h), declared by hand. `tests/header.rs`
//! compiles a C program against the header and checks every constant, struct layout and function
//! name here against it, so the declarations cannot drift from the header.
#![allow(non_camel_case_types)]
// std::os::raw's C types, not core::ffi's (1.64): the crate builds with Debian 12's rustc 1.63
use std::ffi::c_void;
use std::os::raw::{c_char, c_int, c_uint};

pub const SPILL_ADDR_LEN: usize = 32;

/// One live spill directory (opaque).
#[repr(C)]
pub struct spill_t {
    _opaque: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// A `spill_err` value (the C enum; it may grow, so it is an int here, not a Rust enum).
pub type spill_err = c_int;
pub const SPILL_OK: spill_err = 0;
pub const SPILL_EINVAL: spill_err = -1;
pub const SPILL_ENOMEM: spill_err = -2;
pub const SPILL_EIO: spill_err = -3;
pub const SPILL_ENOSPC: spill_err = -4;
pub const SPILL_ENOTFOUND: spill_err = -5;
pub const SPILL_EBUSY: spill_err = -6;
pub const SPILL_EUNSAFE: spill_err = -7;
pub const SPILL_ENOLCK: spill_err = -8;
pub const SPILL_EACCES: spill_err = -9;
pub const SPILL_ELOST: spill_err = -10;
pub const SPILL_EFORKED: spill_err = -11;
pub const SPILL_ERANGE: spill_err = -12;
pub const SPILL_ETIMEDOUT: spill_err = -13;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct spill_error {
    pub code: c_int,
    pub os_error: c_int,
    pub op: *const c_char,
    pub path: *const c_char,
    pub message: *const c_char,
}

/// Version 1 (0.1): grace_seconds .. log_ctx; version 2 (0.2): dry_run, progress, progress_ctx,
/// progress_ms, keep_seconds, reap_resumable; version 3 (0.3): verify, verify_ctx,
/// root_limit_bytes.
pub const SPILL_OPTS_VERSION: c_uint = 3;

/// Values of spill_opts.reap_on_open.
pub const SPILL_REAP_NONE: c_int = 0;
pub const SPILL_REAP_SYNC: c_int = 1;
/// Version-2 opts only: spill_open returns at once, the reap runs on a thread of its own.
pub const SPILL_REAP_BACKGROUND: c_int = 2;

/// What a verify callback may return besides 0 (the chunk is what its address says) and other
/// non-zero values (it is not: removed, not adopted): the callback itself failed (a panic), so
/// spill_adopt removes nothing and fails with SPILL_EIO. spill.h's INT32_MIN.
pub const SPILL_VERIFY_STOP: c_int = i32::MIN;

pub type spill_log_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, level: c_int, msg: *const c_char)>;
/// Called during a reap; a non-zero return stops it (`cancelled`).
pub type spill_progress_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, so_far: *const spill_reap_stats) -> c_int>;
/// spill_adopt only: called for each chunk the journal keeps, with its bytes read back (`addr`
/// points to SPILL_ADDR_LEN bytes): 0 keeps it, another value removes it, SPILL_VERIFY_STOP
/// fails the adopt with nothing removed.
pub type spill_verify_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, addr: *const u8, data: *const c_void, len: usize) -> c_int>;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct spill_opts {
    pub version: c_uint,
    pub grace_seconds: u32,
    pub reap_on_open: c_int,
    pub reap_budget_ms: u32,
    pub expected_bytes: u64,
    pub threads: c_uint,
    pub tag: *const c_char,
    pub log: spill_log_fn,
    pub log_ctx: *mut c_void,
    // version 2
    pub dry_run: c_int,
    pub progress: spill_progress_fn,
    pub progress_ctx: *mut c_void,
    pub progress_ms: u32,
    pub keep_seconds: u32,
    pub reap_resumable: c_int,
    // version 3
    pub verify: spill_verify_fn,
    pub verify_ctx: *mut c_void,
    /// 0 (none): the most this user's live spills under the root may hold together.
    pub root_limit_bytes: u64,
}

/// Version 1 (0.1): scanned .. budget_exhausted; version 2 (0.2): resumable, cut_short, cancelled.
pub const SPILL_REAP_STATS_VERSION: c_uint = 2;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct spill_reap_stats {
    pub version: c_uint,
    pub scanned: u32,
    pub reaped: u32,
    pub live: u32,
    pub young: u32,
    pub unsafe_: u32,
    pub errors: u32,
    pub bytes_freed: u64,
    pub files_removed: u64,
    pub elapsed_ms: u32,
    pub budget_exhausted: c_int,
    // version 2
    pub resumable: u32,
    pub cut_short: u32,
    pub cancelled: c_int,
}

/// A `spill_state` value (the C enum).
pub type spill_state = c_int;
pub const SPILL_LIVE: spill_state = 0;
pub const SPILL_ORPHAN: spill_state = 1;
pub const SPILL_YOUNG: spill_state = 2;
pub const SPILL_UNSAFE: spill_state = 3;
/// Reported only to callers whose opts are version 2 or later.
pub const SPILL_ERROR: spill_state = 4;
/// Reported only to callers whose opts are version 2 or later.
pub const SPILL_RESUMABLE: spill_state = 5;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct spill_entry {
    pub name: *const c_char,
    pub state: spill_state,
    pub age_seconds: i64,
    pub bytes: u64,
    pub files: u64,
    pub owner_pid: i64,
    pub owner_host: *const c_char,
    pub tag: *const c_char,
    pub reason: *const c_char,
    // 0.3
    /// A live spill's reservation (0: none known).
    pub reserved_bytes: u64,
    /// The root limit the spill's owner enforces (0: none).
    pub limit_bytes: u64,
}

pub type spill_scan_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, e: *const spill_entry) -> c_int>;

extern "C" {
    pub fn spill_strerror(err: c_int) -> *const c_char;
    pub fn spill_error_last() -> *const spill_error;
    pub fn spill_opts_init_version(opts: *mut spill_opts, version: c_uint) -> c_int;
    /// The 0.1 symbol: writes version 1's fields only (spill.h's macro of that name calls
    /// spill_opts_init_version with SPILL_OPTS_VERSION).
    pub fn spill_opts_init(opts: *mut spill_opts);
    pub fn spill_open(root: *const c_char, opts: *const spill_opts, out: *mut *mut spill_t) -> c_int;
    pub fn spill_put(s: *mut spill_t, addr: *const u8, data: *const c_void, len: usize) -> c_int;
    pub fn spill_get(s: *mut spill_t, addr: *const u8, data: *mut *mut c_void, len: *mut usize) -> c_int;
    pub fn spill_remove(s: *mut spill_t, addr: *const u8) -> c_int;
    pub fn spill_free(p: *mut c_void);
    pub fn spill_count(s: *const spill_t) -> usize;
    pub fn spill_total_bytes(s: *const spill_t) -> u64;
    pub fn spill_addr(s: *const spill_t, i: usize, out: *mut u8) -> c_int;
    pub fn spill_path(s: *const spill_t) -> *const c_char;
    pub fn spill_close(s: *mut spill_t) -> c_int;
    pub fn spill_reap(root: *const c_char, opts: *const spill_opts, stats: *mut spill_reap_stats) -> c_int;
    pub fn spill_scan(root: *const c_char, opts: *const spill_opts, cb: spill_scan_fn, ctx: *mut c_void) -> c_int;
    pub fn spill_adopt(root: *const c_char, tag: *const c_char, opts: *const spill_opts, out: *mut *mut spill_t) -> c_int;
    pub fn spill_default_root(app: *const c_char, buf: *mut c_char, size: usize) -> c_int;
    pub fn spill_check_space(root: *const c_char, bytes: u64) -> c_int;
    pub fn spill_version() -> *const c_char;
}

/// The names of every function declared above, for the header check (tests/header.rs).
pub const FUNCTIONS: &[&str] = &[
    "spill_strerror", "spill_error_last", "spill_opts_init_version", "spill_opts_init", "spill_open", "spill_put",
    "spill_get", "spill_remove", "spill_free", "spill_count", "spill_total_bytes", "spill_addr",
    "spill_path", "spill_close", "spill_reap", "spill_scan", "spill_adopt", "spill_default_root",
    "spill_check_space", "spill_version",
];
