/* check.h: what the old clients (client01.c, client02.c) share: CHECK, which names the client,
 * the failed condition and the library's last error, and exits 1. Each client defines CLIENT
 * before including it and is compiled against its own release's spill.h. */
#ifndef SPILL_ABI_CHECK_H
#define SPILL_ABI_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s: %s failed (line %d): %s\n", CLIENT, #cond, __LINE__,     \
                    spill_error_last()->message);                                         \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

#endif
