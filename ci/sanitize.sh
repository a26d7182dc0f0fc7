# ci/sanitize.sh: the whole suite under ASan+UBSan, under TSan, and under valgrind memcheck;
# sourced by ci/test.sh (uses its run_leg). Any report fails the leg. Suppressions are only for
# APR's one-time allocations, each explained in ci/{lsan,tsan,valgrind}.supp.

# Each runtime reads only its own variable, so they are set once for all legs. The helper
# processes the tests spawn are the same binary and are checked too (those killed with SIGKILL
# just never reach the leak check).
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$root/ci/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/ci/tsan.supp"

# Every suite runs, except `consumer` (the install tested by an outside project, in the plain
# leg): the instrumented libspill.a needs the sanitizer runtime on the consumer's own link line,
# and under memcheck its test process is cmake itself.
no_consumer='-E ^consumer$'

leg_ctest="$no_consumer" run_leg asan-ubsan -DSPILL_SANITIZE=address,undefined
leg_ctest="$no_consumer" run_leg tsan -DSPILL_SANITIZE=thread

# valgrind: ctest -T memcheck runs each suite's process under memcheck; an error, or a block
# definitely, indirectly or possibly lost at exit, makes valgrind exit 99 and fails that suite.
# (Blocks still reachable at exit are not leaks: the fork suite's child _exits holding its copy
# of CUnit's registry.) Helper processes the tests exec are not traced (--trace-children=no):
# they run the same code the suites run in-process, and tracing them would slow the kill and
# stress tests several times over. A fork()ed child (the fork suite) stays under memcheck.
if command -v valgrind >/dev/null 2>&1; then
    leg_ctest="-T memcheck $no_consumer" run_leg valgrind \
        "-DMEMORYCHECK_COMMAND_OPTIONS=--error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --num-callers=40 --trace-children=no" \
        "-DMEMORYCHECK_SUPPRESSIONS_FILE=$root/ci/valgrind.supp"
else
    echo "== leg: valgrind skipped: no valgrind for this OS"
fi
