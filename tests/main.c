/* main.c: the test runner, which is also its own helper process (`--helper NAME args`).
 * `spill_tests` runs every suite; `spill_tests SUITE...` runs the named ones. CUnit's basic
 * runner returns success even when tests fail, so the exit status counts failures itself. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <apr_general.h>

#include "testutil.h"

/* One suite per line, so that adding one touches one line here. */
extern test_suite suite_basic, suite_lock, suite_walk, suite_reap, suite_kill, suite_create,
    suite_cli, suite_found, suite_threads, suite_api, suite_order, suite_budget, suite_adopt,
    suite_journal, suite_trash;
extern test_suite suite_background, suite_progress;
#ifdef _WIN32
extern test_suite suite_win32, suite_win32owner;
#else
/* fork(), POSIX modes and owners, fcntl/flock traps, fault injection, PATH_MAX */
extern test_suite suite_fork, suite_root, suite_backend, suite_faults, suite_long,
    suite_parallel, suite_forkstorm, suite_citizen, suite_big;
extern test_suite suite_answers; /* what spill_adopt's answers mean, against other processes */
#endif
#ifdef __linux__
extern test_suite suite_deadmount; /* FUSE, mount namespaces */
extern test_suite suite_hostile;   /* a million planted entries (SPILL_TEST_HOSTILE=1) */
extern test_suite suite_reserve;   /* reservations on small tmpfs mounts */
#endif
extern const test_helper test_helpers[];

static test_suite *suites[] = {
    &suite_basic,
    &suite_lock,
    &suite_walk,
    &suite_reap,
    &suite_kill,
    &suite_create,
    &suite_cli,
    &suite_found,
    &suite_threads,
    &suite_api,
    &suite_order,
    &suite_budget,
    &suite_trash,
    &suite_background,
    &suite_progress,
    &suite_adopt,
    &suite_journal,
#ifdef _WIN32
    &suite_win32,
    &suite_win32owner,
#else
    &suite_fork,
    &suite_root,
    &suite_backend,
    &suite_faults,
    &suite_long,
    &suite_parallel,
    &suite_forkstorm,
    &suite_citizen,
    &suite_big,
    &suite_answers,
#endif
#ifdef __linux__
    &suite_deadmount,
    &suite_hostile,
    &suite_reserve,
#endif
    NULL};

static int run_helper(int argc, const char *const *argv)
{
    const test_helper *h;
    for (h = test_helpers; h->name; h++)
        if (strcmp(h->name, argv[0]) == 0)
            return h->run(argc - 1, argv + 1);
    fprintf(stderr, "no helper named %s\n", argv[0]);
    return 2;
}

int main(int argc, char **argv)
{
    unsigned failed;
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    tu_self = argv[0];
    if (argc >= 3 && strcmp(argv[1], "--helper") == 0)
        return run_helper(argc - 2, (const char *const *)argv + 2);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (tu_register_suites(suites, argc, argv) == 0) {
        fprintf(stderr, "no such suite\n");
        CU_cleanup_registry();
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0); /* a test that hangs shows which one it is */
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
    CU_cleanup_registry();
    tu_cleanup();
    return failed ? 1 : 0;
}
