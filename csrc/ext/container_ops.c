/* The extras shim: one flat function per liblxc method, as in core.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "lxcpy_shim.h"
#include "core.decl.h"
#include "container_ops.decl.h"
#include "attach.decl.h"
#include "attach_int.h"

/* -- cgroups ---------------------------------------------------------- */

int lxcpy_get_cgroup_item(struct lxc_container *c, const char *key, char *buf, int len)
{
	return c->get_cgroup_item(c, key, buf, len);
}

bool lxcpy_set_cgroup_item(struct lxc_container *c, const char *key, const char *value)
{
	return c->set_cgroup_item(c, key, value);
}

/* -- network ---------------------------------------------------------- */

char **lxcpy_get_interfaces(struct lxc_container *c)
{
	return c->get_interfaces(c);
}

char **lxcpy_get_ips(struct lxc_container *c, const char *interface, const char *family,
		     int scope)
{
	return c->get_ips(c, interface, family, scope);
}

bool lxcpy_attach_interface(struct lxc_container *c, const char *dev, const char *dst)
{
	return c->attach_interface(c, dev, dst);
}

bool lxcpy_detach_interface(struct lxc_container *c, const char *dev, const char *dst)
{
	return c->detach_interface(c, dev, dst);
}

/* -- devices and mounts -------------------------------------------------- */

bool lxcpy_add_device_node(struct lxc_container *c, const char *src, const char *dst)
{
	return c->add_device_node(c, src, dst);
}

bool lxcpy_remove_device_node(struct lxc_container *c, const char *src, const char *dst)
{
	return c->remove_device_node(c, src, dst);
}

int lxcpy_mount(struct lxc_container *c, const char *source, const char *target,
		const char *fstype, unsigned long flags, const char *data)
{
#if LXCPY_HAS_MOUNT_API
	struct lxc_mount mnt = { .version = LXC_MOUNT_API_V1 };

	if (!lxc_has_api_extension("mount_injection"))
		return -ENOSYS;
	int ret = c->mount(c, source, target, fstype, flags, data, &mnt);

	/* -EINVAL: no shmounts directory configured; -1: a failure logged. */
	return ret < 0 ? (ret == -EINVAL ? ret : -1) : 0;
#else
	return -ENOSYS;
#endif
}

/* liblxc's umount returns 0, or nonzero (not always negative) on failure. */
int lxcpy_umount(struct lxc_container *c, const char *target, unsigned long flags)
{
#if LXCPY_HAS_MOUNT_API
	struct lxc_mount mnt = { .version = LXC_MOUNT_API_V1 };

	if (!lxc_has_api_extension("mount_injection"))
		return -ENOSYS;
	return c->umount(c, target, flags, &mnt) != 0 ? -1 : 0;
#else
	return -ENOSYS;
#endif
}

/* -- console ----------------------------------------------------------- */

int lxcpy_console_getfd(struct lxc_container *c, int *ttynum, int *ptxfd)
{
	int fd;

	*ptxfd = -1;
	fd = c->console_getfd(c, ttynum, ptxfd);
	if (fd < 0) {
		if (*ptxfd >= 0)
			close(*ptxfd);
		*ptxfd = -1;
		return -1;
	}
	return fd;
}

int lxcpy_console_log(struct lxc_container *c, bool clear, bool read, uint64_t *len,
		      char **data)
{
#if LXCPY_HAS_CONSOLE_LOG
	struct lxc_console_log log = {
		.clear = clear,
		.read = read,
		.read_max = len,
		.data = NULL,
	};
	int ret;

	*data = NULL;
	if (!lxc_has_api_extension("console_log"))
		return -ENOSYS;
	ret = c->console_log(c, &log);
	if (ret < 0)
		return ret;
	if (read)
		*data = log.data;
	else
		free(log.data);
	return 0;
#else
	*data = NULL;
	return -ENOSYS;
#endif
}

/* -- snapshots ----------------------------------------------------------- */

int lxcpy_snapshot(struct lxc_container *c, const char *commentfile)
{
	return c->snapshot(c, commentfile);
}

int lxcpy_snapshot_list(struct lxc_container *c, struct lxc_snapshot **out)
{
	*out = NULL;
	return c->snapshot_list(c, out);
}

const char *lxcpy_snapshot_field(struct lxc_snapshot *s, int i, int field)
{
	switch (field) {
	case LXCPY_SNAP_NAME:
		return s[i].name;
	case LXCPY_SNAP_COMMENT:
		return s[i].comment_pathname;
	case LXCPY_SNAP_TIMESTAMP:
		return s[i].timestamp;
	case LXCPY_SNAP_LXCPATH:
		return s[i].lxcpath;
	}
	return NULL;
}

void lxcpy_snapshots_free(struct lxc_snapshot *s, int n)
{
	if (!s)
		return;
	for (int i = 0; i < n; i++)
		if (s[i].free)
			s[i].free(&s[i]);
	free(s);
}

bool lxcpy_snapshot_restore(struct lxc_container *c, const char *name, const char *newname)
{
	return c->snapshot_restore(c, name, newname);
}

bool lxcpy_snapshot_destroy(struct lxc_container *c, const char *name)
{
	return c->snapshot_destroy(c, name);
}

bool lxcpy_snapshot_destroy_all(struct lxc_container *c)
{
	return c->snapshot_destroy_all(c);
}

/* -- checkpoint/restore ---------------------------------------------------- */

bool lxcpy_checkpoint(struct lxc_container *c, const char *directory, bool stop, bool verbose)
{
	return c->checkpoint(c, (char *)directory, stop, verbose);
}

/* liblxc's restore forks the container's monitor as a child of the caller
 * and returns; done here, that monitor is the grandchild, reparented when
 * the short-lived child exits, so the caller never owns a zombie. */
int lxcpy_restore(struct lxc_container *c, const char *directory, bool verbose)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(c->restore(c, (char *)directory, verbose) ? 0 : 1);
	return lxcpy_wait_child(pid);
}

/* -- file descriptors and misc ----------------------------------------------- */

static int fd_or_errno(int fd)
{
	if (fd >= 0)
		return fd;
	if (fd < -1)
		return fd;
	return errno > 0 ? -errno : -EBADF;
}

int lxcpy_init_pidfd(struct lxc_container *c)
{
#if LXCPY_HAS_PIDFD
	int fd;

	lxcpy_attach_fds_hold(c);
	errno = 0;
	fd = fd_or_errno(c->init_pidfd(c));
	lxcpy_attach_fds_release();
	return fd;
#else
	return -ENOSYS;
#endif
}

int lxcpy_devpts_fd(struct lxc_container *c)
{
#if LXCPY_HAS_DEVPTS_FD
	if (!lxc_has_api_extension("devpts_fd"))
		return -ENOSYS;
	errno = 0;
	return fd_or_errno(c->devpts_fd(c));
#else
	return -ENOSYS;
#endif
}

int lxcpy_seccomp_notify_fd_active(struct lxc_container *c)
{
#if LXCPY_HAS_SECCOMP_NOTIFY
	if (!lxc_has_api_extension("seccomp_notify_fd_active"))
		return -ENOSYS;
	errno = 0;
	return fd_or_errno(c->seccomp_notify_fd_active(c));
#else
	return -ENOSYS;
#endif
}

bool lxcpy_may_control(struct lxc_container *c)
{
	return c->may_control(c);
}
