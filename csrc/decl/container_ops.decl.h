/* The extras shim: cgroups, network, devices, mounts, console, snapshots,
 * checkpoints and file descriptors. Read by cffi's cdef and by the C
 * compiler. Arrays liblxc returns are freed here or by the functions named
 * beside them; Python never sees a struct lxc_snapshot's fields. */
#ifndef LXCPY_EXTRA_DECL_H
#define LXCPY_EXTRA_DECL_H
#include <stdint.h>

/* Which liblxc methods this build can call (liblxc's headers decide). */
#define LXCPY_HAS_MOUNT_API LXCPY_VERSION_AT_LEAST(3, 1)
#define LXCPY_HAS_CONSOLE_LOG LXCPY_VERSION_AT_LEAST(3, 0)
#define LXCPY_HAS_PIDFD LXCPY_VERSION_AT_LEAST(4, 0)
#define LXCPY_HAS_DEVPTS_FD LXCPY_VERSION_AT_LEAST(5, 0)
#define LXCPY_HAS_SECCOMP_NOTIFY LXCPY_VERSION_AT_LEAST(5, 0)

#define LXCPY_SNAP_NAME 0
#define LXCPY_SNAP_COMMENT 1
#define LXCPY_SNAP_TIMESTAMP 2
#define LXCPY_SNAP_LXCPATH 3

/* cgroups: get follows the two-call sizing protocol of get_config_item. */
int lxcpy_get_cgroup_item(struct lxc_container *c, const char *key, char *buf, int len);
bool lxcpy_set_cgroup_item(struct lxc_container *c, const char *key, const char *value);

/* network: NULL-terminated arrays, freed with lxcpy_free_strv. */
char **lxcpy_get_interfaces(struct lxc_container *c);
char **lxcpy_get_ips(struct lxc_container *c, const char *interface, const char *family,
                     int scope);
bool lxcpy_attach_interface(struct lxc_container *c, const char *dev, const char *dst);
bool lxcpy_detach_interface(struct lxc_container *c, const char *dev, const char *dst);

/* devices and mounts (mount/umount: 0, -1 on failure, -ENOSYS without
 * the mount_injection API extension; mount: -EINVAL without a shmounts
 * directory in the container's config). */
bool lxcpy_add_device_node(struct lxc_container *c, const char *src, const char *dst);
bool lxcpy_remove_device_node(struct lxc_container *c, const char *src, const char *dst);
int lxcpy_mount(struct lxc_container *c, const char *source, const char *target,
                const char *fstype, unsigned long flags, const char *data);
int lxcpy_umount(struct lxc_container *c, const char *target, unsigned long flags);

/* console: getfd returns liblxc's socket fd that holds the tty's
 * reservation (or -1), the tty's pty master in *ptxfd and its number in
 * *ttynum; both fds are the caller's to close.
 * console_log returns 0 or -errno (-ENOSYS without the console_log API
 * extension); *data is malloc'ed (free with lxcpy_free) and *len bytes. */
int lxcpy_console_getfd(struct lxc_container *c, int *ttynum, int *ptxfd);
int lxcpy_console_log(struct lxc_container *c, bool clear, bool read, uint64_t *len,
                      char **data);

/* snapshots: list returns the count (or -1) and an opaque array read with
 * lxcpy_snapshot_field (0 name, 1 comment path, 2 timestamp, 3 lxcpath)
 * and released with lxcpy_snapshots_free (each snapshot's free + array). */
int lxcpy_snapshot(struct lxc_container *c, const char *commentfile);
int lxcpy_snapshot_list(struct lxc_container *c, struct lxc_snapshot **out);
const char *lxcpy_snapshot_field(struct lxc_snapshot *s, int i, int field);
void lxcpy_snapshots_free(struct lxc_snapshot *s, int n);
bool lxcpy_snapshot_restore(struct lxc_container *c, const char *name, const char *newname);
bool lxcpy_snapshot_destroy(struct lxc_container *c, const char *name);
bool lxcpy_snapshot_destroy_all(struct lxc_container *c);

/* checkpoint/restore (restore runs in a child process, like start, and
 * returns its exit code or -errno). */
bool lxcpy_checkpoint(struct lxc_container *c, const char *directory, bool stop, bool verbose);
int lxcpy_restore(struct lxc_container *c, const char *directory, bool verbose);

/* file descriptors: the fd, or -errno (-ENOSYS where liblxc lacks it). */
int lxcpy_init_pidfd(struct lxc_container *c);
int lxcpy_devpts_fd(struct lxc_container *c);
int lxcpy_seccomp_notify_fd_active(struct lxc_container *c);
bool lxcpy_may_control(struct lxc_container *c);

#endif
