//! The closures of background reaps. The C library runs one background reap per root per
//! process, shared by the handles open on that root, with the callbacks of the open that started
//! its run, until the last of those handles is closed: so a handle's own closures may be called
//! after that handle has closed. They are kept here, per root, until the last background handle
//! on the root (counted as the C library counts them) has closed and so joined the reap.
use crate::Callbacks;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// A root's identity, as the C library keys its reapers (device and inode where std has them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Root(Key);

#[cfg(unix)]
type Key = (u64, u64);
#[cfg(not(unix))]
type Key = std::path::PathBuf;

struct Kept {
    handles: usize,
    callbacks: Vec<Callbacks>,
}

static KEPT: Mutex<Option<HashMap<Key, Kept>>> = Mutex::new(None);

fn key(root: &Path) -> Option<Key> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(root).ok()?;
        Some((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::canonicalize(root).ok()
    }
}

/// A background handle on the root of `spill_dir` opened with `callbacks`. None (and the
/// closures leaked, never freed while the reap may call them) if the root cannot be named.
pub(crate) fn attach(spill_dir: &Path, callbacks: Callbacks) -> Option<Root> {
    let k = match spill_dir.parent().and_then(key) {
        Some(k) => k,
        None => {
            std::mem::forget(callbacks);
            return None;
        }
    };
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let e = kept.get_or_insert_with(HashMap::new).entry(k.clone()).or_insert(Kept { handles: 0, callbacks: Vec::new() });
    e.handles += 1;
    e.callbacks.push(callbacks);
    Some(Root(k))
}

/// That handle has closed (spill_close returned: the last one joined the reap).
pub(crate) fn detach(root: Root) {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let map = match kept.as_mut() {
        Some(map) => map,
        None => return,
    };
    let last = match map.get_mut(&root.0) {
        Some(e) => {
            e.handles -= 1;
            e.handles == 0
        }
        None => false,
    };
    let gone = if last { map.remove(&root.0) } else { None };
    drop(kept);
    drop(gone); // the closures, outside the lock (their drops may do anything)
}
