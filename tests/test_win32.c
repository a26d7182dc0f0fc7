/* test_win32.c: what only Windows has: a live spill that nobody can delete (sharing
 * violations), long and non-ASCII paths, .lock shapes, and links and junctions. Wine lacks
 * symlinks, junctions and the rename rule: those tests say "skipped: needs real Windows" there
 * and run on the Windows runner of the CI matrix. Trap: never stand a Unix symlink in for a
 * reparse point under Wine; Windows code sees a plain file, and DeleteFileW on it deletes the
 * link's TARGET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winioctl.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "testutil.h"

#define OLD 1000000000ULL /* a name timestamp in 2001 */

#define SKIP_REAL_WINDOWS(reason)                                                          \
    do {                                                                                   \
        printf("\n  skipped: needs real Windows: %s\n", reason);                          \
        return;                                                                            \
    } while (0)

/* A test path as UTF-16 with backslashes, from tu_pool. */
static wchar_t *wide(const char *path)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, path, -1, NULL, 0), i;
    wchar_t *w = apr_palloc(tu_pool, (apr_size_t)n * sizeof *w);
    MultiByteToWideChar(CP_UTF8, 0, path, -1, w, n);
    for (i = 0; i < n; i++)
        if (w[i] == L'/')
            w[i] = L'\\';
    return w;
}

#define ST_EQ(st, sc, re, li, yo, un, er)                                                  \
    do {                                                                                   \
        CU_ASSERT_EQUAL((st).scanned, sc);                                                 \
        CU_ASSERT_EQUAL((st).reaped, re);                                                  \
        CU_ASSERT_EQUAL((st).live, li);                                                    \
        CU_ASSERT_EQUAL((st).young, yo);                                                   \
        CU_ASSERT_EQUAL((st).unsafe, un);                                                  \
        CU_ASSERT_EQUAL((st).errors, er);                                                  \
    } while (0)

/* Another process's live spill: its directory and .lock cannot be deleted or renamed, by the
 * library's own removal or by plain Win32 calls; a reaper with grace 0 counts it live. */
static void test_live_spill_cannot_be_deleted(void)
{
    const char *root = tu_fresh_dir("w32live");
    const char *args[] = {root, "2", NULL};
    const char *path, *lock;
    spill_reap_stats st;
    tu_proc p;
    CU_ASSERT_FATAL(tu_spawn(&p, "hold", args) == 0);
    path = tu_read_line(&p);
    CU_ASSERT_FATAL(path != NULL && tu_has_prefix(path, root));
    lock = tu_join(path, ".lock");
    /* a sharing violation: the owner holds both without FILE_SHARE_DELETE */
    CU_ASSERT(spill__sys.unlink(SPILL__NOFD, lock, 0, NULL) == SPILL_EBUSY);
    CU_ASSERT(spill__sys.unlink(SPILL__NOFD, path, 1, NULL) == SPILL_EBUSY);
    CU_ASSERT(!DeleteFileW(wide(lock)));
    CU_ASSERT(!RemoveDirectoryW(wide(path)));
    CU_ASSERT(!MoveFileExW(wide(path), wide(tu_join(root, "moved")), 0));
    CU_ASSERT(tu_count_entries(path) == 3);
    st = tu_reap(root, 0);
    ST_EQ(st, 1, 0, 1, 0, 0, 0);
    CU_ASSERT(tu_wait(&p) == 0); /* a graceful close removes it all */
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* The creation window: a directory under its final name, held by its creator, with no .lock
 * yet, is live to any reaper, even with grace 0; once let go it is an empty lockless orphan. */
static void test_creation_window_is_live(void)
{
    const char *root = tu_fresh_dir("w32create");
    const char *name =
        apr_psprintf(tu_pool, "spill_%" APR_INT64_T_FMT "_1", (apr_int64_t)spill__now());
    spill__fd rfd, dfd;
    spill_reap_stats st;
    CU_ASSERT_FATAL(spill__sys.open_dir(SPILL__NOFD, root, 0, &rfd) == SPILL_OK);
    CU_ASSERT_FATAL(spill__sys.mkdir(rfd, name, 0700, &dfd) == SPILL_OK);
    st = tu_reap(root, 0);
    ST_EQ(st, 1, 0, 1, 0, 0, 0);
    CU_ASSERT(tu_exists(tu_join(root, name)));
    spill__sys.close(dfd);
    st = tu_reap(root, 0);
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
    CU_ASSERT(!tu_exists(tu_join(root, name)));
    spill__sys.close(rfd);
}

/* One spill's whole life under root: open, put, get, scan, close, and an orphan reaped. */
static void full_life(const char *root)
{
    spill_t *s;
    uint8_t a[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    spill_reap_stats st;
    const char *orphan;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    CU_ASSERT(tu_has_prefix(spill_path(s), root));
    tu_addr(a, 3);
    if (spill_put(s, a, "far away", 8) != SPILL_OK) {
        CU_FAIL("spill_put under a long root");
        printf("\n  spill_put: %s\n", spill_error_last()->message);
    }
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_OK && len == 8 &&
              memcmp(data, "far away", 8) == 0);
    spill_free(data);
    CU_ASSERT(tu_count_entries(spill_path(s)) == 2);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
    orphan = tu_make_spill_dir(root, OLD, 1, 2, tu_record(1));
    st = tu_reap(root, 30);
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
    CU_ASSERT(!tu_exists(orphan));
}

/* Paths past MAX_PATH go through the \\?\ prefix. */
static void test_long_paths(void)
{
    const char *root = tu_fresh_dir("w32long");
    int i;
    for (i = 0; i < 8; i++)
        root = tu_join(root, "a-directory-name-of-forty-characters-xxx");
    CU_ASSERT_FATAL(strlen(root) > MAX_PATH);
    full_life(root);
}

/* UTF-8 at the surface, UTF-16 at the OS boundary. */
static void test_non_ascii_root(void)
{
    const char *root =
        tu_join(tu_fresh_dir("w32utf"), "r\xc3\xa9sum\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac");
    full_life(root);
    CU_ASSERT(tu_exists(root));
}

static int make_symlink(const char *link, const char *target, int dir);

/* Rule 7 on shapes Windows has: a directory, a second hard link and (on real Windows) a
 * symbolic link as .lock are unsafe, and the file they point at stays untouched. */
static void test_lock_shapes_unsafe(void)
{
    const char *root = tu_fresh_dir("w32shapes"), *victim = tu_fresh_dir("w32victim");
    const char *d1 = tu_make_spill_dir(root, OLD, 1, 1, NULL);
    const char *d2 = tu_make_spill_dir(root, OLD, 2, 1, NULL);
    const char *d3 = tu_make_spill_dir(root, OLD, 3, 1, NULL);
    const char *outside = tu_join(victim, "precious");
    spill_reap_stats st;
    int link = 0;
    CU_ASSERT_FATAL(tu_write_file(outside, "do not delete") == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(d1, ".lock"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(CreateHardLinkW(wide(tu_join(d2, ".lock")), wide(outside), NULL));
    /* Wine's CreateSymbolicLinkW creates nothing: there d3 is a lockless orphan */
    if (!tu_is_wine())
        link = make_symlink(tu_join(d3, ".lock"), outside, 0);
    st = tu_reap(root, 0);
    ST_EQ(st, 3, 1 - link, 0, 0, 2 + link, 0);
    CU_ASSERT(tu_count_entries(d1) == 2 && tu_count_entries(d2) == 2);
    CU_ASSERT_STRING_EQUAL(tu_read_file(outside, NULL), "do not delete");
    CU_ASSERT(DeleteFileW(wide(tu_join(d2, ".lock")))); /* the victim keeps one link */
}

/* A junction (mount-point reparse point) at `link` to the directory `target`. */
typedef struct mount_point_buffer {
    DWORD ReparseTag;
    WORD ReparseDataLength, Reserved;
    WORD SubstituteNameOffset, SubstituteNameLength, PrintNameOffset, PrintNameLength;
    WCHAR PathBuffer[1024];
} mount_point_buffer;

static int make_junction(const char *link, const char *target)
{
    mount_point_buffer b;
    wchar_t full[512], sub[600];
    HANDLE h;
    DWORD n, got;
    size_t sn, pn;
    BOOL ok;
    if (!GetFullPathNameW(wide(target), 512, full, NULL) || !CreateDirectoryW(wide(link), NULL))
        return 0;
    wcscpy(sub, L"\\??\\");
    wcscat(sub, full);
    sn = wcslen(sub) * sizeof(WCHAR);
    pn = wcslen(full) * sizeof(WCHAR);
    memset(&b, 0, sizeof b);
    b.ReparseTag = IO_REPARSE_TAG_MOUNT_POINT;
    b.SubstituteNameLength = (WORD)sn;
    b.PrintNameOffset = (WORD)(sn + sizeof(WCHAR));
    b.PrintNameLength = (WORD)pn;
    memcpy(b.PathBuffer, sub, sn + sizeof(WCHAR));
    memcpy((char *)b.PathBuffer + b.PrintNameOffset, full, pn + sizeof(WCHAR));
    b.ReparseDataLength = (WORD)(8 + sn + pn + 2 * sizeof(WCHAR));
    n = 8 + b.ReparseDataLength;
    h = CreateFileW(wide(link), GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return 0;
    ok = DeviceIoControl(h, FSCTL_SET_REPARSE_POINT, &b, n, NULL, 0, &got, NULL);
    CloseHandle(h);
    return ok != 0;
}

#ifndef SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE
#define SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE 0x2
#endif

/* A symbolic link; it needs the privilege or Developer Mode, so 0 may only mean "not allowed". */
static int make_symlink(const char *link, const char *target, int dir)
{
    DWORD flags = SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE |
                  (dir ? SYMBOLIC_LINK_FLAG_DIRECTORY : 0);
    return CreateSymbolicLinkW(wide(link), wide(target), flags) != 0;
}

/* A victim outside the root, with a file and a subdirectory. */
static const char *make_victim(void)
{
    const char *v = tu_fresh_dir("w32victim");
    CU_ASSERT_FATAL(tu_write_file(tu_join(v, "precious"), "do not delete") == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(v, "sub"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(v, "sub/also"), "keep me") == 0);
    return v;
}

/* Rule 2 inside an orphan: junctions and symlinks go as links; their targets stay. */
static void test_links_inside_orphan(void)
{
    const char *root = tu_fresh_dir("w32links"), *victim, *before, *d;
    spill_reap_stats st;
    int links = 1;
    if (tu_is_wine())
        SKIP_REAL_WINDOWS("Wine makes neither junctions (FSCTL_SET_REPARSE_POINT) nor "
                          "symbolic links (CreateSymbolicLinkW creates nothing)");
    victim = make_victim();
    before = tu_snapshot(victim);
    d = tu_make_spill_dir(root, OLD, 7, 1, tu_record(7));
    CU_ASSERT_FATAL(make_junction(tu_join(d, "junction"), victim));
    CU_ASSERT_FATAL(apr_dir_make(tu_join(d, "nested"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(make_junction(tu_join(d, "nested/deepjunction"), victim));
    links += 1;
    if (make_symlink(tu_join(d, "dirlink"), victim, 1) &&
        make_symlink(tu_join(d, "filelink"), tu_join(victim, "precious"), 0))
        links += 2;
    else
        printf("\n  symbolic links not allowed here (no privilege, no Developer Mode): "
               "junctions only\n");
    st = tu_reap(root, 0);
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(st.files_removed, (uint64_t)(1 + links + 1)); /* chunk, links, .lock */
    CU_ASSERT(!tu_exists(d));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(victim), before);
    CU_ASSERT(strstr(before, "/sub/also") != NULL);
}

/* Rules 1 and 2 at the root: a junction named like a spill is unsafe and never entered. */
static void test_junction_named_like_spill(void)
{
    const char *root = tu_fresh_dir("w32junction"), *victim, *before;
    spill_reap_stats st;
    if (tu_is_wine())
        SKIP_REAL_WINDOWS("Wine cannot make a junction (FSCTL_SET_REPARSE_POINT)");
    victim = make_victim();
    before = tu_snapshot(victim);
    CU_ASSERT_FATAL(make_junction(tu_join(root, "spill_1_2"), victim));
    st = tu_reap(root, 0);
    ST_EQ(st, 1, 0, 0, 0, 1, 0);
    CU_ASSERT(tu_exists(tu_join(root, "spill_1_2")));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(victim), before);
    CU_ASSERT(RemoveDirectoryW(wide(tu_join(root, "spill_1_2")))); /* the junction itself */
}

/* Why Windows has no staging rename: a directory with an open file inside cannot be
 * renamed, whoever holds the file and however it is shared. */
static void test_no_rename_with_open_file_inside(void)
{
    const char *dir = tu_join(tu_fresh_dir("w32rename"), "stage");
    HANDLE h;
    BOOL moved;
    if (tu_is_wine())
        SKIP_REAL_WINDOWS("Wine renames a directory with an open file inside (POSIX rename)");
    CU_ASSERT_FATAL(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    h = CreateFileW(wide(tu_join(dir, "open")), GENERIC_WRITE,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, CREATE_NEW, 0,
                    NULL);
    CU_ASSERT_FATAL(h != INVALID_HANDLE_VALUE);
    moved = MoveFileExW(wide(dir), wide(tu_join(dir, "../final")), 0);
    CU_ASSERT(!moved && GetLastError() == ERROR_ACCESS_DENIED);
    CloseHandle(h);
}

static CU_TestInfo tests[] = {
    {"a live spill's directory and .lock cannot be deleted (busy)",
     test_live_spill_cannot_be_deleted},
    {"a directory held by its creator before .lock exists is live", test_creation_window_is_live},
    {"paths longer than MAX_PATH", test_long_paths},
    {"a root with non-ASCII characters", test_non_ascii_root},
    {".lock as a directory or a hard link is unsafe", test_lock_shapes_unsafe},
    {"junctions and symlinks inside an orphan removed as links", test_links_inside_orphan},
    {"a junction named like a spill is unsafe", test_junction_named_like_spill},
    {"no rename of a directory with an open file inside", test_no_rename_with_open_file_inside},
    CU_TEST_INFO_NULL,
};

test_suite suite_win32 = {"win32", tests};
