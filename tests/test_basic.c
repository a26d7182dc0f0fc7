/* test_basic.c: the chunk store as a client sees it: round trips, dedup, order, removal, errors. */
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "testutil.h"

static spill_t *open_fresh(const char **root)
{
    spill_t *s = NULL;
    *root = tu_fresh_dir("basic");
    CU_ASSERT_FATAL(spill_open(*root, NULL, &s) == SPILL_OK);
    CU_ASSERT_FATAL(s != NULL);
    return s;
}

static void test_round_trip(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN], b[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    tu_addr(a, 1);
    tu_addr(b, 2);
    CU_ASSERT(spill_put(s, a, "hello", 5) == SPILL_OK);
    CU_ASSERT(spill_put(s, b, "spill world", 11) == SPILL_OK);
    CU_ASSERT(spill_count(s) == 2);
    CU_ASSERT(spill_total_bytes(s) == 16);
    CU_ASSERT_FATAL(spill_get(s, a, &data, &len) == SPILL_OK);
    CU_ASSERT(len == 5 && memcmp(data, "hello", 5) == 0);
    spill_free(data);
    CU_ASSERT_FATAL(spill_get(s, b, &data, &len) == SPILL_OK);
    CU_ASSERT(len == 11 && memcmp(data, "spill world", 11) == 0);
    spill_free(data);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

static void test_chunk_file_named_by_hex(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN];
    char hex[SPILL__HEX_LEN + 1];
    memset(a, 0xab, sizeof a);
    a[0] = 0x01;
    CU_ASSERT(spill_put(s, a, "x", 1) == SPILL_OK);
    spill__hex(a, hex);
    CU_ASSERT(strncmp(hex, "01abab", 6) == 0);
    CU_ASSERT(tu_exists(tu_join(spill_path(s), hex)));
    spill_close(s);
}

static void test_large_chunk(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN];
    size_t n = 3 * 1024 * 1024 + 17, len, i;
    unsigned char *buf = malloc(n);
    void *data;
    for (i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 7 + (i >> 9));
    tu_addr(a, 9);
    CU_ASSERT(spill_put(s, a, buf, n) == SPILL_OK);
    CU_ASSERT_FATAL(spill_get(s, a, &data, &len) == SPILL_OK);
    CU_ASSERT(len == n && memcmp(data, buf, n) == 0);
    spill_free(data);
    free(buf);
    spill_close(s);
}

static void test_close_removes_directory(void)
{
    const char *root, *path;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN];
    tu_addr(a, 1);
    CU_ASSERT(spill_put(s, a, "abc", 3) == SPILL_OK);
    path = apr_pstrdup(tu_pool, spill_path(s));
    CU_ASSERT(tu_exists(path));
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT(tu_exists(root)); /* the root itself is never removed */
    CU_ASSERT(tu_count_entries(root) == 0);
}

static void test_same_content_counts_once(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN];
    tu_addr(a, 3);
    CU_ASSERT(spill_put(s, a, "same", 4) == SPILL_OK);
    CU_ASSERT(spill_put(s, a, "same", 4) == SPILL_OK);
    CU_ASSERT(spill_put(s, a, "same", 4) == SPILL_OK);
    CU_ASSERT(spill_count(s) == 1);
    CU_ASSERT(spill_total_bytes(s) == 4);
    CU_ASSERT(tu_count_entries(spill_path(s)) == 2); /* the chunk and .lock */
    spill_close(s);
}

static void test_insertion_order_and_remove(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN], out[SPILL_ADDR_LEN];
    unsigned i;
    char hex[SPILL__HEX_LEN + 1];
    for (i = 0; i < 5; i++) {
        tu_addr(a, 100 + i);
        CU_ASSERT(spill_put(s, a, "12345", i + 1) == SPILL_OK);
    }
    CU_ASSERT(spill_total_bytes(s) == 15);
    tu_addr(a, 102);
    spill__hex(a, hex);
    CU_ASSERT(spill_remove(s, a) == SPILL_OK);
    CU_ASSERT(!tu_exists(tu_join(spill_path(s), hex)));
    CU_ASSERT(spill_count(s) == 4);
    CU_ASSERT(spill_total_bytes(s) == 12);
    {
        unsigned expect[] = {100, 101, 103, 104};
        for (i = 0; i < 4; i++) {
            uint8_t e[SPILL_ADDR_LEN];
            tu_addr(e, expect[i]);
            CU_ASSERT(spill_addr(s, i, out) == SPILL_OK);
            CU_ASSERT(memcmp(out, e, SPILL_ADDR_LEN) == 0);
        }
    }
    CU_ASSERT(spill_addr(s, 4, out) == SPILL_ENOTFOUND);
    CU_ASSERT(spill_remove(s, a) == SPILL_ENOTFOUND);
    /* a removed address can be stored again, at the end */
    CU_ASSERT(spill_put(s, a, "again", 5) == SPILL_OK);
    CU_ASSERT(spill_addr(s, 4, out) == SPILL_OK && memcmp(out, a, SPILL_ADDR_LEN) == 0);
    spill_close(s);
}

static void test_unknown_address(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN];
    void *data = (void *)1;
    size_t len = 7;
    tu_addr(a, 77);
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_ENOTFOUND);
    CU_ASSERT(data == NULL && len == 0);
    CU_ASSERT(spill_remove(s, a) == SPILL_ENOTFOUND);
    spill_close(s);
}

static void test_bad_arguments(void)
{
    const char *root;
    spill_t *s = open_fresh(&root), *t = (spill_t *)1;
    spill_opts o;
    uint8_t a[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    tu_addr(a, 1);
    CU_ASSERT(spill_open(NULL, NULL, &t) == SPILL_EINVAL);
    CU_ASSERT(t == NULL);
    CU_ASSERT(spill_open(root, NULL, NULL) == SPILL_EINVAL);
    CU_ASSERT(spill_put(NULL, a, "x", 1) == SPILL_EINVAL);
    CU_ASSERT(spill_put(s, NULL, "x", 1) == SPILL_EINVAL);
    CU_ASSERT(spill_put(s, a, NULL, 1) == SPILL_EINVAL);
    CU_ASSERT(spill_get(s, a, NULL, &len) == SPILL_EINVAL);
    CU_ASSERT(spill_get(NULL, a, &data, &len) == SPILL_EINVAL);
    CU_ASSERT(spill_remove(s, NULL) == SPILL_EINVAL);
    CU_ASSERT(spill_addr(s, 0, NULL) == SPILL_EINVAL);
    CU_ASSERT(spill_close(NULL) == SPILL_EINVAL);
    CU_ASSERT(spill_count(NULL) == 0 && spill_total_bytes(NULL) == 0 && !spill_path(NULL));
    /* an opts struct not set up by spill_opts_init */
    memset(&o, 0, sizeof o);
    CU_ASSERT(spill_open(root, &o, &t) == SPILL_EINVAL);
    o.version = 99;
    CU_ASSERT(spill_open(root, &o, &t) == SPILL_EINVAL);
    CU_ASSERT(spill_error_last()->code == SPILL_EINVAL);
    CU_ASSERT(tu_count_entries(root) == 1); /* only s */
    /* an empty chunk is fine */
    CU_ASSERT(spill_put(s, a, NULL, 0) == SPILL_OK);
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_OK && len == 0);
    spill_free(data);
    spill_close(s);
}

static void test_error_last_names_op_and_path(void)
{
    const char *dir = tu_fresh_dir("err"), *file = tu_join(dir, "not-a-dir");
    const spill_error *e;
    spill_t *s;
    CU_ASSERT_FATAL(tu_write_file(file, "x") == 0);
    CU_ASSERT(spill_open(file, NULL, &s) != SPILL_OK);
    e = spill_error_last();
    CU_ASSERT(e->code != SPILL_OK);
    CU_ASSERT(e->os_error != 0);
#ifdef _WIN32
    CU_ASSERT_STRING_EQUAL(e->op, "NtCreateFile");
#else
    CU_ASSERT_STRING_EQUAL(e->op, "openat");
#endif
    CU_ASSERT_STRING_EQUAL(e->path, file);
    CU_ASSERT(strstr(e->message, file) != NULL);
}

static void test_relative_root_made_absolute(void)
{
    const char *dir = tu_fresh_dir("rel");
    char *cwd;
    spill_t *s;
    CU_ASSERT_FATAL(apr_filepath_get(&cwd, 0, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_filepath_set(dir, tu_pool) == APR_SUCCESS);
    CU_ASSERT(spill_open("sub/root", NULL, &s) == SPILL_OK);
    CU_ASSERT(tu_has_prefix(spill_path(s), dir));
    CU_ASSERT(strstr(spill_path(s), SPILL__PATH_SEP "sub/root" SPILL__PATH_SEP "spill_") != NULL);
    CU_ASSERT(apr_filepath_set(cwd, tu_pool) == APR_SUCCESS);
    CU_ASSERT(tu_exists(spill_path(s)));
    spill_close(s);
    CU_ASSERT(tu_count_entries(tu_join(dir, "sub/root")) == 0);
}

static void test_check_space(void)
{
    const char *dir = tu_fresh_dir("space");
    spill_opts o;
    spill_t *s;
    CU_ASSERT(spill_check_space(dir, 1) == SPILL_OK);
    CU_ASSERT(spill_check_space(dir, UINT64_MAX / 2) == SPILL_ENOSPC);
    spill_opts_init(&o);
    o.expected_bytes = UINT64_MAX / 4;
    CU_ASSERT(spill_open(dir, &o, &s) == SPILL_ENOSPC);
    CU_ASSERT(tu_count_entries(dir) == 0);
}

static void test_default_root(void)
{
    char buf[4096], tiny[4];
    CU_ASSERT(spill_default_root("myapp", buf, sizeof buf) == SPILL_OK);
    CU_ASSERT(strstr(buf, "myapp") != NULL);
    CU_ASSERT(strcmp(buf + strlen(buf) - 6, SPILL__PATH_SEP "spill") == 0);
    CU_ASSERT(spill_default_root("myapp", tiny, sizeof tiny) == SPILL_ERANGE);
    CU_ASSERT(spill_default_root(NULL, buf, sizeof buf) == SPILL_EINVAL);
    CU_ASSERT_STRING_EQUAL(spill_version(), "0.3.0");
    CU_ASSERT_STRING_EQUAL(spill_strerror(SPILL_ENOSPC), "not enough free space");
}

#ifdef _WIN32
/* Windows: the directory and .lock, held without FILE_SHARE_DELETE, cannot be taken away while
 * the owner lives; a chunk file can, and is then lost. */
static void test_lost_directory(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    tu_addr(a, 1);
    CU_ASSERT(spill_put(s, a, "abc", 3) == SPILL_OK);
    tu_remove_tree(spill_path(s)); /* someone tries to take the directory away */
    CU_ASSERT(tu_exists(spill_path(s)));
    CU_ASSERT(tu_exists(tu_join(spill_path(s), ".lock")));
    tu_addr(a, 2);
    CU_ASSERT(spill_put(s, a, "def", 3) == SPILL_OK);
    tu_addr(a, 1);
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_ELOST);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}
#else
static void test_lost_directory(void)
{
    const char *root;
    spill_t *s = open_fresh(&root);
    uint8_t a[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    tu_addr(a, 1);
    CU_ASSERT(spill_put(s, a, "abc", 3) == SPILL_OK);
    tu_remove_tree(spill_path(s)); /* someone takes the directory away */
    tu_addr(a, 2);
    CU_ASSERT(spill_put(s, a, "def", 3) == SPILL_ELOST);
    tu_addr(a, 1);
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_ELOST);
    CU_ASSERT(spill_close(s) == SPILL_ELOST);
}
#endif

static CU_TestInfo tests[] = {
    {"round trip of two chunks", test_round_trip},
    {"chunk file named by lowercase hex", test_chunk_file_named_by_hex},
    {"a 3 MiB chunk", test_large_chunk},
    {"close removes the directory", test_close_removes_directory},
    {"three puts of the same content count once", test_same_content_counts_once},
    {"insertion order and remove", test_insertion_order_and_remove},
    {"unknown address", test_unknown_address},
    {"bad arguments", test_bad_arguments},
    {"error_last names op and path", test_error_last_names_op_and_path},
    {"relative root made absolute", test_relative_root_made_absolute},
    {"check_space and expected_bytes", test_check_space},
    {"default root, version, strerror", test_default_root},
    {"directory taken away: ELOST", test_lost_directory},
    CU_TEST_INFO_NULL,
};

test_suite suite_basic = {"basic", tests};
