// headertest.cpp: spill.h compiles and links from C++.
#include "spill.h"

int main()
{
    spill_opts o;
    spill_opts_init(&o);
    return o.version == SPILL_OPTS_VERSION && spill_version()[0] != '\0' ? 0 : 1;
}
