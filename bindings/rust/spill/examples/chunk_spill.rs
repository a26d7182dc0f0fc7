//! chunk_spill: an upload client's ChunkSpill (it used to make its directory with create_dir,
//! lock `.lock` itself, remove_dir_all in Drop and reap with its own 30 s grace), kept with the
//! same API and now a few lines over the spill crate. Its chunks are content-addressed (the
//! address is the SHA-256 of the bytes), so a restarted run can resume the chunks a killed one
//! had written and check each against its address first. Run: cargo run --example chunk_spill
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const TAG: &str = "upload";
/// How long a killed run's chunks wait for the restart: about as long as a restart takes.
const KEEP: Duration = Duration::from_secs(600);
/// Set in the run this example starts and kills, to show the resume.
const KILLED_RUN: &str = "CHUNK_SPILL_KILLED_RUN";

/// The client's type, unchanged for its callers; Send + Sync, so upload tasks on several threads
/// share one `&ChunkSpill` (spill::Spill takes turns itself).
pub struct ChunkSpill {
    inner: spill::Spill,
}

impl ChunkSpill {
    /// Opens a fresh spill under root; the orphans of killed runs are cleaned up first.
    pub fn new(root: &Path) -> io::Result<ChunkSpill> {
        let inner = spill::Spill::open(root, &spill::Options::new().tag(TAG))?;
        Ok(ChunkSpill { inner })
    }

    /// Takes over the chunks a killed run left under root, each checked against its address
    /// (one a power loss left zero-filled or stale is dropped), or opens a fresh spill if no
    /// run left any. Either way, should this run be killed too, the next one resumes it.
    pub fn resume(root: &Path) -> io::Result<ChunkSpill> {
        let opts = spill::Options::new().tag(TAG).keep(KEEP);
        let verified = opts.clone().verify(|addr, data| *addr == address(data));
        let inner = match spill::adopt(root, TAG, &verified) {
            Err(e) if e.code() == spill::ErrorCode::NotFound => spill::Spill::open(root, &opts)?,
            adopted => adopted?,
        };
        Ok(ChunkSpill { inner })
    }

    pub fn put(&self, addr: &[u8; 32], data: &[u8]) -> io::Result<()> {
        Ok(self.inner.put(addr, data)?)
    }

    pub fn get(&self, addr: &[u8; 32]) -> io::Result<Vec<u8>> {
        Ok(self.inner.get(addr)?)
    }

    /// Whether the chunk under addr is stored (a resumed run skips those).
    pub fn contains(&self, addr: &[u8; 32]) -> bool {
        self.inner.get(addr).is_ok()
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

/// A chunk's address: the SHA-256 of its bytes (FIPS 180-4; std only, as the client has it).
pub fn address(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..64 {
            w[i] = if i < 16 {
                u32::from_be_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]])
            } else {
                let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1)
            };
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7].wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [t1.wrapping_add(t2), v[0], v[1], v[2], v[3].wrapping_add(t1), v[4], v[5], v[6]];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    let mut out = [0u8; 32];
    for (o, word) in out.chunks_mut(4).zip(h) {
        o.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const CHUNKS: [&[u8]; 3] = [b"first chunk", b"second chunk", b"third chunk"];

/// The run that gets killed: spills every chunk, says so, and waits to be killed.
fn killed_run(root: &Path) -> io::Result<()> {
    let chunks = ChunkSpill::resume(root)?;
    for data in CHUNKS {
        chunks.put(&address(data), data)?;
    }
    println!("READY");
    io::stdin().read_to_end(&mut Vec::new())?; // killed meanwhile (or, should the parent die
    drop(chunks); // first and close stdin, its spill is removed)
    Ok(())
}

fn main() -> io::Result<()> {
    assert_eq!(hex(&address(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    if let Some(root) = std::env::var_os(KILLED_RUN) {
        return killed_run(Path::new(&root));
    }
    let root = std::env::temp_dir().join(format!("chunk-spill-example-{}", std::process::id()));

    // a run killed after spilling three chunks...
    let mut run = Command::new(std::env::current_exe()?)
        .env(KILLED_RUN, &root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut ready = String::new();
    BufReader::new(run.stdout.take().expect("piped")).read_line(&mut ready)?;
    assert_eq!(ready.trim(), "READY", "the killed run spilled its chunks");
    run.kill()?;
    run.wait()?;
    // ...and a power loss that left its second chunk zero-filled (same length) on disk
    let orphan = std::fs::read_dir(&root)?.next().expect("the killed run's spill")?.path();
    let second = address(CHUNKS[1]);
    std::fs::write(orphan.join(hex(&second)), vec![0u8; CHUNKS[1].len()])?;

    // the restart resumes the chunks that are what their addresses say, and spills the rest
    let chunks = ChunkSpill::resume(&root)?;
    assert_eq!(chunks.len(), 2, "the zero-filled chunk is not adopted");
    assert!(!chunks.contains(&second));
    for data in CHUNKS {
        if !chunks.contains(&address(data)) {
            chunks.put(&address(data), data)?;
        }
    }
    for data in CHUNKS {
        assert_eq!(chunks.get(&address(data))?, data);
    }
    println!("resumed: {} chunk(s), {} bytes", chunks.len(), chunks.total_bytes());
    drop(chunks); // all uploaded: nothing to resume

    let chunks = ChunkSpill::new(&root)?;
    let (first, third) = (address(CHUNKS[0]), address(CHUNKS[2]));
    chunks.put(&first, CHUNKS[0])?;
    chunks.put(&second, CHUNKS[1])?;
    chunks.remove(&first)?; // uploaded
    // another thread's upload task, sharing the store
    std::thread::scope(|tasks| tasks.spawn(|| chunks.put(&third, CHUNKS[2])).join().unwrap())?;
    assert_eq!(chunks.get(&second)?, CHUNKS[1]);
    assert_eq!(chunks.get(&third)?, CHUNKS[2]);
    println!("{} chunk(s), {} bytes, in {}", chunks.len(), chunks.total_bytes(), chunks.inner.path().display());
    drop(chunks);
    std::fs::remove_dir(&root) // empty: every spill closed, nothing of them left
}
