//! The crate as a user sees it: chunks round-trip, the directory goes on close and on drop,
//! errors carry spill_error's fields, reap and scan count, a SIGKILLed holder is reaped at the
//! next open, and the crate interoperates with a client that locks `.lock` itself.
use spill::{adopt, reap, scan, Addr, ErrorCode, Options, ReapStats, Spill, State};
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HOLDER: &str = "SPILL_RS_TEST_HOLDER";
const OLD_CLIENT: &str = "SPILL_RS_TEST_OLD_CLIENT";
const KEEPER: &str = "SPILL_RS_TEST_KEEPER";
const KEPT_CHUNKS: u8 = 5;

/// A fresh private root under the temp directory, removed on drop.
struct Root(PathBuf);

impl Root {
    fn new() -> Root {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir()
            .join(format!("spill-rs-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir(&base).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::PermissionsExt::set_mode(&mut fs::metadata(&base).unwrap().permissions(), 0o700);
        Root(base.join("root"))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn addr(n: u8) -> Addr {
    let mut a = [0u8; 32];
    a[0] = n;
    a[31] = !n;
    a
}

/// The root's children (the reservations' lock goes with each decision: none of it).
fn children(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn round_trip() {
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
    s.put(&addr(1), b"hello").unwrap();
    s.put(&addr(2), &big).unwrap();
    s.put(&addr(3), b"").unwrap();
    assert_eq!(s.get(&addr(1)).unwrap(), b"hello");
    assert_eq!(s.get(&addr(2)).unwrap(), big);
    assert_eq!(s.get(&addr(3)).unwrap(), b"");
    assert_eq!(s.len(), 3);
    assert_eq!(s.total_bytes(), 5 + big.len() as u64);
    assert!(s.path().starts_with(root.path()));
    assert!(s.path().is_dir());
    assert_eq!(s.get(&addr(9)).unwrap_err().code(), ErrorCode::NotFound);
}

/// Compiles only for a type that threads may share (an async task holding `&Spill` across an
/// `.await` on a multi-threaded runtime needs both).
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn one_spill_shared_by_threads() {
    assert_send_sync::<Spill>();
    const THREADS: u8 = 4;
    const EACH: u8 = 250;
    let chunk = |t: u8, i: u8| -> Vec<u8> { (0..(i as usize % 16 * 37 + t as usize)).map(|n| (n as u8) ^ t ^ i).collect() };
    let at = |t: u8, i: u8| -> Addr {
        let mut a = addr(t);
        a[1] = i;
        a
    };
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let s = &s;
            scope.spawn(move || {
                for i in 0..EACH {
                    s.put(&at(t, i), &chunk(t, i)).unwrap();
                    assert_eq!(s.get(&at(t, i)).unwrap(), chunk(t, i), "thread {t} chunk {i}");
                    if i % 2 == 1 {
                        s.remove(&at(t, i - 1)).unwrap(); // every other one uploaded
                    }
                }
            });
        }
    });
    let kept: Vec<Addr> = (0..THREADS).flat_map(|t| (0..EACH).filter(|i| i % 2 == 1).map(move |i| at(t, i))).collect();
    assert_eq!(s.len(), kept.len());
    let total: usize = kept.iter().map(|a| chunk(a[0], a[1]).len()).sum();
    assert_eq!(s.total_bytes(), total as u64);
    for a in &kept {
        assert_eq!(s.get(a).unwrap(), chunk(a[0], a[1]));
    }
    let mut listed: Vec<Addr> = s.addrs().collect();
    listed.sort();
    let mut want = kept.clone();
    want.sort();
    assert_eq!(listed, want);
}

#[test]
fn dedup() {
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    s.put(&addr(1), b"first").unwrap();
    s.put(&addr(1), b"second, longer").unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s.total_bytes(), 5);
    assert_eq!(s.get(&addr(1)).unwrap(), b"first");
}

#[test]
fn order() {
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    let order = [5u8, 1, 9, 3, 7];
    for n in order {
        s.put(&addr(n), &[n]).unwrap();
    }
    let got: Vec<Addr> = s.addrs().collect();
    assert_eq!(got, order.map(addr).to_vec());
    assert_eq!(s.addrs().len(), 5);
}

#[test]
fn remove() {
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    for n in 1..=4u8 {
        s.put(&addr(n), &[n; 10]).unwrap();
    }
    s.remove(&addr(2)).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s.total_bytes(), 30);
    assert_eq!(s.get(&addr(2)).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(s.addrs().collect::<Vec<_>>(), vec![addr(1), addr(3), addr(4)]);
    assert_eq!(s.remove(&addr(2)).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(fs::read_dir(s.path()).unwrap().count(), 5, ".lock, .spill-lease and three chunks");
}

#[test]
fn close_removes_the_directory() {
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    s.put(&addr(1), b"x").unwrap();
    let dir = s.path().to_path_buf();
    assert!(dir.is_dir());
    s.close().unwrap();
    assert!(!dir.exists());
    assert!(root.path().is_dir(), "the root stays");
}

#[test]
fn drop_removes_the_directory() {
    let root = Root::new();
    let dir = {
        let s = Spill::open(root.path(), &Options::new()).unwrap();
        s.put(&addr(1), b"x").unwrap();
        s.path().to_path_buf()
    };
    assert!(!dir.exists());
    assert!(children(root.path()).is_empty());
}

#[test]
fn spill_is_send() {
    fn send<T: Send>(t: T) -> T {
        t
    }
    let root = Root::new();
    let s = send(Spill::open(root.path(), &Options::new()).unwrap());
    let dir = s.path().to_path_buf();
    std::thread::spawn(move || s.close().unwrap()).join().unwrap();
    assert!(!dir.exists());
}

#[test]
fn a_root_that_is_a_file_is_an_error_with_details() {
    let root = Root::new();
    fs::create_dir_all(root.path().parent().unwrap()).unwrap();
    fs::write(root.path(), b"not a directory").unwrap();
    let e = Spill::open(root.path(), &Options::new()).unwrap_err();
    assert_ne!(e.code(), ErrorCode::Other(0));
    assert!(!e.message().is_empty());
    assert!(e.path().contains("root"), "path: {:?}", e.path());
    assert!(!e.to_string().is_empty());
    let io: std::io::Error = e.clone().into();
    assert_eq!(io.to_string(), e.to_string());
    assert_eq!(fs::read(root.path()).unwrap(), b"not a directory");
}

#[test]
fn a_directory_taken_away_is_lost_with_details() {
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    s.put(&addr(1), b"x").unwrap();
    fs::remove_dir_all(s.path()).unwrap();
    assert_eq!(s.get(&addr(1)).unwrap_err().code(), ErrorCode::Lost);
    let e = s.close().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Lost, "{e}");
    assert!(!e.message().is_empty());
}

#[cfg(unix)]
#[test]
fn a_foreign_root_is_unsafe() {
    // SAFETY: getuid has no preconditions.
    if unsafe { getuid() } != 0 {
        eprintln!("a_foreign_root_is_unsafe: skipped (needs root to chown)");
        return;
    }
    let root = Root::new();
    fs::create_dir(root.path()).unwrap();
    // std::os::unix::fs::chown is 1.73: the crate's tests build with 1.63
    let path = std::ffi::CString::new(root.path().to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { chown(path.as_ptr(), 12345, 12345) }, 0, "{}", std::io::Error::last_os_error());
    let e = Spill::open(root.path(), &Options::new()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unsafe, "{e}");
    assert!(!e.message().is_empty());
    assert_eq!(reap(root.path(), &Options::new()).unwrap_err().code(), ErrorCode::Unsafe);
    assert!(children(root.path()).is_empty());
}

#[cfg(unix)]
extern "C" {
    fn getuid() -> u32;
    fn chown(path: *const std::os::raw::c_char, uid: u32, gid: u32) -> std::os::raw::c_int;
}

#[test]
fn reap_and_scan_count() {
    let root = Root::new();
    let live = Spill::open(root.path(), &Options::new().tag("counted")).unwrap();
    // a lockless directory in spill's naming: young under the default grace
    let lockless = root.path().join("spill_1_42");
    fs::create_dir(&lockless).unwrap();
    fs::write(lockless.join("chunk"), b"12345").unwrap();

    let entries = scan(root.path(), &Options::new()).unwrap();
    assert_eq!(entries.len(), 2);
    let young = entries.iter().find(|e| e.name == "spill_1_42").unwrap();
    assert_eq!(young.state, State::Young);
    let ours = entries.iter().find(|e| e.name != "spill_1_42").unwrap();
    assert_eq!(ours.state, State::Live);
    assert_eq!(Path::new(&ours.name), live.path().file_name().unwrap());

    let stats = reap(root.path(), &Options::new()).unwrap();
    assert_eq!((stats.scanned, stats.live, stats.young, stats.reaped), (2, 1, 1, 0));
    assert!(lockless.exists());

    let dry = reap(root.path(), &Options::new().grace(Duration::ZERO).dry_run(true)).unwrap();
    assert_eq!((dry.scanned, dry.live, dry.young, dry.reaped), (2, 1, 0, 1));
    assert!(lockless.exists(), "a dry run removes nothing");
    let e = Spill::open(root.path(), &Options::new().dry_run(true)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Invalid);

    let stats = reap(root.path(), &Options::new().grace(Duration::ZERO)).unwrap();
    assert_eq!((stats.scanned, stats.live, stats.young, stats.reaped), (2, 1, 0, 1));
    assert_eq!(stats.bytes_freed, 5);
    assert!(!lockless.exists());
    assert!(live.path().is_dir());
}

#[test]
fn log_lines_reach_the_closure() {
    let root = Root::new();
    fs::create_dir(root.path()).unwrap();
    fs::create_dir(root.path().join("spill_1_7")).unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    let opts = Options::new().grace(Duration::ZERO).log(move |_, msg| sink.lock().unwrap().push(msg.to_string()));
    assert_eq!(reap(root.path(), &opts).unwrap().reaped, 1);
    assert!(lines.lock().unwrap().iter().any(|l| l.contains("spill_1_7")), "{:?}", lines.lock().unwrap());
}

#[test]
fn default_root_ends_in_spill() {
    let r = spill::default_root("spill-rs-test").unwrap();
    assert!(r.ends_with("spill-rs-test/spill"), "{}", r.display());
}

/// Runs this test binary again as a child in `mode`, and waits for its "READY <path>" (libtest
/// may print "test child_process ... " before it on the same line).
fn start_child(mode: &str, root: &Path) -> (Killed, PathBuf) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
        .env(mode, root)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let path = loop {
        let line = lines.next().expect("the child ended before it was ready").unwrap();
        if let Some((_, p)) = line.split_once("READY ") {
            break PathBuf::from(p);
        }
    };
    (Killed(Some(child)), path)
}

/// A child that is killed at the latest when the test ends, failed or not.
struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn kill(mut child: Killed) {
    let mut c = child.0.take().unwrap();
    c.kill().unwrap(); // SIGKILL (TerminateProcess on Windows)
    c.wait().unwrap();
}

/// The child's side of the process tests: does nothing unless started by `start_child`.
#[test]
fn child_process() {
    let path = if let Some(root) = std::env::var_os(HOLDER) {
        let s = Spill::open(&root, &Options::new().tag("holder")).unwrap();
        s.put(&addr(1), b"held").unwrap();
        let p = s.path().to_path_buf();
        std::mem::forget(s);
        p
    } else if let Some(root) = std::env::var_os(KEEPER) {
        // a resumable job: should it die, its chunks stay for adopt for ten minutes
        let s = Spill::open(&root, &Options::new().tag("job").keep(Duration::from_secs(600))).unwrap();
        for n in 1..=KEPT_CHUNKS {
            s.put(&addr(n), &kept_chunk(n)).unwrap();
        }
        let p = s.path().to_path_buf();
        std::mem::forget(s);
        p
    } else if let Some(root) = std::env::var_os(OLD_CLIENT) {
        old_client_chunk_dir(Path::new(&root))
    } else {
        return;
    };
    use std::io::Write;
    let mut out = std::io::stdout();
    writeln!(out, "READY {}", path.display()).unwrap();
    out.flush().unwrap();
    loop {
        std::thread::park(); // until killed
    }
}

/// std's File::try_lock (1.89): true if taken, false if another holds it. Before 1.89 (the
/// crate builds with 1.63) the flock(2) std's is made of.
fn try_lock(file: &File) -> bool {
    #[cfg(spill_file_lock)] // 1.89, which spill/build.rs checks
    #[allow(clippy::incompatible_msrv)]
    return match file.try_lock() {
        Ok(()) => true,
        Err(std::fs::TryLockError::WouldBlock) => false,
        Err(e) => panic!("try_lock: {e}"),
    };
    #[cfg(all(not(spill_file_lock), unix))]
    {
        use std::os::unix::io::AsRawFd;
        extern "C" {
            fn flock(fd: std::os::raw::c_int, op: std::os::raw::c_int) -> std::os::raw::c_int;
        }
        const LOCK_EX_NB: std::os::raw::c_int = 2 | 4;
        // SAFETY: a valid descriptor.
        if unsafe { flock(file.as_raw_fd(), LOCK_EX_NB) } == 0 {
            return true;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "flock: {e}");
        false
    }
}

/// The upload client spill was born from, with std only: create_dir, File::create(.lock),
/// try_lock, and the lock kept (leaked) for the process's life.
fn old_client_chunk_dir(root: &Path) -> PathBuf {
    fs::create_dir_all(root).unwrap();
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let dir = root.join(format!("spill_{secs}_{}", std::process::id()));
    fs::create_dir(&dir).unwrap();
    let lock = File::create(dir.join(".lock")).unwrap();
    assert!(try_lock(&lock), "a fresh .lock");
    fs::write(dir.join("ab".repeat(32)), b"chunk").unwrap();
    std::mem::forget(lock);
    dir
}

#[test]
fn a_killed_holder_is_reaped_at_the_next_open() {
    let root = Root::new();
    let (child, dir) = start_child(HOLDER, root.path());
    assert!(dir.is_dir());
    let stats = reap(root.path(), &Options::new()).unwrap();
    assert_eq!((stats.live, stats.reaped), (1, 0), "alive, it is live");
    let pid = child.0.as_ref().unwrap().id();
    kill(child);
    assert!(dir.is_dir(), "nothing removed it yet");
    let entries = scan(root.path(), &Options::new()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].state, entries[0].tag.as_str()), (State::Orphan, "holder"));
    assert_eq!(entries[0].owner_pid, Some(pid as i64));
    // the default grace is 30 s: an orphan with spill's owner record goes at once regardless
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    assert!(!dir.exists(), "the open reaped the killed holder's directory");
    assert_eq!(children(root.path()), vec![s.path().file_name().unwrap().to_string_lossy().into_owned()]);
}

#[test]
fn an_old_style_client_interoperates() {
    let root = Root::new();
    let (child, dir) = start_child(OLD_CLIENT, root.path());
    let grace0 = Options::new().grace(Duration::ZERO);
    let stats = reap(root.path(), &grace0).unwrap();
    assert_eq!((stats.live, stats.reaped), (1, 0), "its held .lock is live to the crate");
    assert!(dir.is_dir());
    kill(child);
    let stats = reap(root.path(), &grace0).unwrap();
    assert_eq!((stats.live, stats.reaped), (0, 1), "killed, it is reaped");
    assert!(!dir.exists());

    // and the crate's live spill is busy to that client's try_lock
    let s = Spill::open(root.path(), &Options::new()).unwrap();
    let lock = File::options().read(true).write(true).open(s.path().join(".lock")).unwrap();
    assert!(!try_lock(&lock), "held by the crate");
}

/// The bytes of the keeper's chunk n: distinct lengths and contents.
fn kept_chunk(n: u8) -> Vec<u8> {
    (0..(1000 * n as u32 + 7)).map(|i| (i.wrapping_mul(31) ^ n as u32) as u8).collect()
}

/// `n` lockless directories in spill's naming, each with `files` files: orphans at once to a
/// grace of 0.
fn lockless_orphans(root: &Path, n: u32, files: u32) {
    fs::create_dir_all(root).unwrap();
    for i in 0..n {
        let d = root.join(format!("spill_1_{}", i + 1));
        fs::create_dir(&d).unwrap();
        for f in 0..files {
            fs::write(d.join(format!("f{f}")), b"0123456789").unwrap();
        }
    }
}

#[test]
fn a_background_open_returns_first_and_the_orphans_go() {
    let root = Root::new();
    lockless_orphans(root.path(), 20, 3);
    // the reap's first progress call waits for the test's word: if open waited for the reap,
    // it would not return until that wait timed out, and `held` says whether it did
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (stats_tx, stats_rx) = mpsc::channel::<(ReapStats, bool)>();
    let mut first = true;
    let opts = Options::new().background().grace(Duration::ZERO).progress_interval(Duration::ZERO).progress(
        move |st: &ReapStats| {
            let mut held = true;
            if first {
                first = false;
                held = go_rx.recv_timeout(Duration::from_secs(20)).is_ok();
            }
            let _ = stats_tx.send((st.clone(), held));
            false
        },
    );
    let s = Spill::open(root.path(), &opts).unwrap();
    assert!(children(root.path()).len() > 1, "open returned before its reap removed everything");
    go_tx.send(()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (st, held) = stats_rx.recv_timeout(left).expect("the background reap reports all 20 reaped in time");
        assert!(held, "the reap's first callback waited for the test, so open returned first");
        if st.reaped == 20 {
            assert!(!st.cancelled);
            break;
        }
    }
    // the count is reported once the directories are gone
    assert_eq!(children(root.path()), vec![s.path().file_name().unwrap().to_string_lossy().into_owned()]);
    drop(opts); // the handle keeps its own clone of the closures alive
    s.close().unwrap();
}

#[test]
fn a_background_reap_keeps_its_closure_after_its_handle_closes() {
    // two handles on one root share one reap, run with the first open's closure: closing the
    // first must not free what the reap still calls
    let root = Root::new();
    lockless_orphans(root.path(), 30, 20);
    let (tx, rx) = mpsc::channel::<u32>();
    let opts = Options::new().background().grace(Duration::ZERO).progress_interval(Duration::ZERO).threads(1)
        .progress(move |st: &ReapStats| {
            let _ = tx.send(st.reaped);
            false
        });
    let a = Spill::open(root.path(), &opts).unwrap();
    drop(opts);
    let b = Spill::open(root.path(), &Options::new().background()).unwrap();
    a.close().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())).expect("progress in time") < 30 {}
    b.close().unwrap();
    assert!(children(root.path()).is_empty());
}

#[test]
fn progress_is_called_and_can_cancel() {
    let root = Root::new();
    lockless_orphans(root.path(), 40, 5);
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let grace0 = Options::new().grace(Duration::ZERO).progress_interval(Duration::ZERO);
    let stopped = reap(root.path(), &grace0.clone().progress(move |_: &ReapStats| {
        c.fetch_add(1, Ordering::SeqCst);
        true // stop at the first call
    }))
    .unwrap();
    assert!(stopped.cancelled, "{stopped:?}");
    assert!(calls.load(Ordering::SeqCst) >= 1);
    assert!(stopped.reaped < 40, "{stopped:?}");
    assert!(!children(root.path()).is_empty(), "the rest is left for the next reap");

    // the rest, watched by a ControlFlow closure: counts only grow, the last call is the result
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<ReapStats>::new()));
    let s2 = seen.clone();
    let rest = reap(root.path(), &grace0.progress(move |st: &ReapStats| {
        s2.lock().unwrap().push(st.clone());
        ControlFlow::Continue(())
    }))
    .unwrap();
    assert!(!rest.cancelled);
    assert_eq!(stopped.reaped + rest.reaped, 40);
    assert!(children(root.path()).is_empty());
    let seen = seen.lock().unwrap();
    assert!(seen.windows(2).all(|w| w[0].reaped <= w[1].reaped && w[0].files_removed <= w[1].files_removed));
    assert_eq!(seen.last().map(|s| s.reaped), Some(rest.reaped));
}

#[test]
fn a_killed_resumable_job_is_adopted_byte_for_byte() {
    let root = Root::new();
    let (child, dir) = start_child(KEEPER, root.path());
    kill(child);
    let entries = scan(root.path(), &Options::new()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].state, entries[0].tag.as_str()), (State::Resumable, "job"));
    let stats = reap(root.path(), &Options::new()).unwrap();
    assert_eq!((stats.resumable, stats.reaped), (1, 0), "{stats:?}");
    assert!(dir.is_dir(), "kept for the resume");
    assert_eq!(adopt(root.path(), "other", &Options::new()).unwrap_err().code(), ErrorCode::NotFound);

    let s = adopt(root.path(), "job", &Options::new()).unwrap();
    assert_eq!(s.path(), dir, "the same directory, taken over");
    assert_eq!(s.len(), KEPT_CHUNKS as usize);
    assert_eq!(s.addrs().collect::<Vec<_>>(), (1..=KEPT_CHUNKS).map(addr).collect::<Vec<_>>());
    for n in 1..=KEPT_CHUNKS {
        assert_eq!(s.get(&addr(n)).unwrap(), kept_chunk(n), "chunk {n}");
    }
    assert_eq!(s.total_bytes(), (1..=KEPT_CHUNKS).map(|n| kept_chunk(n).len() as u64).sum::<u64>());
    s.put(&addr(99), b"more").unwrap();
    assert!(adopt(root.path(), "job", &Options::new()).is_err(), "it is live now: not adopted twice");
    s.close().unwrap();
    assert!(!dir.exists());
}

#[test]
fn adopting_a_live_job_is_busy() {
    let root = Root::new();
    let (_child, dir) = start_child(HOLDER, root.path());
    let e = adopt(root.path(), "holder", &Options::new()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Busy, "{e}");
    assert!(dir.is_dir());
}

#[test]
fn reap_resumable_removes_a_resumable_orphan_at_once() {
    let root = Root::new();
    let (child, dir) = start_child(KEEPER, root.path());
    kill(child);
    let stats = reap(root.path(), &Options::new().reap_resumable(true)).unwrap();
    assert_eq!((stats.resumable, stats.reaped), (0, 1), "{stats:?}");
    assert!(!dir.exists());
}

/// A chunk file's name in a spill directory: its address in lowercase hex.
fn hex(a: &Addr) -> String {
    a.iter().map(|b| format!("{b:02x}")).collect()
}

/// A killed keeper's orphan whose chunk `bad` was zero-filled since, at the same length (what a
/// power loss can leave): its directory and that chunk's file.
fn orphan_with_zeroed(root: &Path, bad: u8) -> (PathBuf, PathBuf) {
    let (child, dir) = start_child(KEEPER, root);
    kill(child);
    let file = dir.join(hex(&addr(bad)));
    assert_eq!(fs::read(&file).unwrap(), kept_chunk(bad), "the keeper wrote chunk {bad} there");
    fs::write(&file, vec![0u8; kept_chunk(bad).len()]).unwrap();
    (dir, file)
}

/// Every file under dir, by its path relative to dir, with its bytes.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                todo.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The keeper's chunks are what their addresses say: addr(n)'s bytes are kept_chunk(n).
fn is_kept_chunk(a: &Addr, data: &[u8]) -> bool {
    a[1..31].iter().all(|&b| b == 0) && a[31] == !a[0] && data == &kept_chunk(a[0])[..]
}

#[test]
fn verify_rejects_a_zero_filled_chunk_and_the_rest_is_adopted_byte_for_byte() {
    let root = Root::new();
    let (dir, bad_file) = orphan_with_zeroed(root.path(), 3);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Addr>::new()));
    let s2 = seen.clone();
    let opts = Options::new().verify(move |a: &Addr, data: &[u8]| {
        s2.lock().unwrap().push(*a);
        is_kept_chunk(a, data)
    });
    let s = adopt(root.path(), "job", &opts).unwrap();
    assert_eq!(*seen.lock().unwrap(), (1..=KEPT_CHUNKS).map(addr).collect::<Vec<_>>(), "each chunk, in order");
    assert_eq!(s.path(), dir);
    let kept: Vec<u8> = (1..=KEPT_CHUNKS).filter(|&n| n != 3).collect();
    assert_eq!(s.len(), kept.len());
    assert_eq!(s.addrs().collect::<Vec<_>>(), kept.iter().map(|&n| addr(n)).collect::<Vec<_>>());
    for &n in &kept {
        assert_eq!(s.get(&addr(n)).unwrap(), kept_chunk(n), "chunk {n}");
    }
    assert_eq!(s.get(&addr(3)).unwrap_err().code(), ErrorCode::NotFound);
    assert!(!bad_file.exists(), "the rejected chunk is removed");
    assert_eq!(s.total_bytes(), kept.iter().map(|&n| kept_chunk(n).len() as u64).sum::<u64>());
    s.close().unwrap();

    // without verify, as 0.2: every journaled chunk of its length, the zero-filled one too
    let root = Root::new();
    orphan_with_zeroed(root.path(), 3);
    let s = adopt(root.path(), "job", &Options::new()).unwrap();
    assert_eq!(s.len(), KEPT_CHUNKS as usize);
    assert_eq!(s.get(&addr(3)).unwrap(), vec![0u8; kept_chunk(3).len()]);
    assert_eq!(s.get(&addr(4)).unwrap(), kept_chunk(4));
}

#[test]
fn a_panic_in_verify_fails_the_adopt_removes_nothing_and_is_resumed() {
    let root = Root::new();
    let (dir, _) = orphan_with_zeroed(root.path(), 3);
    let before = snapshot(&dir);
    assert!(before.len() > KEPT_CHUNKS as usize, "the chunks, the lock and the owner's files");
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    // the first chunk is accepted, the second panics: nothing may have changed all the same
    let opts = Options::new().verify(move |a: &Addr, data: &[u8]| {
        c.fetch_add(1, Ordering::SeqCst);
        if a[0] == 2 {
            panic!("verify broke on chunk 2");
        }
        is_kept_chunk(a, data)
    });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| adopt(root.path(), "job", &opts)));
    let payload = match caught {
        Err(payload) => payload,
        Ok(r) => panic!("adopt returned instead of resuming the closure's panic: {:?}", r.map(|s| s.len())),
    };
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"verify broke on chunk 2"), "the closure's own panic");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "stopped at the panic");
    assert_eq!(snapshot(&dir), before, "every file of the orphan as it was");
    let entries = scan(root.path(), &Options::new()).unwrap();
    assert_eq!((entries.len(), entries[0].state), (1, State::Resumable), "still there to adopt");

    let s = adopt(root.path(), "job", &Options::new()).unwrap();
    assert_eq!(s.path(), dir);
    assert_eq!(s.addrs().collect::<Vec<_>>(), (1..=KEPT_CHUNKS).map(addr).collect::<Vec<_>>());
    for n in (1..=KEPT_CHUNKS).filter(|&n| n != 3) {
        assert_eq!(s.get(&addr(n)).unwrap(), kept_chunk(n), "chunk {n}");
    }
}

#[test]
fn a_reservation_shows_in_scan_and_a_limit_below_it_refuses_the_open() {
    const MIB: u64 = 1 << 20;
    let root = Root::new();
    let s = Spill::open(root.path(), &Options::new().expected_bytes(MIB)).unwrap();
    let name = s.path().file_name().unwrap().to_string_lossy().into_owned();
    let entries = scan(root.path(), &Options::new()).unwrap();
    let e = entries.iter().find(|e| e.name == name).unwrap();
    assert_eq!(e.state, State::Live);
    let reserved = e.reserved_bytes.expect("a live spill's reservation");
    // expected_bytes and the spill's own bookkeeping
    assert!(reserved >= MIB && reserved < 2 * MIB, "{}", reserved);
    assert_eq!(e.limit_bytes, None);

    let before = children(root.path());
    let err = Spill::open(root.path(), &Options::new().expected_bytes(MIB).root_limit(MIB / 2)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoSpace, "{}", err);
    assert_eq!(children(root.path()), before, "a refused open leaves nothing behind");

    let limited = Spill::open(root.path(), &Options::new().expected_bytes(MIB).root_limit(64 * MIB)).unwrap();
    let name = limited.path().file_name().unwrap().to_string_lossy().into_owned();
    let entries = scan(root.path(), &Options::new()).unwrap();
    let e = entries.iter().find(|e| e.name == name).unwrap();
    assert_eq!(e.limit_bytes, Some(64 * MIB));
    assert!(e.reserved_bytes.unwrap() >= MIB);
}
