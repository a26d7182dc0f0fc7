/* headertest.c: spill.h compiles alone as strict C99 (built with -std=c99 -pedantic -Werror). */
#include "spill.h"

int main(void)
{
    spill_opts o;
    spill_opts_init(&o);
    return o.version == SPILL_OPTS_VERSION ? 0 : 1;
}
