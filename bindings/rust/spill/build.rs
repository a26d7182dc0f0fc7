// build.rs of spill: tells the code which std it builds against, so that the crate builds with
// rustc 1.63 (Debian 12's) and still uses what newer std has. `spill_io_error_more`: the
// io::ErrorKind variants StorageFull and ResourceBusy (1.83); `spill_file_lock`: File::try_lock
// (1.89, used by the tests only).
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    let minor = rustc_minor().unwrap_or(0);
    for (cfg, since) in [("spill_io_error_more", 83), ("spill_file_lock", 89)] {
        // declared, so that a rustc that checks cfg names (1.80 on) knows them
        if minor >= 80 {
            println!("cargo:rustc-check-cfg=cfg({cfg})");
        }
        if minor >= since {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}

/// The minor version of the rustc cargo builds with ("rustc 1.63.0 ..." gives 63).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1)?.split('.').nth(1)?.parse().ok()
}
