//! Checks spill-sys against include/spill.h: a C program built from the header prints every
//! constant, struct size and field offset/size named here, and the header is parsed for every
//! function, constant and struct it declares, so that nothing is missing on either side.
use spill_sys::*;
use std::collections::BTreeSet;
use std::mem::{size_of, MaybeUninit};
use std::path::PathBuf;
use std::process::Command;

fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// A field's offset, as std::mem::offset_of! (1.77) gives it: the crate builds with 1.63.
macro_rules! offset_of {
    ($t:ident, $f:ident) => {{
        let s = MaybeUninit::<$t>::uninit();
        let base = s.as_ptr();
        // SAFETY: only the field's address is taken, nothing is read.
        let field = unsafe { std::ptr::addr_of!((*base).$f) };
        field as usize - base as usize
    }};
}

/// (struct, C field, offset, size) rows and the struct's own size.
macro_rules! layout {
    ($t:ident { $($f:ident),* $(,)? }) => {
        (stringify!($t), size_of::<$t>(), vec![$(
            (stringify!($f).trim_end_matches('_').to_string(), offset_of!($t, $f),
             field_size(|s: &$t| &s.$f)),
        )*])
    };
}

type Layout = (&'static str, usize, Vec<(String, usize, usize)>);

fn layouts() -> Vec<Layout> {
    vec![
        layout!(spill_error { code, os_error, op, path, message }),
        layout!(spill_opts { version, grace_seconds, reap_on_open, reap_budget_ms, expected_bytes,
                             threads, tag, log, log_ctx, dry_run, progress, progress_ctx,
                             progress_ms, keep_seconds, reap_resumable, verify, verify_ctx,
                             root_limit_bytes }),
        layout!(spill_reap_stats { version, scanned, reaped, live, young, unsafe_, errors,
                                   bytes_freed, files_removed, elapsed_ms, budget_exhausted,
                                   resumable, cut_short, cancelled }),
        layout!(spill_entry { name, state, age_seconds, bytes, files, owner_pid, owner_host, tag,
                              reason, reserved_bytes, limit_bytes }),
    ]
}

macro_rules! consts {
    ($($c:ident),* $(,)?) => { vec![$((stringify!($c), $c as i64)),*] };
}

fn constants() -> Vec<(&'static str, i64)> {
    consts!(SPILL_ADDR_LEN, SPILL_OK, SPILL_EINVAL, SPILL_ENOMEM, SPILL_EIO, SPILL_ENOSPC,
            SPILL_ENOTFOUND, SPILL_EBUSY, SPILL_EUNSAFE, SPILL_ENOLCK, SPILL_EACCES, SPILL_ELOST,
            SPILL_EFORKED, SPILL_ERANGE, SPILL_ETIMEDOUT, SPILL_OPTS_VERSION,
            SPILL_REAP_STATS_VERSION,
            SPILL_LIVE, SPILL_ORPHAN, SPILL_YOUNG, SPILL_UNSAFE, SPILL_ERROR, SPILL_RESUMABLE,
            SPILL_REAP_NONE, SPILL_REAP_SYNC, SPILL_REAP_BACKGROUND, SPILL_VERIFY_STOP)
}

fn header() -> (PathBuf, String) {
    let dir = PathBuf::from(env!("SPILL_SYS_INCLUDE_DIR"));
    let text = std::fs::read_to_string(dir.join("spill.h")).expect("spill.h");
    (dir, strip_comments(&text))
}

fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = &rest[i + rest[i..].find("*/").expect("unterminated comment") + 2..];
    }
    out.push_str(rest);
    out
}

fn ident_at_end(s: &str) -> &str {
    let s = s.trim_end();
    let start = s.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    &s[start..]
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names of the SPILL_EXTERN functions, `void (name)(...)` included.
fn header_functions(h: &str) -> BTreeSet<String> {
    h.split("SPILL_EXTERN").skip(1).filter_map(|decl| {
        let decl = &decl[..decl.find(';')?];
        let open = decl.find('(')?;
        let inner = &decl[open + 1..];
        if let Some(close) = inner.find(')') {
            if is_ident(inner[..close].trim()) && inner[close + 1..].trim_start().starts_with('(') {
                return Some(inner[..close].trim().to_string());
            }
        }
        Some(ident_at_end(&decl[..open]).to_string())
    }).filter(|n| n.starts_with("spill_")).collect()
}

/// A #define's value that names a number: a literal, or one of <stdint.h>'s limits
/// (SPILL_VERIFY_STOP is INT32_MIN).
fn is_number(value: &str) -> bool {
    const LIMITS: &[&str] = &["INT8_MIN", "INT8_MAX", "INT16_MIN", "INT16_MAX", "INT32_MIN",
                              "INT32_MAX", "INT64_MIN", "INT64_MAX", "UINT8_MAX", "UINT16_MAX",
                              "UINT32_MAX", "UINT64_MAX"];
    value.parse::<i64>().is_ok() || LIMITS.contains(&value)
}

/// Numeric #defines and enum members named SPILL_* (the version triple aside).
fn header_constants(h: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in h.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("#define") {
            if let (Some(name), Some(value)) = (words.next(), words.next()) {
                if name.starts_with("SPILL_") && !name.starts_with("SPILL_VERSION_")
                    && is_number(value) {
                    names.insert(name.to_string());
                }
            }
        }
    }
    for block in h.split("typedef enum").skip(1) {
        let body = &block[block.find('{').unwrap() + 1..block.find('}').unwrap()];
        for member in body.split(',') {
            let name = member.split('=').next().unwrap().trim();
            if !name.is_empty() {
                names.insert(name.to_string());
            }
        }
    }
    names
}

fn header_structs(h: &str) -> BTreeSet<String> {
    h.split("typedef struct").skip(1).filter_map(|rest| {
        let head = &rest[..rest.find(['{', ';'])?];
        rest[head.len()..].starts_with('{').then(|| head.trim().to_string())
    }).collect()
}

#[test]
fn every_function_of_the_header_is_declared() {
    let (_, h) = header();
    let ours: BTreeSet<String> = FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(header_functions(&h), ours);
}

#[test]
fn every_constant_and_struct_of_the_header_is_declared() {
    let (_, h) = header();
    let ours: BTreeSet<String> = constants().iter().map(|c| c.0.to_string()).collect();
    assert_eq!(header_constants(&h), ours);
    let ours: BTreeSet<String> = layouts().iter().map(|l| l.0.to_string()).collect();
    assert_eq!(header_structs(&h), ours);
}

#[test]
fn values_and_layouts_match_the_compiled_header() {
    let (dir, _) = header();
    let mut c = String::from("#include <stdio.h>\n#include <stddef.h>\n#include \"spill.h\"\nint main(void) {\n");
    let mut expected = String::new();
    for (name, value) in constants() {
        c += &format!("printf(\"{name} %lld\\n\", (long long)({name}));\n");
        expected += &format!("{name} {value}\n");
    }
    for (t, size, fields) in layouts() {
        c += &format!("printf(\"sizeof {t} %zu\\n\", sizeof({t}));\n");
        expected += &format!("sizeof {t} {size}\n");
        for (f, off, fsize) in fields {
            c += &format!("printf(\"{t}.{f} %zu %zu\\n\", offsetof({t}, {f}), sizeof((({t} *)0)->{f}));\n");
            expected += &format!("{t}.{f} {off} {fsize}\n");
        }
    }
    c += "return 0;\n}\n";
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (src, exe) = (tmp.join("spill_layout.c"), tmp.join("spill_layout"));
    std::fs::write(&src, c).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc).arg("-DSPILL_STATIC").arg("-I").arg(&dir).arg(&src).arg("-o").arg(&exe)
        .status().expect("a C compiler (cc or $CC)");
    assert!(status.success(), "the layout program does not compile against {}", dir.display());
    let out = Command::new(&exe).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}
