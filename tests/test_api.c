/* test_api.c: the versioned API of 0.2 as a caller meets it: an init that writes only the fields
 * of the caller's version, stats filled by version, SPILL_ERROR only for version-2 callers, the
 * tag limit, and a dry run whose judgement is the real one. */
#include <stddef.h>
#include <string.h>

#include "testutil.h"

#define V1_OPTS_SIZE (offsetof(spill_opts, log_ctx) + sizeof(void *))
#define V1_STATS_SIZE (offsetof(spill_reap_stats, budget_exhausted) + sizeof(int))

static int untouched(const void *p, size_t from, size_t to, unsigned char byte)
{
    const unsigned char *b = p;
    for (; from < to; from++)
        if (b[from] != byte)
            return 0;
    return 1;
}

/* The exported spill_opts_init (a 0.1 program's call) writes version 1's bytes only. */
static void test_init_writes_only_its_version(void)
{
    spill_opts o;
    memset(&o, 0xAB, sizeof o);
    (spill_opts_init)(&o); /* the function, not the header's macro */
    CU_ASSERT_EQUAL(o.version, 1);
    CU_ASSERT_EQUAL(o.grace_seconds, 30);
    CU_ASSERT(untouched(&o, V1_OPTS_SIZE, sizeof o, 0xAB));
    memset(&o, 0xAB, sizeof o);
    CU_ASSERT(spill_opts_init_version(&o, 1) == SPILL_OK);
    CU_ASSERT(o.version == 1 && untouched(&o, V1_OPTS_SIZE, sizeof o, 0xAB));
    memset(&o, 0xAB, sizeof o);
    spill_opts_init(&o); /* the macro: this header's version */
    CU_ASSERT(o.version == SPILL_OPTS_VERSION && o.dry_run == 0 && o.threads == 1);
    memset(&o, 0xAB, sizeof o);
    CU_ASSERT(spill_opts_init_version(&o, 0) == SPILL_EINVAL);
    CU_ASSERT(spill_opts_init_version(&o, SPILL_OPTS_VERSION + 1) == SPILL_EINVAL);
    CU_ASSERT(untouched(&o, 0, sizeof o, 0xAB));
    CU_ASSERT(spill_opts_init_version(NULL, 1) == SPILL_EINVAL);
}

/* A version-1 struct is read as version 1: what lies past its end (here: garbage where
 * dry_run would be) is never read, so its reap is a real one. */
static void test_v1_opts_read_as_v1(void)
{
    const char *root = tu_fresh_dir("api-v1");
    const char *orphan = tu_make_spill_dir(root, 1000, 1, 2, tu_record(1));
    spill_opts o;
    spill_reap_stats st;
    memset(&o, 0x01, sizeof o);
    (spill_opts_init)(&o);
    CU_ASSERT(o.dry_run != 0); /* garbage beyond version 1 */
    memset(&st, 0, sizeof st);
    st.version = 2;
    CU_ASSERT(spill_reap(root, &o, &st) == SPILL_OK);
    CU_ASSERT_EQUAL(st.reaped, 1);
    CU_ASSERT(!tu_exists(orphan));
}

/* Stats: version 0 and 1 get version 1's fields only; an unknown version is refused. */
static void test_stats_by_version(void)
{
    const char *root = tu_fresh_dir("api-stats");
    spill_reap_stats st;
    tu_make_spill_dir(root, 1000, 1, 2, tu_record(1));
    memset(&st, 0xCD, sizeof st);
    st.version = 1;
    CU_ASSERT(spill_reap(root, NULL, &st) == SPILL_OK);
    CU_ASSERT(st.version == 1 && st.reaped == 1 && st.errors == 0);
    CU_ASSERT(untouched(&st, V1_STATS_SIZE, sizeof st, 0xCD));
    memset(&st, 0xCD, sizeof st);
    st.version = 2;
    CU_ASSERT(spill_reap(root, NULL, &st) == SPILL_OK);
    CU_ASSERT(st.version == 2 && st.scanned == 0 && st.resumable == 0 && st.cut_short == 0 &&
              st.cancelled == 0);
    memset(&st, 0xCD, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION + 1;
    CU_ASSERT(spill_reap(root, NULL, &st) == SPILL_EINVAL);
    CU_ASSERT(untouched(&st, sizeof(unsigned), sizeof st, 0xCD));
}

/* A lock call that fails for a reason other than contention (rule 7): a judging error. */
static int failing_probe(spill__fd at, const char *name, int how, spill__fd *out)
{
    if (how != SPILL__PROBE_LOCK) /* reading a record: not the lock call */
        return spill__sys_default.lock_probe(at, name, how, out);
    return spill__error_set_os(SPILL_EIO, 5, "flock", name, "injected: lock call failed");
}

typedef struct seen {
    int n;
    spill_state state;
    char reason[256];
} seen;

static int remember(void *ctx, const spill_entry *e)
{
    seen *s = ctx;
    s->n++;
    s->state = e->state;
    snprintf(s->reason, sizeof s->reason, "%s", e->reason);
    return 0;
}

static seen scan_with(const char *root, unsigned version)
{
    spill_opts o;
    seen s;
    memset(&s, 0, sizeof s);
    CU_ASSERT_FATAL(spill_opts_init_version(&o, version) == SPILL_OK);
    spill__sys.lock_probe = failing_probe;
    CU_ASSERT(spill_scan(root, &o, remember, &s) == SPILL_OK);
    spill__sys.lock_probe = spill__sys_default.lock_probe;
    return s;
}

/* An entry that could not be judged: SPILL_ERROR for version 2, SPILL_UNSAFE for version 1,
 * with the reason either way. */
static void test_error_state_by_version(void)
{
    const char *root = tu_fresh_dir("api-error");
    seen v1, v2;
    tu_make_spill_dir(root, 1000, 1, 1, tu_record(1));
    v1 = scan_with(root, 1);
    v2 = scan_with(root, 2);
    CU_ASSERT(v1.n == 1 && v1.state == SPILL_UNSAFE);
    CU_ASSERT(v2.n == 1 && v2.state == SPILL_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(v1.reason, "injected"));
    CU_ASSERT_PTR_NOT_NULL(strstr(v2.reason, "injected"));
}

/* The dry run counts a judging error as an error, as the real run does, and removes nothing. */
static void test_dry_run_counts_judging_errors(void)
{
    const char *root = tu_fresh_dir("api-dry-error");
    const char *orphan = tu_make_spill_dir(root, 1000, 1, 1, tu_record(1));
    spill_opts o;
    spill_reap_stats dry, real;
    spill_opts_init(&o);
    memset(&dry, 0, sizeof dry);
    memset(&real, 0, sizeof real);
    dry.version = real.version = SPILL_REAP_STATS_VERSION;
    spill__sys.lock_probe = failing_probe;
    o.dry_run = 1;
    CU_ASSERT(spill_reap(root, &o, &dry) == SPILL_OK);
    o.dry_run = 0;
    CU_ASSERT(spill_reap(root, &o, &real) == SPILL_OK);
    spill__sys.lock_probe = spill__sys_default.lock_probe;
    CU_ASSERT(dry.errors == 1 && real.errors == 1 && dry.unsafe == 0 && dry.reaped == 0);
    CU_ASSERT(tu_exists(orphan));
    /* with the lock call working, the dry run says what the real run then does */
    o.dry_run = 1;
    CU_ASSERT(spill_reap(root, &o, &dry) == SPILL_OK);
    CU_ASSERT(dry.reaped == 1 && dry.files_removed == 2 && tu_exists(orphan));
    o.dry_run = 0;
    CU_ASSERT(spill_reap(root, &o, &real) == SPILL_OK);
    CU_ASSERT(real.reaped == 1 && real.files_removed == dry.files_removed &&
              real.bytes_freed == dry.bytes_freed && !tu_exists(orphan));
}

static void test_open_refuses_dry_run(void)
{
    const char *root = tu_fresh_dir("api-open-dry");
    spill_opts o;
    spill_t *s = (spill_t *)&o;
    spill_opts_init(&o);
    o.dry_run = 1;
    CU_ASSERT(spill_open(root, &o, &s) == SPILL_EINVAL);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* Tags: 255 bytes kept whole; 256 refused at open, not cut. */
static void test_tag_limit(void)
{
    const char *root = tu_fresh_dir("api-tag");
    char tag[257], *text;
    size_t len;
    spill__record rec;
    spill_opts o;
    spill_t *s;
    memset(tag, 'a', 256);
    tag[256] = '\0';
    spill_opts_init(&o);
    o.tag = tag;
    CU_ASSERT(spill_open(root, &o, &s) == SPILL_EINVAL);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
    tag[255] = '\0';
    tag[254] = 'z'; /* its last byte counts */
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    /* the record as a reaper in another process reads it (this process's own scan does not
     * open a live spill's .lock: rule 5's registry) */
    text = tu_read_file(tu_join(spill_path(s), ".lock"), &len);
    CU_ASSERT_FATAL(text != NULL);
    CU_ASSERT(spill__record_parse(text, len, &rec) == 1);
    CU_ASSERT_STRING_EQUAL(rec.tag, tag);
    spill_close(s);
}

static CU_TestInfo tests[] = {
    {"spill_opts_init writes only its version's fields", test_init_writes_only_its_version},
    {"version-1 opts are read as version 1", test_v1_opts_read_as_v1},
    {"stats are filled by their version", test_stats_by_version},
    {"SPILL_ERROR for version 2, SPILL_UNSAFE for version 1", test_error_state_by_version},
    {"the dry run counts judging errors as errors", test_dry_run_counts_judging_errors},
    {"spill_open refuses dry_run", test_open_refuses_dry_run},
    {"tags: 255 bytes whole, 256 refused", test_tag_limit},
    CU_TEST_INFO_NULL,
};

test_suite suite_api = {"api", tests};
