// build.rs of spill-sys: links an installed spill found through pkg-config (of this tree's
// major.minor version), or else builds this tree's library with the `cmake` program into OUT_DIR.
// SPILL_SYS_FROM_SOURCE=1 skips pkg-config; SPILL_SYS_NO_SOURCE=1 forbids the build.
// A static libspill and the static archives of APR and libuuid are linked into the binary, so
// that it needs no libapr at run time; libc's libraries stay shared (see STATIC).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for var in ["SPILL_SYS_FROM_SOURCE", "SPILL_SYS_NO_SOURCE", "PKG_CONFIG_PATH", "PKG_CONFIG"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let tree = manifest.join("../../..");
    let tree = tree.canonicalize().unwrap_or(tree);
    let want = header_version(&tree.join("include/spill.h"));

    let include = if env::var_os("SPILL_SYS_FROM_SOURCE").is_none() {
        from_pkg_config(want.as_deref())
    } else {
        None
    };
    let include = include.unwrap_or_else(|| {
        if env::var_os("SPILL_SYS_NO_SOURCE").is_some() {
            panic!("spill-sys: no installed spill found through pkg-config and SPILL_SYS_NO_SOURCE is set");
        }
        from_source(&tree)
    });
    // the header the layout test (tests/header.rs) compares these declarations against
    println!("cargo:rustc-env=SPILL_SYS_INCLUDE_DIR={}", include.display());
    println!("cargo:include={}", include.display());
}

/// "MAJOR.MINOR" of the tree's spill.h, if the crate sits in the tree.
fn header_version(header: &Path) -> Option<String> {
    let text = std::fs::read_to_string(header).ok()?;
    let num = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("#define ")?.strip_prefix(name)?.trim().parse::<u32>().ok())
    };
    Some(format!("{}.{}", num("SPILL_VERSION_MAJOR ")?, num("SPILL_VERSION_MINOR ")?))
}

fn pkg_config(args: &[&str]) -> Option<String> {
    let prog = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(prog).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The archives linked statically when they are found: spill's, APR's, and libuuid's (APR's
/// random bytes share an object with its uuid_generate call; not every host has libuuid). The
/// rest stay shared: libc's (libpthread; a static glibc is a trap) and libcrypt (LGPL; only
/// APR's password functions use it, which spill never calls, so rustc's --as-needed drops it).
const STATIC: [&str; 3] = ["spill", "apr-1", "uuid"];

/// Emits the link lines of `pkg-config --libs` output: the libraries of STATIC whose archive is
/// in one of its -L directories or of `dirs` as static, the others as the linker finds them.
fn emit_libs(libs: &str, dirs: &[PathBuf]) {
    let mut search: Vec<PathBuf> = dirs.to_vec();
    for flag in libs.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
            search.push(PathBuf::from(dir));
        } else if let Some(lib) = flag.strip_prefix("-l") {
            match search.iter().find(|d| STATIC.contains(&lib) && archive(d, lib).is_file()) {
                Some(dir) => {
                    // rustc looks for a static archive itself, in the search paths only
                    println!("cargo:rustc-link-search=native={}", dir.display());
                    println!("cargo:rustc-link-lib=static={lib}");
                }
                None => println!("cargo:rustc-link-lib={lib}"),
            }
        }
    }
}

/// A library's static archive in dir. Only `lib*.a`: MSVC's `*.lib` may be an import library,
/// so there the linker finds what it finds, as before.
fn archive(dir: &Path, lib: &str) -> PathBuf {
    dir.join(format!("lib{lib}.a"))
}

/// Whether dir holds a shared library of that name (then an installed spill is linked as one).
fn has_shared(dir: &Path, lib: &str) -> bool {
    ["so", "dylib"].iter().any(|ext| dir.join(format!("lib{lib}.{ext}")).exists())
}

/// APR's libdir: pkg-config leaves a system directory out of -L, where rustc, which looks for
/// a static archive itself, would not find it.
fn apr_libdir() -> Vec<PathBuf> {
    pkg_config(&["--variable=libdir", "apr-1"]).map(PathBuf::from).into_iter().collect()
}

fn from_pkg_config(want: Option<&str>) -> Option<PathBuf> {
    let version = pkg_config(&["--modversion", "spill"])?;
    if let Some(want) = want {
        if !version.starts_with(&format!("{want}.")) {
            println!("cargo:warning=spill-sys: installed spill {version} is not this tree's {want}; building the tree's");
            return None;
        }
    }
    let libdir = PathBuf::from(pkg_config(&["--variable=libdir", "spill"])?);
    if has_shared(&libdir, "spill") && !archive(&libdir, "spill").is_file() {
        // a shared libspill brings its own dependencies (libapr among them) at run time
        emit_libs(&pkg_config(&["--libs", "spill"])?, &[]);
    } else {
        // a static libspill: its private dependencies (APR, and APR's) are the binary's to link
        let dirs: Vec<PathBuf> = std::iter::once(libdir).chain(apr_libdir()).collect();
        emit_libs(&pkg_config(&["--static", "--libs", "spill"])?, &dirs);
    }
    Some(PathBuf::from(pkg_config(&["--variable=includedir", "spill"])?))
}

fn from_source(tree: &Path) -> PathBuf {
    for dir in ["include", "src", "platform", "cmake", "CMakeLists.txt"] {
        println!("cargo:rerun-if-changed={}", tree.join(dir).display());
    }
    let build = PathBuf::from(env::var("OUT_DIR").unwrap()).join("spill-build");
    let run = |cmd: &mut Command| {
        let status = cmd.status().unwrap_or_else(|e| panic!("spill-sys: cannot run cmake: {e}"));
        assert!(status.success(), "spill-sys: {cmd:?} failed");
    };
    run(Command::new("cmake").arg("-S").arg(tree).arg("-B").arg(&build).args([
        "-DBUILD_SHARED_LIBS=OFF",
        "-DSPILL_BUILD_TESTS=OFF",
        "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_POSITION_INDEPENDENT_CODE=ON",
    ]));
    let jobs = env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    run(Command::new("cmake").arg("--build").arg(&build).args(["--config", "Release", "--target", "spill", "-j", &jobs]));

    println!("cargo:rustc-link-search=native={}", build.display());
    println!("cargo:rustc-link-search=native={}", build.join("Release").display());
    println!("cargo:rustc-link-lib=static=spill");
    // a static spill carries its private dependencies: APR, and the OS's own libraries
    match pkg_config(&["--static", "--libs", "apr-1"]) {
        Some(libs) => emit_libs(&libs, &apr_libdir()),
        None => println!("cargo:rustc-link-lib=apr-1"),
    }
    if env::var("CARGO_CFG_WINDOWS").is_ok() {
        for lib in ["ntdll", "shell32", "ole32"] {
            println!("cargo:rustc-link-lib={lib}");
        }
    } else {
        println!("cargo:rustc-link-lib=pthread");
    }
    tree.join("include")
}
