/* dir_fd.c: letting go of a directory descriptor that may hold the host cleaners' flock. */
#include "spill_int.h"

/* Rule 13's trap, handled here once: the flock goes with LOCK_UN before the close, never with
 * the close alone. A child forked meanwhile shares the open file description, and a close only
 * drops our reference: the directory would stay locked (systemd-tmpfiles skipping it, another
 * reaper's LOCK_EX refused) for as long as that child lives. LOCK_UN reaches every copy. */
void spill__dir_fd_close(spill__fd *fd)
{
    if (*fd == SPILL__NOFD)
        return;
    spill__sys.dir_lock(*fd, SPILL__DLOCK_UN);
    spill__sys.close(*fd);
    *fd = SPILL__NOFD;
}
