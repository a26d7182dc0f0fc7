/* test_found.c: regressions for what the reaper's fuzzer (fuzz/) found; each input that found a
 * bug is also kept in fuzz/corpus/found-*. */
#include <string.h>

#include "testutil.h"

/* A number in the owner record that does not fit its field made the line a version-1 record
 * (strtoull saturates), so a foreign .lock was reaped at once instead of after the grace. */
static void test_record_number_out_of_range_is_foreign(void)
{
    static const char *const bad[] = {
        "spill-owner 1 nonce=99999999999999999999 pid=1 host=h started=1 tag=t\n",
        "spill-owner 1 nonce=18446744073709551616 pid=1 host=h started=1 tag=t\n",
        "spill-owner 1 nonce=1 pid=9223372036854775808 host=h started=1 tag=t\n",
        "spill-owner 1 nonce=1 pid=-9223372036854775809 host=h started=1 tag=t\n",
        "spill-owner 1 nonce=1 pid=1 host=h started=99999999999999999999 tag=t\n",
    };
    const char *good = "spill-owner 1 nonce=18446744073709551615 pid=-1 host=h "
                       "started=9223372036854775807 tag=t\n";
    spill__record r;
    size_t i;
    for (i = 0; i < sizeof bad / sizeof *bad; i++)
        CU_ASSERT(spill__record_parse(bad[i], strlen(bad[i]), &r) == 0);
    CU_ASSERT_FATAL(spill__record_parse(good, strlen(good), &r) == 1);
    CU_ASSERT(r.nonce == UINT64_MAX && r.pid == -1 && r.started == INT64_MAX);
}

static void test_reaper_waits_for_out_of_range_record(void)
{
    const char *root = tu_fresh_dir("found");
    const char *d = tu_make_spill_dir(root, (uint64_t)spill__now(), 1, 1, "spill-owner 1 "
                                      "nonce=99999999999999999999 pid=1 host=h started=1 tag=t\n");
    spill_reap_stats st = tu_reap(root, 3600);
    CU_ASSERT(st.scanned == 1 && st.young == 1 && st.reaped == 0);
    CU_ASSERT(tu_exists(tu_join(d, "chunk000")));
}

static CU_TestInfo tests[] = {
    {"a record number out of range is foreign", test_record_number_out_of_range_is_foreign},
    {"the reaper waits out the grace for such a record",
     test_reaper_waits_for_out_of_range_record},
    CU_TEST_INFO_NULL,
};

test_suite suite_found = {"found", tests};
