/* lxcpy's C shim: one flat function per liblxc method lxcpy uses.
 *
 * Python never dereferences a struct lxc_container; it calls these.
 * Version and API-extension checks live here (LXCPY_HAS_*), with
 * ENOSYS fallbacks.
 */
#ifndef LXCPY_SHIM_H
#define LXCPY_SHIM_H

#include <stdbool.h>
#include <sys/types.h>
#include <lxc/lxccontainer.h>
#include <lxc/version.h>

#define LXCPY_VERSION_AT_LEAST(maj, min) \
	(LXC_VERSION_MAJOR > (maj) || (LXC_VERSION_MAJOR == (maj) && LXC_VERSION_MINOR >= (min)))

/* Which containers lxcpy_list() lists (bits). */
#define LXCPY_LIST_DEFINED 1
#define LXCPY_LIST_ACTIVE 2

/* Wait for a child of ours; returns its exit code, 128 + signal if a
 * signal killed it, or -errno. Retries on EINTR. */
int lxcpy_wait_child(pid_t pid);

/* Call c->start() (daemonized) in this short-lived process, then step back
 * into the cgroups it was in, removing liblxc's monitor cgroup after a
 * failed start. Never call it from the caller's own process. */
bool lxcpy_start_here(struct lxc_container *c, int useinit, char **argv);

#endif
