/* The core shim: handles, state, configuration and the lifecycle. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lxcpy_shim.h"
#include "core.decl.h"

void lxcpy_free(void *p)
{
	free(p);
}

void lxcpy_free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int lxcpy_wait_child(pid_t pid)
{
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, 0);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

const char *lxcpy_version(void)
{
	return lxc_get_version();
}

bool lxcpy_has_api_extension(const char *name)
{
	return lxc_has_api_extension(name);
}

bool lxcpy_config_item_supported(const char *key)
{
	return lxc_config_item_is_supported(key);
}

const char *lxcpy_global_config_item(const char *key)
{
	return lxc_get_global_config_item(key);
}

/* Route liblxc's log lines to each container's own log fd (armed with
 * lxcpy_log_attach) at the given level, and never to stderr. */
int lxcpy_log_setup(const char *level)
{
	struct lxc_log log = {
		.name = NULL,
		.lxcpath = NULL,
		.file = "none",
		.level = level,
		.prefix = "lxcpy",
		.quiet = true,
	};
	return lxc_log_init(&log);
}

/* Returns the number of names (a NULL-terminated array the caller frees
 * with lxcpy_free_strv), or -1. */
int lxcpy_list(const char *lxcpath, int which, char ***names)
{
	char **raw = NULL, **out;
	int n;

	*names = NULL;
	if (which == (LXCPY_LIST_DEFINED | LXCPY_LIST_ACTIVE))
		n = list_all_containers(lxcpath, &raw, NULL);
	else if (which == LXCPY_LIST_ACTIVE)
		n = list_active_containers(lxcpath, &raw, NULL);
	else
		n = list_defined_containers(lxcpath, &raw, NULL);
	if (n < 0)
		return -1;
	out = calloc((size_t)n + 1, sizeof(char *));
	if (!out) {
		for (int i = 0; i < n; i++)
			free(raw[i]);
		free(raw);
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < n; i++)
		out[i] = raw[i];
	free(raw);
	*names = out;
	return n;
}

/* Take ownership of one reference to c and give it a log memfd.
 * Returns NULL (errno set) on failure, having put c. */
struct lxcpy_handle *lxcpy_handle_wrap(struct lxc_container *c)
{
	struct lxcpy_handle *h;
	int saved;

	if (!c)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		goto fail;
	h->c = c;
	h->logfd = memfd_create("lxcpy-log", MFD_CLOEXEC);
	if (h->logfd < 0)
		goto fail;
	{
		/* Held for as long as the memfd is open here (or in a fork):
		 * lxcpy-helper drops the handle it keeps for this one once the
		 * lock is gone (see attach_handle in csrc/helper/main.c). */
		struct flock alive = {.l_type = F_RDLCK, .l_whence = SEEK_SET};

		fcntl(h->logfd, F_OFD_SETLK, &alive);
	}
	if (lxcpy_log_attach(h) < 0)
		goto fail;
	return h;

fail:
	saved = errno ? errno : ENOMEM;
	if (h && h->logfd >= 0)
		close(h->logfd);
	free(h);
	lxc_container_put(c);
	errno = saved;
	return NULL;
}

struct lxcpy_handle *lxcpy_handle_new(const char *name, const char *lxcpath)
{
	struct lxc_container *c;

	errno = 0;
	c = lxc_container_new(name, lxcpath);
	if (!c) {
		if (!errno)
			errno = EINVAL;
		return NULL;
	}
	return lxcpy_handle_wrap(c);
}

void lxcpy_handle_free(struct lxcpy_handle *h)
{
	if (!h)
		return;
	lxc_container_put(h->c);
	if (h->logfd >= 0)
		close(h->logfd);
	free(h);
}

/* Make liblxc write this container's log lines to the handle's memfd,
 * without leaving a lxc.log.file line in the configuration that
 * save_config() would write: setting the key opens the file as the
 * container's log fd, clearing it forgets the path and the config line but
 * keeps the fd open. Called again whenever liblxc dropped its config.
 * A container whose own config names a log file keeps it. */
int lxcpy_log_attach(struct lxcpy_handle *h)
{
	struct lxc_container *c = h->c;
	char path[64];

	if (c->get_config_item(c, "lxc.log.file", NULL, 0) > 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", h->logfd);
	if (!c->set_config_item(c, "lxc.log.file", path))
		return -1;
	if (!c->set_config_item(c, "lxc.log.file", ""))
		return -1;
	return 0;
}

const char *lxcpy_error_string(struct lxc_container *c)
{
	return c->error_string;
}

int lxcpy_error_num(struct lxc_container *c)
{
	return c->error_num;
}

bool lxcpy_is_defined(struct lxc_container *c)
{
	return c->is_defined(c);
}

bool lxcpy_is_running(struct lxc_container *c)
{
	return c->is_running(c);
}

const char *lxcpy_state(struct lxc_container *c)
{
	return c->state(c);
}

int lxcpy_init_pid(struct lxc_container *c)
{
	return c->init_pid(c);
}

char *lxcpy_config_file_name(struct lxc_container *c)
{
	return c->config_file_name(c);
}

bool lxcpy_load_config(struct lxc_container *c, const char *alt_file)
{
	return c->load_config(c, alt_file);
}

bool lxcpy_save_config(struct lxc_container *c, const char *alt_file)
{
	return c->save_config(c, alt_file);
}

void lxcpy_clear_config(struct lxc_container *c)
{
	c->clear_config(c);
}

bool lxcpy_set_config_item(struct lxc_container *c, const char *key, const char *value)
{
	return c->set_config_item(c, key, value);
}

bool lxcpy_clear_config_item(struct lxc_container *c, const char *key)
{
	return c->clear_config_item(c, key);
}

int lxcpy_get_config_item(struct lxc_container *c, const char *key, char *buf, int len)
{
	return c->get_config_item(c, key, buf, len);
}

char *lxcpy_get_running_config_item(struct lxc_container *c, const char *key)
{
	return c->get_running_config_item(c, key);
}

int lxcpy_get_keys(struct lxc_container *c, const char *prefix, char *buf, int len)
{
	return c->get_keys(c, prefix, buf, len);
}

/* A child in a process group of its own, so that the caller can kill it
 * with everything it started that stayed in its group (a template and its
 * processes; liblxc's monitor leaves it with setsid()). Both sides call
 * setpgid(), so the group exists as soon as either returns. */
static pid_t fork_own_group(void)
{
	pid_t pid = fork();

	if (pid == 0)
		setpgid(0, 0);
	else if (pid > 0)
		setpgid(pid, pid);
	return pid;
}

/* Create from a child process, so that the template's stdout and stderr
 * can go to outfd without touching the caller's own fds 0-2 (which other
 * threads use). Returns 0 with the child's pid in *child (in its own
 * process group; its exit code is 0 on success), which the caller waits
 * for, or -errno. *child is set before returning, so that a caller
 * interrupted right after the call still knows what to kill. */
int lxcpy_create(struct lxc_container *c, const char *t, const char *bdevtype,
		 int flags, char **argv, int outfd, int *child)
{
	pid_t pid = fork_own_group();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (outfd >= 0) {
			dup2(outfd, STDOUT_FILENO);
			dup2(outfd, STDERR_FILENO);
		}
		_exit(c->create(c, t, bdevtype, NULL, flags, argv) ? 0 : 1);
	}
	*child = pid;
	return 0;
}

/* -- leaving the monitor cgroup after start ------------------------------
 *
 * liblxc (5.0.x) writes the process that calls start() into the
 * container's lxc.monitor.<name> cgroup in every hierarchy. lxcpy calls
 * start() only from short-lived processes, and those step back into the
 * cgroups they came from as soon as start() returns: after a successful
 * start the monitor cgroup is then empty, so liblxc removes it when the
 * container stops; after a failed one, liblxc's monitor may already have
 * tried (and failed, while we were inside) to remove it, so the process
 * removes it itself. */

#define CG_MAX 4096

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < size - 1 &&
	       (n = read(fd, buf + total, size - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

/* The mount point of the hierarchy whose /proc/self/cgroup line names
 * these controllers ("" for the unified one), or NULL. */
static const char *cgroup_mount(const char *mountinfo, const char *controllers,
				char *out, size_t size)
{
	const char *line = mountinfo;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char copy[1024], *fields[16], *sep, *save = NULL, *tok;
		int n = 0;

		if (len < sizeof(copy)) {
			memcpy(copy, line, len);
			copy[len] = '\0';
			sep = strstr(copy, " - ");
			if (sep) {
				*sep = '\0';
				for (tok = strtok_r(copy, " ", &save); tok && n < 16;
				     tok = strtok_r(NULL, " ", &save))
					fields[n++] = tok;
				char *fstype = strtok_r(sep + 3, " ", &save);
				char *source = strtok_r(NULL, " ", &save);
				char *opts = strtok_r(NULL, " ", &save);
				bool match = false;

				(void)source;
				if (n >= 5 && fstype && controllers[0] == '\0')
					match = strcmp(fstype, "cgroup2") == 0;
				else if (n >= 5 && fstype && opts && strcmp(fstype, "cgroup") == 0) {
					/* every controller of the line is a mount option */
					char want[256], *w, *wsave = NULL;

					snprintf(want, sizeof(want), "%s", controllers);
					match = true;
					for (w = strtok_r(want, ",", &wsave); w; w = strtok_r(NULL, ",", &wsave)) {
						char o[1024], *p, *osave = NULL;
						bool found = false;

						snprintf(o, sizeof(o), "%s", opts);
						for (p = strtok_r(o, ",", &osave); p; p = strtok_r(NULL, ",", &osave))
							if (strcmp(p, w) == 0)
								found = true;
						match = match && found;
					}
				}
				if (match) {
					snprintf(out, size, "%s", fields[4]);
					return out;
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

/* Find the line of hierarchy `id` in a /proc/self/cgroup text. */
static bool cgroup_line(const char *text, const char *id, char *controllers, size_t csize,
			char *path, size_t psize)
{
	const char *line = text;
	size_t idlen = strlen(id);

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > idlen && strncmp(line, id, idlen) == 0 && line[idlen] == ':') {
			const char *c = line + idlen + 1, *colon = memchr(c, ':', len - idlen - 1);

			if (!colon)
				return false;
			snprintf(controllers, csize, "%.*s", (int)(colon - c), c);
			snprintf(path, psize, "%.*s", (int)(line + len - colon - 1), colon + 1);
			return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

static void leave_monitor_cgroups(const char *before, bool remove)
{
	static char after[CG_MAX], mountinfo[1 << 16];
	const char *line;

	if (read_small("/proc/self/cgroup", after, sizeof(after)) <= 0)
		return;
	if (read_small("/proc/self/mountinfo", mountinfo, sizeof(mountinfo)) <= 0)
		return;
	for (line = after; line && *line;) {
		const char *end = strchr(line, '\n'), *colon = strchr(line, ':');
		char id[32], ctl[256], now[1024], ctl0[256], was[1024], mnt[1024], file[2200];

		if (!colon || (size_t)(colon - line) >= sizeof(id))
			break;
		snprintf(id, sizeof(id), "%.*s", (int)(colon - line), line);
		if (cgroup_line(after, id, ctl, sizeof(ctl), now, sizeof(now)) &&
		    cgroup_line(before, id, ctl0, sizeof(ctl0), was, sizeof(was)) &&
		    strcmp(now, was) != 0 && strstr(now, "lxc.monitor.") &&
		    cgroup_mount(mountinfo, ctl, mnt, sizeof(mnt))) {
			int fd;

			snprintf(file, sizeof(file), "%s%s/cgroup.procs", mnt, was);
			fd = open(file, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (write(fd, "0", 1) == 1 && remove) {
					snprintf(file, sizeof(file), "%s%s", mnt, now);
					rmdir(file);
				}
				close(fd);
			}
		}
		line = end ? end + 1 : NULL;
	}
}

bool lxcpy_start_here(struct lxc_container *c, int useinit, char **argv)
{
	static char before[CG_MAX];
	bool ok;

	if (read_small("/proc/self/cgroup", before, sizeof(before)) <= 0)
		before[0] = '\0';
	c->want_daemonize(c, true);
	ok = c->start(c, useinit, argv);
	if (before[0])
		leave_monitor_cgroups(before, !ok);
	return ok;
}

/* Start from a child process (see lxcpy_start_here): the caller never
 * enters the monitor cgroup. Returns 0 with the child's pid in *child (as
 * lxcpy_create), or -errno. */
int lxcpy_start(struct lxc_container *c, int useinit, char **argv, int *child)
{
	pid_t pid = fork_own_group();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(lxcpy_start_here(c, useinit, argv) ? 0 : 1);
	*child = pid;
	return 0;
}

bool lxcpy_stop(struct lxc_container *c)
{
	return c->stop(c);
}

bool lxcpy_shutdown(struct lxc_container *c, int timeout)
{
	return c->shutdown(c, timeout);
}

/* 1 on success, 0 on failure, -ENOSYS where liblxc lacks reboot2. */
int lxcpy_reboot(struct lxc_container *c, int timeout)
{
#if LXCPY_VERSION_AT_LEAST(3, 0)
	return c->reboot2(c, timeout) ? 1 : 0;
#else
	if (timeout != 0)
		return -ENOSYS;
	return c->reboot(c) ? 1 : 0;
#endif
}

bool lxcpy_freeze(struct lxc_container *c)
{
	return c->freeze(c);
}

bool lxcpy_unfreeze(struct lxc_container *c)
{
	return c->unfreeze(c);
}

bool lxcpy_wait(struct lxc_container *c, const char *state, int timeout)
{
	return c->wait(c, state, timeout);
}

bool lxcpy_destroy(struct lxc_container *c, bool with_snapshots)
{
	if (with_snapshots)
		return c->destroy_with_snapshots(c);
	return c->destroy(c);
}

bool lxcpy_rename(struct lxc_container *c, const char *newname)
{
	return c->rename(c, newname);
}

struct lxc_container *lxcpy_clone(struct lxc_container *c, const char *newname,
				  const char *lxcpath, int flags, const char *bdevtype)
{
	return c->clone(c, newname, lxcpath, flags, bdevtype, NULL, 0, NULL);
}
