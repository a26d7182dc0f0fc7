//! chunk_spill: an upload client's ChunkSpill (it used to make its directory with create_dir,
//! lock `.lock` itself, remove_dir_all in Drop and reap with its own 30 s grace), kept with the
//! same API and now a few lines over the spill crate. Run: cargo run --example chunk_spill
use std::io;
use std::path::Path;

/// The client's type, unchanged for its callers; Send + Sync, so upload tasks on several threads
/// share one `&ChunkSpill` (spill::Spill takes turns itself).
pub struct ChunkSpill {
    inner: spill::Spill,
}

impl ChunkSpill {
    /// Opens a fresh spill under root; the orphans of killed runs are cleaned up first.
    pub fn new(root: &Path) -> io::Result<ChunkSpill> {
        let inner = spill::Spill::open(root, &spill::Options::new().tag("upload"))?;
        Ok(ChunkSpill { inner })
    }

    pub fn put(&self, addr: &[u8; 32], data: &[u8]) -> io::Result<()> {
        Ok(self.inner.put(addr, data)?)
    }

    pub fn get(&self, addr: &[u8; 32]) -> io::Result<Vec<u8>> {
        Ok(self.inner.get(addr)?)
    }

    pub fn remove(&self, addr: &[u8; 32]) -> io::Result<()> {
        Ok(self.inner.remove(addr)?)
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    pub fn total_bytes(&self) -> u64 {
        self.inner.total_bytes()
    }
    // Drop: the spill's own Drop removes the directory.
}

fn main() -> io::Result<()> {
    let root = std::env::temp_dir().join(format!("chunk-spill-example-{}", std::process::id()));
    let chunks = ChunkSpill::new(&root)?;
    chunks.put(&[1; 32], b"first chunk")?;
    chunks.put(&[2; 32], b"second chunk")?;
    chunks.remove(&[1; 32])?; // uploaded
    // another thread's upload task, sharing the store
    std::thread::scope(|tasks| tasks.spawn(|| chunks.put(&[3; 32], b"third chunk")).join().unwrap())?;
    assert_eq!(chunks.get(&[2; 32])?, b"second chunk");
    assert_eq!(chunks.get(&[3; 32])?, b"third chunk");
    println!("{} chunk(s), {} bytes, in {}", chunks.len(), chunks.total_bytes(), chunks.inner.path().display());
    drop(chunks);
    std::fs::remove_dir(&root)
}
