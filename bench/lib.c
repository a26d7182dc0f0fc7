/* lib.c (bench): the library a contender calls, as a table. By default this tree's, linked in.
 * With --baseline REF both this tree and REF (a git ref of this repository, 0.1.0 say) are built
 * as shared libraries the same way (ci/build.sh, this build's type) and loaded side by side, so
 * the judge, put, reap and reserve sections time both in one run, interleaved, and report
 * new/old. */
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <dlfcn.h>
#endif

#include <apr_strings.h>

#include "bench.h"

const bench_lib bench_linked = {
    "this tree", spill_version, (spill_opts_init), spill_opts_init_version, spill_open,
    spill_put, spill_count, spill_close, spill_reap, spill_scan,
};

#if defined(__linux__) && defined(RTLD_DEEPBIND)
/* Builds src (a directory) as a shared library in dir with ci/build.sh; its path, or NULL. */
static const char *build_shared(const bench_cfg *c, const char *src, const char *dir)
{
    const char *cmd = apr_psprintf(
        c->pool, "SPILL_BUILD_SOURCE='%s' SPILL_BUILD_TARGETS=spill bash '%s/ci/build.sh' '%s' "
        "-DCMAKE_BUILD_TYPE=%s -DBUILD_SHARED_LIBS=ON -DSPILL_BUILD_TESTS=OFF >'%s.log' 2>&1",
        src, SPILL_BENCH_SOURCE_DIR, dir, SPILL_BENCH_BUILD_TYPE, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "spill_bench: building %s failed: see %s.log\n", src, dir);
        return NULL;
    }
    return apr_pstrcat(c->pool, dir, "/libspill.so", NULL);
}

/* Each copy binds its own spill_ functions first (RTLD_DEEPBIND): two releases side by side. */
static int load(const bench_cfg *c, const char *path, const char *name, bench_lib *l)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
        fprintf(stderr, "spill_bench: %s\n", dlerror());
        return -1;
    }
    l->name = name;
    *(void **)&l->version = dlsym(h, "spill_version");
    *(void **)&l->opts_init = dlsym(h, "spill_opts_init");
    *(void **)&l->opts_init_version = dlsym(h, "spill_opts_init_version"); /* 0.2 on */
    *(void **)&l->open = dlsym(h, "spill_open");
    *(void **)&l->put = dlsym(h, "spill_put");
    *(void **)&l->count = dlsym(h, "spill_count");
    *(void **)&l->close = dlsym(h, "spill_close");
    *(void **)&l->reap = dlsym(h, "spill_reap");
    *(void **)&l->scan = dlsym(h, "spill_scan");
    (void)c;
    if (!l->version || !l->opts_init || !l->open || !l->put || !l->count || !l->close ||
        !l->reap || !l->scan) {
        fprintf(stderr, "spill_bench: %s lacks a function the benchmark calls\n", path);
        return -1;
    }
    return 0;
}

int bench_baseline(bench_cfg *c, const char *ref)
{
    static bench_lib libs[2];
    const char *base = apr_pstrcat(c->pool, c->dir, "/baseline", NULL);
    const char *src = apr_pstrcat(c->pool, base, "/src", NULL);
    const char *cmd = apr_psprintf(c->pool, "mkdir -p '%s' && git -C '%s' archive '%s' | "
                                   "tar -x -C '%s'", src, SPILL_BENCH_SOURCE_DIR, ref, src);
    const char *old, *now;
    fprintf(stderr, "spill_bench: building this tree and %s as shared libraries in %s\n", ref,
            base);
    if (system(cmd) != 0) {
        fprintf(stderr, "spill_bench: cannot take %s from the repository in %s\n", ref,
                SPILL_BENCH_SOURCE_DIR);
        return -1;
    }
    if (!(now = build_shared(c, SPILL_BENCH_SOURCE_DIR, apr_pstrcat(c->pool, base, "/this", NULL))) ||
        !(old = build_shared(c, src, apr_pstrcat(c->pool, base, "/old", NULL))) ||
        load(c, now, "this tree", &libs[0]) != 0 ||
        load(c, old, apr_pstrdup(c->pool, ref), &libs[1]) != 0)
        return -1;
    c->lib[0] = &libs[0];
    c->lib[1] = &libs[1];
    c->nlibs = 2;
    return 0;
}
#else
int bench_baseline(bench_cfg *c, const char *ref)
{
    (void)c;
    fprintf(stderr, "spill_bench: --baseline %s needs Linux (dlopen with RTLD_DEEPBIND)\n", ref);
    return -1;
}
#endif
