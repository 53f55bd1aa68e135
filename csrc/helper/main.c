/* lxcpy-helper: a small process that does lxcpy's fork-heavy liblxc work,
 * so that its cost does not depend on what the caller holds (its memory,
 * its open fds).
 *
 * lxcpy spawns it (posix_spawn) as `lxcpy-helper VERSION LOGLEVEL`, with
 * one end of a SOCK_SEQPACKET socketpair as fd 3, the control socket, and
 * /dev/null on fds 0-2. Its first message there is a HELLO with its
 * protocol version (wire.h); when VERSION, the one its caller expects,
 * is another, that HELLO refuses and it exits. It serves only that
 * socket, and exits when it reaches EOF: when every copy of the caller's
 * end is closed, that is when the caller is gone.
 *
 * Each request (see wire.h) carries its own reply socket. Attaches go
 * to a pool of attach workers (pool.c): the loop never attaches itself.
 * The helper forks one worker per start or create request, which leads a process
 * group of its own, dies with the helper (PR_SET_PDEATHSIG), first sends
 * STARTED (its pid and a pidfd) and then does the liblxc work and
 * _exit()s with the result. The helper reaps its workers, and only them
 * (liblxc waits for its own intermediate children), kills what a worker
 * left in its group before reaping it, and sends each exact wait status
 * (DONE) on the request's reply socket. A caller that shuts its end of
 * that socket down (an interrupted call) makes the helper kill the
 * worker's group at once. The event loop polls the control socket, a
 * signalfd for SIGCHLD, the workers' reply sockets and the attach pool's
 * sockets; nothing runs in a signal handler. It is single-threaded, so
 * that once it is killed it is gone at once, control socket and all.
 *
 * Every request is checked (framing, version, the table's checks of each
 * field and fd: wire.c) and answered -EINVAL when malformed, -EPROTO
 * when of another protocol version; a request without a usable reply
 * socket is dropped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lxcpy_shim.h"
#include "attach.decl.h"
#include "attach_int.h"
#include "core.decl.h"
#include "wire.decl.h"
#include "wire.h"
#include "pool.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

extern char **environ;

#define CTL_FD 3
#define MAX_CHILDREN 4096

struct child {
	pid_t pid;
	int reply;
	int worker;  /* a start/create worker: the leader of its own group */
	int watched; /* its reply socket is polled for the caller's cancel */
};

static struct child *children;
static size_t nchildren;

/* -- fds ------------------------------------------------------------------- */

void close_from(int lowfd)
{
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		for (int fd = lowfd; fd < 65536; fd++)
			close(fd);
		return;
	}
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd >= lowfd && fd != self)
			close(fd);
	}
	closedir(d);
}

static void close_range_between(int lo, int hi)
{
	if (lo > hi)
		return;
	if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) == 0)
		return;
	for (int fd = lo; fd <= hi; fd++)
		close(fd);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Close every fd >= 3 but those in keep (n <= LXCPY_WIRE_MAX_FDS). */
static void close_except(const int *keep, int n)
{
	int sorted[LXCPY_WIRE_MAX_FDS];
	int lo = 3;

	memcpy(sorted, keep, (size_t)n * sizeof(int));
	qsort(sorted, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++) {
		if (sorted[i] < lo)
			continue;
		close_range_between(lo, sorted[i] - 1);
		lo = sorted[i] + 1;
	}
	close_from(lo);
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int is_seqpacket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return 0;
	return type == SOCK_SEQPACKET;
}

static void reply_fd(int fd, int err, int kind, int status, int pid, int passfd)
{
	struct lxcpy_reply r = {.err = err, .kind = kind, .status = status, .pid = pid};

	/* The caller may have gone (an interrupted call): nothing to do then. */
	lxcpy_send_reply(fd, &r, passfd);
}

static void reply(int fd, int err, int kind, int status, int pid)
{
	reply_fd(fd, err, kind, status, pid, -1);
}

/* -- the caller's umask and resource limits ------------------------------------
 *
 * In-process, what liblxc forks inherits the caller's umask and resource
 * limits as they are at the time of the call. The helper was spawned with
 * them as they were then: before each request it takes the caller's
 * current ones (its parent's: /proc/<pid>/status and prlimit()), so that
 * attached processes and workers start as they would in-process; so does
 * each attach worker (pool.c), whose parent is the helper. Not
 * RLIMIT_CPU and RLIMIT_RTTIME: they would count the helper's own time. */

static pid_t caller, helper_pid;
static struct rlimit limits[RLIM_NLIMITS];
static int limits_known[RLIM_NLIMITS];

static int status_fd = -1;
static pid_t status_owner;

/* The caller's /proc/<pid>/status is kept open by each process that
 * follows it, and read again at offset 0 (which regenerates it): opened
 * as the helper and each attach worker start, so that it is among the
 * fds they have from the start (an attach worker finds the helper's copy
 * closed). */
void follow_caller_open(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)caller);
	status_fd = open(path, O_RDONLY | O_CLOEXEC);
	status_owner = status_fd >= 0 ? getpid() : 0;
}

void follow_caller(void)
{
	char buf[4096], *p;
	ssize_t n;
	int fd;

	/* The caller is gone: its control socket is about to read EOF (in an
	 * attach worker: the helper is gone, or is about to go). */
	if (getppid() != caller && getppid() != helper_pid)
		return;
	if (status_owner != getpid())
		follow_caller_open(); /* it failed before: once more */
	fd = status_owner == getpid() ? status_fd : -1;
	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			p = strstr(buf, "\nUmask:");
			if (p)
				umask((mode_t)strtoul(p + 7, NULL, 8) & 0777);
		}
	}
	for (int r = 0; r < RLIM_NLIMITS; r++) {
		struct rlimit want;

		/* Limits on time used count the helper's own time, not its
		 * children's: those stay as the helper inherited them. */
		if (r == RLIMIT_CPU || r == RLIMIT_RTTIME)
			continue;
		if (prlimit(caller, r, NULL, &want) < 0)
			continue;
		if (limits_known[r] && limits[r].rlim_cur == want.rlim_cur &&
		    limits[r].rlim_max == want.rlim_max)
			continue;
		if (setrlimit(r, &want) == 0) {
			limits[r] = want;
			limits_known[r] = 1;
		}
	}
}

/* -- the workers -------------------------------------------------------------- */

/* In a worker: a handle with the caller's in-memory config (saved to
 * the config memfd) and liblxc's log going to the caller's log memfd. */
static struct lxc_container *worker_handle(const char *name, const char *lxcpath,
					   int configfd, int logfd)
{
	struct lxcpy_handle h = {.logfd = logfd};
	struct lxc_container *c;
	char path[64];

	c = lxc_container_new(name, lxcpath);
	if (!c)
		_exit(125);
	h.c = c;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", configfd);
	c->clear_config(c);
	if (!c->load_config(c, path))
		_exit(125);
	close(configfd);
	if (lxcpy_log_attach(&h) < 0)
		_exit(125);
	return c;
}

static void null_stdio(int out)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(out >= 0 ? out : null, STDOUT_FILENO);
		dup2(out >= 0 ? out : null, STDERR_FILENO);
		if (null > 2)
			close(null);
	}
}

static void worker_start(const struct lxcpy_request_START *r, const int *fds)
{
	struct lxc_container *c = worker_handle(r->name, r->lxcpath, fds[LXCPY_FD_START_CONFIG],
						fds[LXCPY_FD_START_LOG]);

	_exit(lxcpy_start_here(c, r->use_init, r->cmd) ? 0 : 1);
}

static void worker_create(const struct lxcpy_request_CREATE *r, const int *fds)
{
	struct lxc_container *c;

	null_stdio(fds[LXCPY_FD_CREATE_OUTPUT]);
	c = worker_handle(r->name, r->lxcpath, fds[LXCPY_FD_CREATE_CONFIG],
			  fds[LXCPY_FD_CREATE_LOG]);
	_exit(c->create(c, r->template, r->backend, NULL, r->flags, r->args) ? 0 : 1);
}

/* -- attach ----------------------------------------------------------------------
 *
 * Done in an attach worker (pool.c), never in the event loop: liblxc's
 * c->attach() returns once the attached process runs lxcpy's exec function
 * (about a millisecond), but first asks the container's monitor, which
 * may not answer. The attached process is cloned with CLONE_PARENT by
 * liblxc's transient process, so it is the worker's own child, which the
 * worker's reaper thread waits for. liblxc waits for the transient process
 * itself (waitpid on its pid: the worker never waits for a pid it does
 * not know). What follows runs in a worker, each with its own cache.
 *
 * Handles are kept between requests, one per caller handle (identified by
 * its log memfd, which the cached handle reopens as its log): the same
 * reuse, and the same configuration, as lxcpy's in-process attach. The
 * caller holds an OFD read lock on each memfd for as long as it has it
 * open (lxcpy_handle_wrap); the helper keeps its own open file on it (a
 * probe, never the caller's) and drops a cached handle once the lock is
 * gone: checked after every event, and each second while any is kept. */

#define MAX_HANDLES 32

struct cached {
	struct lxcpy_handle h;
	int probe;     /* our own open file on the caller's memfd, or -1 */
	int lockable;  /* the caller's lock was seen: its end can be told */
	dev_t dev;
	ino_t ino;
	char *name;
	char *lxcpath;
	unsigned long used;
};

static struct cached handles[MAX_HANDLES];
static unsigned long handle_clock;

static void cached_drop(struct cached *e)
{
	if (e->h.c)
		lxc_container_put(e->h.c);
	if (e->h.logfd >= 0)
		close(e->h.logfd);
	if (e->probe >= 0)
		close(e->probe);
	free(e->name);
	free(e->lxcpath);
	memset(e, 0, sizeof(*e));
	e->h.logfd = -1;
	e->probe = -1;
}

/* Whether the caller still has the memfd open: its lock is there. */
static int caller_holds(int probe)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(probe, F_OFD_GETLK, &fl) < 0)
		return 1; /* cannot tell: keep it */
	return fl.l_type != F_UNLCK;
}

/* Drop the cached handles whose caller handle is gone. Returns how many
 * are left that can be told so (the main loop then wakes up to check). */
int sweep_handles(void)
{
	int left = 0;

	for (int i = 0; i < MAX_HANDLES; i++) {
		struct cached *e = &handles[i];

		if (!e->h.c || !e->lockable)
			continue;
		if (caller_holds(e->probe))
			left++;
		else
			cached_drop(e);
	}
	return left;
}

/* The cached handle for (name, lxcpath, log memfd); *logfd is taken over
 * (set to -1) when a new handle keeps it. NULL with errno on failure. */
static struct lxc_container *attach_handle(const char *name, const char *lxcpath, int *logfd)
{
	struct cached *e, *lru = &handles[0];
	char path[64];
	struct stat st;

	if (fstat(*logfd, &st) < 0)
		return NULL;
	for (int i = 0; i < MAX_HANDLES; i++) {
		e = &handles[i];
		if (!e->h.c) {
			lru = e;
			continue;
		}
		if (e->dev == st.st_dev && e->ino == st.st_ino && !strcmp(e->name, name) &&
		    !strcmp(e->lxcpath, lxcpath)) {
			e->used = ++handle_clock;
			return e->h.c;
		}
		if (lru->h.c && e->used < lru->used)
			lru = e;
	}
	e = lru;
	cached_drop(e);
	errno = 0;
	e->h.c = lxc_container_new(name, lxcpath);
	e->name = strdup(name);
	e->lxcpath = strdup(lxcpath);
	if (!e->h.c || !e->name || !e->lxcpath) {
		int saved = errno ? errno : ENOMEM;
		cached_drop(e);
		errno = saved;
		return NULL;
	}
	e->h.logfd = *logfd;
	*logfd = -1;
	if (lxcpy_log_attach(&e->h) < 0) {
		int saved = errno ? errno : EIO;
		cached_drop(e);
		errno = saved;
		return NULL;
	}
	/* liblxc reopened the memfd for its log; the caller's open file is
	 * not kept (it would hold the caller's lock), a probe of our own is. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", e->h.logfd);
	e->probe = open(path, O_RDONLY | O_CLOEXEC);
	e->lockable = e->probe >= 0 && caller_holds(e->probe);
	if (e->lockable) {
		close(e->h.logfd);
		e->h.logfd = -1;
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->used = ++handle_clock;
	return e->h.c;
}

static int add_child(pid_t pid, int replyfd, int worker);

/* In an attach worker (pool.c): one ATTACH request, answered on fds[0]. */
void serve_attach(const struct lxcpy_request_ATTACH *r, int *fds)
{
	struct lxcpy_attach_args a;
	struct lxc_container *c;
	char **saved_environ;
	int err, pid = -1, pidfd;

	lxcpy_attach_args_from(r, fds[LXCPY_FD_ATTACH_ERR], &a);
	if (!pool_room()) {
		pool_refuse(fds[0], -EAGAIN);
		return;
	}
	c = attach_handle(a.name, a.lxcpath, &fds[LXCPY_FD_ATTACH_LOG]);
	if (!c) {
		pool_refuse(fds[0], -(errno ? errno : EINVAL));
		return;
	}
	/* liblxc hands this process's environment to the attached process
	 * (what it keeps, or what clear_env keeps): the caller's. */
	saved_environ = environ;
	environ = a.environ;
	err = lxcpy_attach_run(c, &a.o, a.argv[0], a.argv, &pid);
	environ = saved_environ;
	/* The attached process has its copies; the error pipe's EOF must
	 * depend on it alone. */
	close(fds[LXCPY_FD_ATTACH_ERR]);
	fds[LXCPY_FD_ATTACH_ERR] = -1;
	if (err < 0) {
		pool_refuse(fds[0], err);
		return;
	}
	/* Our unreaped child: the pid cannot have been reused. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	pool_started(pid, pidfd, fds[0]);
	fds[0] = -1; /* kept until the attached process is reaped */
}

/* -- the loop ---------------------------------------------------------------- */

static int add_child(pid_t pid, int replyfd, int worker)
{
	if (nchildren == MAX_CHILDREN)
		return -EAGAIN;
	children[nchildren].pid = pid;
	children[nchildren].reply = replyfd;
	children[nchildren].worker = worker;
	children[nchildren].watched = worker;
	nchildren++;
	return 0;
}

/* Kill a worker's process group: the worker and what it started that
 * stayed in the group (a template, liblxc's intermediate processes).
 * Only while the worker is our unreaped child: its pid, hence the group
 * id, cannot have been reused. */
static void kill_worker_group(const struct child *ch)
{
	if (ch->worker)
		kill(-ch->pid, SIGKILL);
}

static void reap(void)
{
	for (size_t i = 0; i < nchildren;) {
		siginfo_t si;
		int status;
		pid_t r;

		/* A worker that exited: first what it left in its group. */
		si.si_pid = 0;
		if (children[i].worker &&
		    waitid(P_PID, (id_t)children[i].pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == children[i].pid)
			kill_worker_group(&children[i]);
		r = waitpid(children[i].pid, &status, WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		if (r < 0)
			reply(children[i].reply, -errno, LXCPY_REPLY_DONE, 0, children[i].pid);
		else
			reply(children[i].reply, 0, LXCPY_REPLY_DONE, status, children[i].pid);
		close(children[i].reply);
		children[i] = children[--nchildren];
	}
}

/* A request lxcpy_unpack_request() decoded and checked. */
static void serve(const struct lxcpy_request *r, int *fds, int nfds)
{
	sigset_t none;
	pid_t pid;

	if (r->op == LXCPY_OP_PING) {
		reply(fds[0], 0, LXCPY_REPLY_PONG, 0, getpid());
		return;
	}
	follow_caller();
	if (nchildren == MAX_CHILDREN) {
		reply(fds[0], -EAGAIN, 0, 0, 0);
		return;
	}
	pid = fork();
	if (pid < 0) {
		reply(fds[0], -errno, 0, 0, 0);
		return;
	}
	if (pid == 0) {
		/* The worker leads a process group of its own (the caller, or
		 * the helper when the caller cancels, kills it whole) and dies
		 * with the helper. Before any work it tells the caller its pid
		 * (the group's id) and sends a pidfd: whatever it starts, the
		 * caller knows which group to kill. */
		pid_t self = getpid();
		int pidfd;

		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != helper_pid)
			_exit(125);
		pidfd = (int)syscall(SYS_pidfd_open, self, 0);
		if (lxcpy_send_reply(fds[0], &(struct lxcpy_reply){.kind = LXCPY_REPLY_STARTED,
								   .pid = self},
				      pidfd) < 0)
			_exit(125);
		if (pidfd >= 0)
			close(pidfd);
		/* The worker keeps only the request's fds (not the reply socket,
		 * nor the control socket or other requests' sockets), and
		 * liblxc gets SIGCHLD back. SIGPIPE stays ignored, as it is
		 * in a Python caller. */
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close_except(fds + 1, nfds - 1);
		if (r->op == LXCPY_OP_START)
			worker_start(&r->START, fds);
		else
			worker_create(&r->CREATE, fds);
		_exit(125);
	}
	setpgid(pid, pid); /* the group exists before anyone may kill it */
	add_child(pid, fds[0], 1);
	fds[0] = -1; /* kept until the worker is reaped */
}

/* The caller of a start or create shut its end of the request's socket
 * down (an interrupted call) or closed it: kill the worker's group. The
 * worker is reaped as usual, and DONE sent. */
static void cancel(struct child *ch)
{
	ch->watched = 0;
	kill_worker_group(ch);
}

static int handle_request(char *buf, int empty_is_eof)
{
	int fds[LXCPY_WIRE_MAX_FDS * 2];
	int nfds, bad, err;
	struct lxcpy_request req;
	ssize_t n;

	n = lxcpy_recv_request(CTL_FD, buf, MSG_DONTWAIT, fds, &nfds, &bad);
	if (n < 0)
		return (n == -EINTR || n == -EAGAIN) ? 0 : -1;
	if (n == 0 && nfds == 0 && empty_is_eof)
		return -1;
	if (nfds == 0)
		return 0; /* nobody to answer */
	if (!is_seqpacket(fds[0])) {
		close_all(fds, nfds);
		return 0;
	}
	err = bad ? -EINVAL : lxcpy_unpack_request(buf, (size_t)n, fds, nfds, &req);
	if (err) {
		reply(fds[0], err, 0, 0, 0);
	} else if (req.op == LXCPY_OP_ATTACH) {
		/* To an attach worker, which decodes it again (pool.c). */
		lxcpy_request_free(&req);
		pool_dispatch(buf, (size_t)n, fds, nfds);
	} else {
		serve(&req, fds, nfds);
		lxcpy_request_free(&req);
	}
	close_all(fds, nfds);
	return 0;
}

/* The first message on the control socket: this helper's protocol
 * version, and whether it serves (the caller expects this version). */
static int hello(const char *expected)
{
	uint32_t mine = lxcpy_wire_version();
	char *end = NULL;
	unsigned long want;
	struct lxcpy_reply r = {.kind = LXCPY_REPLY_HELLO, .status = (int32_t)mine,
				 .pid = getpid()};

	errno = 0;
	want = expected ? strtoul(expected, &end, 10) : 0;
	if (!expected || errno || end == expected || *end || want != mine)
		r.err = -EPROTO;
	if (lxcpy_send_reply(CTL_FD, &r, -1) < 0 || r.err) {
		fprintf(stderr, "lxcpy-helper: protocol version %s expected, this is %u\n",
			expected ? expected : "(none)", (unsigned)mine);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pollfd *pfd;
	struct child **polled;
	sigset_t mask;
	char *buf;
	int sfd;

	caller = getppid();
	helper_pid = getpid();
#ifdef LXCPY_SANITIZE
	/* A sanitizer build (LXCPY_SANITIZE=1): with ASan, UBSan writes its
	 * reports to stderr whatever its log_path says, and lxcpy gives us
	 * /dev/null; tests/sanitize/run.sh names a file for them then
	 * (workers inherit it). */
	{
		const char *log = getenv("LXCPY_SANITIZE_STDERR");
		struct stat err, null;
		int fd = -1;

		if (log && fstat(STDERR_FILENO, &err) == 0 && stat("/dev/null", &null) == 0 &&
		    S_ISCHR(err.st_mode) && err.st_rdev == null.st_rdev)
			fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
	}
#endif
	/* Nothing but 0-2 and the control socket. */
	close_from(CTL_FD + 1);
	follow_caller_open();
	if (!is_seqpacket(CTL_FD)) {
		fprintf(stderr, "lxcpy-helper: fd 3 is not lxcpy's control socket\n");
		return 2;
	}
	fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
	/* Pin no directory (a mount the caller wants to unmount). */
	if (chdir("/") < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	children = calloc(MAX_CHILDREN, sizeof(*children));
	pfd = calloc(MAX_CHILDREN + 2 + POOL_POLLFDS, sizeof(*pfd));
	polled = calloc(MAX_CHILDREN, sizeof(*polled));
	for (int i = 0; i < MAX_HANDLES; i++) {
		handles[i].h.logfd = -1;
		handles[i].probe = -1;
	}
	buf = malloc(LXCPY_WIRE_MAX_MSG);
	if (sfd < 0 || !children || !pfd || !polled || !buf) {
		fprintf(stderr, "lxcpy-helper: cannot set up: %s\n", strerror(errno));
		return 2;
	}
	lxcpy_log_setup(argc > 2 ? argv[2] : "ERROR");
	if (hello(argc > 1 ? argv[1] : NULL) < 0)
		return 2;
	if (pool_init() < 0) {
		fprintf(stderr, "lxcpy-helper: cannot set up: %s\n", strerror(errno));
		return 2;
	}

	pfd[0].fd = CTL_FD;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		nfds_t n = 2, pool_at;
		int npool;

		/* The reply sockets of workers: a caller's cancel reads as EOF. */
		for (size_t i = 0; i < nchildren; i++) {
			if (!children[i].watched)
				continue;
			polled[n - 2] = &children[i];
			pfd[n].fd = children[i].reply;
			pfd[n].events = POLLIN | POLLRDHUP;
			pfd[n].revents = 0;
			n++;
		}
		pool_at = n;
		npool = pool_pollfds(pfd + n, POOL_POLLFDS);
		n += (nfds_t)npool;
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (nfds_t k = 2; k < pool_at; k++)
			if (pfd[k].revents)
				cancel(polled[k - 2]);
		pool_events(pfd + pool_at, npool);
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			reap();
			pool_reap();
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			/* An empty message reads as 0 too: only POLLHUP means EOF. */
			int hup = (pfd[0].revents & (POLLHUP | POLLERR)) != 0;
			if (handle_request(buf, hup) < 0)
				break;
		}
	}
	/* The caller is gone: so are workers in flight (they die with the
	 * helper), and with them, here, what they started in their groups. */
	for (size_t i = 0; i < nchildren; i++)
		kill_worker_group(&children[i]);
	pool_shutdown();
	return 0;
}
