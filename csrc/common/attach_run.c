/* The attach shim's C part: run a program attached to a running
 * container through liblxc's c->attach(), with no Python in the child.
 * Linked into the extension and into lxcpy-helper (no libpython here);
 * attach.c adds the Python callable variant on top.
 *
 * liblxc forks the caller twice: a transient process that enters the
 * container's namespaces, and the attached process (cloned with
 * CLONE_PARENT, so it is the caller's own child). The exec function below
 * runs in the attached process once liblxc has set it up.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lxcpy_shim.h"
#include "attach.decl.h"
#include "attach_int.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

char **lxcpy_environ(void)
{
	return environ;
}

/* -- the init pidfd leak -------------------------------------------------
 *
 * liblxc 5.0.2 (attach.c, get_attach_context) fetches the container init's
 * pidfd and probes setns(pidfd, CLONE_NEWTIME). The kernel refuses to
 * change time namespace in a multi-threaded process (EUSERS): liblxc then
 * closes the pidfd and attaches with per-namespace fds. In a
 * single-threaded caller the probe succeeds (and moves the caller's future
 * children into the container's time namespace), the pidfd is kept for the
 * transient child, and nothing closes the parent's copy: one fd leaks per
 * call. So lxcpy never calls liblxc's attach from a single-threaded
 * process: in-process, lxcpy._attach runs each attach in a thread of its
 * own while the caller's thread waits (which is also what lets a Ctrl-C
 * or a deadline through a monitor that does not answer), and
 * lxcpy-helper's attach workers keep a reaper thread for good.
 * An attach that fails leaks more: see "what a failed attach leaves". */

static int kept_threaded;
static int (*kept_fd)(int fd);

/* Open fds, sorted ascending (readdir of /proc/self/fd is in fd order). */
static int list_fds(int **out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, cap = 64, self;
	int *fds;

	*out = NULL;
	if (!d)
		return -1;
	self = dirfd(d);
	fds = malloc(cap * sizeof(int));
	if (!fds) {
		closedir(d);
		return -1;
	}
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd == self)
			continue;
		if (n == cap) {
			int *more = realloc(fds, (cap *= 2) * sizeof(int));
			if (!more) {
				free(fds);
				closedir(d);
				return -1;
			}
			fds = more;
		}
		fds[n++] = fd;
	}
	closedir(d);
	*out = fds;
	return n;
}

/* Whether fd is a pidfd (its fdinfo has a Pid: line), and the pid it
 * refers to in *pid (-1 once it exited, 0 when not in our namespace). */
static int pidfd_pid(int fd, pid_t *pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nPid:\t");
	if (!p)
		return 0;
	*pid = (pid_t)atoi(p + 6);
	return 1;
}

static int is_pidfd(int fd)
{
	pid_t pid;

	return pidfd_pid(fd, &pid);
}

/* A process whose attaches run with a second thread alive for good and
 * nothing else attaching at the same time (lxcpy-helper's attach workers)
 * says so once, with kept(fd), which tells the fds of those kinds it
 * holds itself: a failed attach's clean-up there closes every other
 * pidfd, procfs directory and namespace file (below), and no list is
 * taken before each attach; in-process, only those of the container's
 * own init that appeared during the call. */
void lxcpy_attach_always_threaded(int (*kept)(int fd))
{
	kept_threaded = 1;
	kept_fd = kept;
}

/* -- what a failed attach leaves open ----------------------------------------
 *
 * liblxc 5.0.2's attach leaks fds in the caller when it fails (a container
 * stopping meanwhile): its attach context's O_PATH fd on /proc/self is
 * closed only on the success path (put_attach_context never closes it),
 * the init's pidfd is left open when get_attach_context fails after
 * fetching it, and so on. lxcpy closes what appeared during a failed call
 * and is what liblxc's attach context opens:
 *
 * - In lxcpy-helper's attach workers (one attach each, the other thread
 *   their reaper, which opens nothing): every pidfd, procfs directory and
 *   namespace file but the worker's own pidfds, with no list taken before.
 * - In-process, where other threads open fds at any time: O_PATH procfs
 *   directories of this process and of the init, and pidfds of the init
 *   only (Python opens pidfds of its own); one attach per container at a
 *   time (the container's lock, below), since another attach's fds of the
 *   same kinds would look new, or reuse a number seen before. lxcpy opens
 *   its own pidfds of an init under the same lock. */

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* One lock per container (name, lxcpath), held around a clean-up's
 * window: attaches to one container run one at a time in-process, those
 * to different containers side by side (a monitor that does not answer
 * holds up its own container only). A clean-up closes only what is of
 * its own container (its init's pidfds and procfs directory) and this
 * process's procfs directory, which liblxc opens for every container:
 * that one only while no other attach is in flight (it could be that
 * attach's; then it is left, one fd). */
struct attach_key {
	char *name;
	char *lxcpath;
	int busy;
	int refs;
	pthread_cond_t free;
	struct attach_key *next;
};

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct attach_key *keys;
static int attaches_in_flight;
static pthread_once_t attach_fds_once = PTHREAD_ONCE_INIT;

static void attach_fds_init_child(void)
{
	/* A forked child has no attach in flight, whatever the parent had
	 * (the parent's entries are left to it: never freed here). */
	pthread_mutex_init(&keys_lock, NULL);
	keys = NULL;
	attaches_in_flight = 0;
}

static void attach_fds_init(void)
{
	pthread_atfork(NULL, NULL, attach_fds_init_child);
}

static struct attach_key *key_hold(struct lxc_container *c, int attach)
{
	const char *name = c->name ? c->name : "";
	const char *lxcpath = c->config_path ? c->config_path : "";
	struct attach_key *k;

	pthread_once(&attach_fds_once, attach_fds_init);
	pthread_mutex_lock(&keys_lock);
	for (k = keys; k; k = k->next)
		if (!strcmp(k->name, name) && !strcmp(k->lxcpath, lxcpath))
			break;
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (k) {
			k->name = strdup(name);
			k->lxcpath = strdup(lxcpath);
		}
		if (!k || !k->name || !k->lxcpath) {
			if (k) {
				free(k->name);
				free(k->lxcpath);
				free(k);
			}
			/* No memory: the first entry stands in (or none). */
			k = keys;
			if (!k) {
				pthread_mutex_unlock(&keys_lock);
				return NULL;
			}
		} else {
			pthread_cond_init(&k->free, NULL);
			k->next = keys;
			keys = k;
		}
	}
	k->refs++;
	while (k->busy)
		pthread_cond_wait(&k->free, &keys_lock);
	k->busy = 1;
	if (attach)
		attaches_in_flight++;
	pthread_mutex_unlock(&keys_lock);
	return k;
}

static void key_release(struct attach_key *k, int attach)
{
	if (!k)
		return;
	pthread_mutex_lock(&keys_lock);
	k->busy = 0;
	if (attach)
		attaches_in_flight--;
	if (--k->refs == 0) {
		struct attach_key **p = &keys;

		while (*p != k)
			p = &(*p)->next;
		*p = k->next;
		pthread_cond_destroy(&k->free);
		free(k->name);
		free(k->lxcpath);
		free(k);
	} else {
		pthread_cond_signal(&k->free);
	}
	pthread_mutex_unlock(&keys_lock);
}

static int only_attach_in_flight(void)
{
	int alone;

	pthread_mutex_lock(&keys_lock);
	alone = attaches_in_flight <= 1;
	pthread_mutex_unlock(&keys_lock);
	return alone;
}

static __thread struct attach_key *held_key;

void lxcpy_attach_fds_hold(struct lxc_container *c)
{
	/* Exclusive for this container: an attach to it under way would take
	 * such a pidfd for its own. */
	held_key = key_hold(c, 0);
}

void lxcpy_attach_fds_release(void)
{
	key_release(held_key, 0);
	held_key = NULL;
}

#ifndef ANON_INODE_FS_MAGIC
#define ANON_INODE_FS_MAGIC 0x09041934
#endif
#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446
#endif

/* What a clean-up closes: every pidfd, procfs directory and namespace
 * file (pidfds 1), or (pidfds 2) only O_PATH procfs directories and the
 * pidfds of one init: the same pidfs inode, or (no pidfs) the same pid. */
struct context_kind {
	int pidfds;
	int self_too;  /* pidfds 2: this process's procfs directory too */
	pid_t init;
	int pidfs;
	dev_t dev;
	ino_t ino;
};


/* The init's identity: the caller's fstat() of its pidfd of it (which
 * still names it once it is reaped; compared with pidfs pidfds only),
 * else a pidfd opened now. */
static void init_identity(struct context_kind *k, const struct lxcpy_attach_opts *o)
{
	struct statfs sf;
	struct stat st;
	int fd;

	k->init = o->init_pid;
	if (o->init_ino) {
		k->pidfs = 1;
		k->dev = (dev_t)o->init_dev;
		k->ino = (ino_t)o->init_ino;
		return;
	}
	if (o->init_pid <= 0)
		return;
	fd = (int)syscall(SYS_pidfd_open, o->init_pid, 0);
	if (fd < 0)
		return;
	if (fstatfs(fd, &sf) == 0 && sf.f_type == PID_FS_MAGIC && fstat(fd, &st) == 0) {
		k->pidfs = 1;
		k->dev = st.st_dev;
		k->ino = st.st_ino;
	}
	close(fd);
}

static int context_fd(int fd, const struct context_kind *k)
{
	struct statfs sf;
	struct stat st;

	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
		return 0;
	if (sf.f_type == NSFS_MAGIC)
		return k->pidfds == 1;
	if (sf.f_type == PROC_SUPER_MAGIC && S_ISDIR(st.st_mode)) {
		char path[64], link[64];
		ssize_t n;
		int pid;

		if (k->pidfds == 1)
			return 1;
		if (!(fcntl(fd, F_GETFL) & O_PATH))
			return 0;
		/* Only /proc/<this process> and /proc/<the init>: another
		 * container's attach opens its own. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			return 0;
		link[n] = '\0';
		if (sscanf(link, "/proc/%d", &pid) != 1)
			return 0;
		{
			char tail[64];
			snprintf(tail, sizeof(tail), "/proc/%d", pid);
			if (strcmp(tail, link))
				return 0;
		}
		return (k->self_too && pid == (int)getpid()) || (k->init > 0 && pid == k->init);
	}
	if (!k->pidfds || (sf.f_type != PID_FS_MAGIC && sf.f_type != ANON_INODE_FS_MAGIC) ||
	    !is_pidfd(fd))
		return 0;
	if (k->pidfds == 1)
		return 1;
	if (k->pidfs && sf.f_type == PID_FS_MAGIC)
		return st.st_dev == k->dev && st.st_ino == k->ino;
	pid_t pid;

	return k->init > 0 && pidfd_pid(fd, &pid) && pid == k->init;
}

struct open_fd {
	int fd;
	dev_t dev;
	ino_t ino;
};

/* The open fds of the kinds liblxc's attach context opens (k), in
 * increasing order, with what they are: taken before each attach; after a
 * failed one, close_new() closes those of the kinds open then that were
 * not before. Only those kinds, though listing every fd with one fstat()
 * would be cheaper: where another thread closes fds meanwhile (in-process;
 * in an attach worker, its reaper closing the pidfds of what it reaped),
 * and where a pidfd and an eventfd can be the same anonymous inode (no
 * pidfs before Linux 6.9), an fd that was not of those kinds before must
 * not pass for one that was (the VM, Linux 6.1, saw a worker keep
 * liblxc's pidfd so). The count, or -1. */
static int list_open_fds(struct open_fd **out, const struct context_kind *k)
{
	int *fds = NULL;
	int n = list_fds(&fds), m = 0;
	struct stat st;

	*out = NULL;
	if (n < 0)
		return -1;
	*out = malloc(((size_t)n + 1) * sizeof(**out));
	if (!*out) {
		free(fds);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!context_fd(fds[i], k) || fstat(fds[i], &st) < 0)
			continue;
		(*out)[m].fd = fds[i];
		(*out)[m].dev = st.st_dev;
		(*out)[m].ino = st.st_ino;
		m++;
	}
	free(fds);
	return m;
}

/* Close the fds of the kinds liblxc's attach context opens (k) that are
 * open now and were not (the same file) before. */
static void close_new(const struct open_fd *before, int nbefore, const struct context_kind *k)
{
	int *now = NULL;
	int n = list_fds(&now);
	struct stat st;

	for (int i = 0, j = 0; i < n; i++) {
		if (fstat(now[i], &st) < 0)
			continue;
		while (j < nbefore && before[j].fd < now[i])
			j++;
		if (j < nbefore && before[j].fd == now[i] && before[j].dev == st.st_dev &&
		    before[j].ino == st.st_ino)
			continue;
		if (context_fd(now[i], k))
			close(now[i]);
	}
	free(now);
}

/* In an attach worker, after a failed attach: every fd of the kinds
 * liblxc's attach context opens (k) that the worker does not hold itself
 * (kept_fd). */
static void close_unkept(const struct context_kind *k)
{
	int *now = NULL;
	int n = list_fds(&now);

	for (int i = 0; i < n; i++)
		if (context_fd(now[i], k) && !(kept_fd && kept_fd(now[i])))
			close(now[i]);
	free(now);
}

/* -- the attached child ---------------------------------------------------- */

void lxcpy_attach_report(int fd, int stage, int err)
{
	int msg[2] = {stage, err};
	const char *p = (const char *)msg;
	size_t left = sizeof(msg);

	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

/* The extra variables (NAME=value) put over environ as liblxc's putenv()
 * loop would (last one wins; a name already there keeps its place), in
 * linear time: putenv() scans the whole environment each time, which is
 * quadratic in the number of variables. A hash of the names, by index. */

static size_t name_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq ? (size_t)(eq - s) : strlen(s);
}

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void put_extra_env(char **extra)
{
	size_t nenv = 0, nextra = 0, n, mask = 15;
	size_t *slots;
	char **out;

	if (!extra)
		return;
	while (environ && environ[nenv])
		nenv++;
	while (extra[nextra])
		nextra++;
	while (mask < 2 * (nenv + nextra))
		mask = mask * 2 + 1;
	out = malloc((nenv + nextra + 1) * sizeof(char *));
	slots = calloc(mask + 1, sizeof(size_t)); /* index + 1; 0: empty */
	if (!out || !slots) {
		free(out);
		free(slots);
		for (size_t i = 0; i < nextra; i++)
			putenv(extra[i]);
		return;
	}
	n = 0;
	for (size_t k = 0; k < nenv + nextra; k++) {
		char *s = k < nenv ? environ[k] : extra[k - nenv];
		size_t len = name_len(s);
		size_t i = name_hash(s, len) & mask;

		for (; slots[i]; i = (i + 1) & mask) {
			const char *t = out[slots[i] - 1];
			if (name_len(t) == len && !memcmp(t, s, len))
				break;
		}
		if (!slots[i]) {
			out[n] = s;
			slots[i] = ++n;
		} else if (k >= nenv) {
			out[slots[i] - 1] = s; /* putenv() replaces the first one */
		} else {
			out[n++] = s; /* a duplicate in environ stays, unseen */
		}
	}
	out[n] = NULL;
	free(slots);
	environ = out;
}

/* Put the caller's fds on 0-2 (liblxc set up /dev/null or lxcpy's own
 * pipes there: liblxc_stdio) and change directory. Every child_stdio fd
 * is >= 3 (the parent sees to it), so the dup2()s cannot clobber each
 * other. Returns the failing stage, or 0. */
int lxcpy_attach_child_setup(struct lxcpy_attach_opts *o)
{
	put_extra_env(o->extra_env);
	for (int i = 0; i < 3; i++) {
		if (o->child_stdio[i] < 0)
			continue;
		if (dup2(o->child_stdio[i], i) < 0)
			return LXCPY_STAGE_STDIO;
	}
	if (o->cwd && chdir(o->cwd) < 0)
		return LXCPY_STAGE_CHDIR;
	return 0;
}

static void cloexec_from(int lowfd)
{
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* Older kernels: walk the fd table. */
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		int self = dirfd(d);

		while ((e = readdir(d))) {
			int fd = atoi(e->d_name);
			if (e->d_name[0] != '.' && fd >= lowfd && fd != self)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
		}
		closedir(d);
		return;
	}
	for (int fd = lowfd; fd < 65536; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* glibc's posix_spawn leaves its own internal signals (SIGCANCEL,
 * SIGSETXID: 32 and 33) ignored in what it spawns (lxcpy-helper, and
 * maybe the caller itself), and ignored signals survive exec: give the
 * program their default in every mode, so that it starts the same with
 * and without the helper. (glibc's sigaction refuses them: the raw call.) */
static void default_internal_signals(void)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		unsigned long mask;
	} dfl = {0};

	for (int sig = 32; sig <= 33; sig++)
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
}

static int run_child(void *payload)
{
	struct lxcpy_exec *e = payload;
	struct lxcpy_attach_opts *o = e->o;
	int stage;

	lxcpy_attach_report(o->errfd, LXCPY_STAGE_READY, 0);
	stage = lxcpy_attach_child_setup(o);
	if (stage) {
		lxcpy_attach_report(o->errfd, stage, errno);
		_exit(127);
	}
	/* Like subprocess: what Python ignores is not ignored by the program,
	 * and no fd but 0-2 survives exec. lxcpy-helper blocks SIGCHLD (it
	 * reads it from a signalfd): the program gets a clean mask. */
	if (o->reset_sigmask) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	default_internal_signals();
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	cloexec_from(3);
	execvp(e->program, e->argv);
	lxcpy_attach_report(o->errfd, LXCPY_STAGE_EXEC, errno);
	_exit(127);
}

/* An fd >= 3 on path (so that liblxc's dup2()s onto 0-2 cannot clobber it). */
static int open_high(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd >= 0 && fd < 3) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		int saved = errno;

		close(fd);
		errno = saved;
		fd = high;
	}
	return fd;
}

/* -- the call ---------------------------------------------------------------- */

/* An option's FLAG (attach_table.h): a BOOL's is set when it is 1 and
 * cleared when 0 (when it is not 0); no other TYPE has one. */
#define APPLY_FLAG(opts, o, t, m, c, flag) APPLY_FLAG_##t(opts, o, m, flag)
#define APPLY_FLAG_BOOL(opts, o, m, flag)                                              \
	if (flag)                                                                      \
		(opts)->attach_flags = (o)->m ? (opts)->attach_flags | (flag)          \
					      : (opts)->attach_flags & ~(flag);
#define APPLY_NO_FLAG(opts, o, m, flag)                                                \
	_Static_assert(!(flag), "attach option " #m ": only a BOOL has a liblxc flag");
#define APPLY_FLAG_I32 APPLY_NO_FLAG
#define APPLY_FLAG_I64 APPLY_NO_FLAG
#define APPLY_FLAG_STR APPLY_NO_FLAG
#define APPLY_FLAG_STRV APPLY_NO_FLAG
#define APPLY_FLAG_I32V APPLY_NO_FLAG

const char *lxcpy_attach_option(int i)
{
#define OPTION_NAME(ctx, t, m, c, flag) #m,
	static const char *const names[] = {LXCPY_ATTACH_OPTIONS(OPTION_NAME, _)};

	return i >= 0 && i < (int)(sizeof(names) / sizeof(names[0])) ? names[i] : NULL;
}

int lxcpy_do_attach(struct lxc_container *c, struct lxcpy_attach_opts *o,
		     lxc_attach_exec_t fn, struct lxcpy_exec *e, int *pid)
{
	lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
	struct attach_key *key = NULL;
	struct open_fd *before = NULL;
	int before_n = -1;
	struct context_kind kind = {0};
	gid_t *groups = NULL;
	pid_t attached = -1;
	int devnull = -1, ret, saved;

	*pid = -1;
	opts.namespaces = o->namespaces;
	opts.personality = o->personality < 0 ? LXC_ATTACH_DETECT_PERSONALITY : o->personality;
	opts.uid = o->uid < 0 ? (uid_t)-1 : (uid_t)o->uid;
	opts.gid = o->gid < 0 ? (gid_t)-1 : (gid_t)o->gid;
	/* The BOOL options that are liblxc flags (attach_table.h): each set
	 * or cleared. The others are below. */
	LXCPY_ATTACH_OPTIONS(APPLY_FLAG, &opts, o)
	opts.initial_cwd = o->initial_cwd;
	opts.env_policy = o->clear_env ? LXC_ATTACH_CLEAR_ENV : LXC_ATTACH_KEEP_ENV;
	/* Put in place by lxcpy in the child: liblxc's way is quadratic. */
	opts.extra_env_vars = NULL;
	opts.extra_keep_env = o->keep_env;
	if (o->lsm_label) {
		opts.attach_flags |= LXC_ATTACH_LSM_LABEL;
		opts.lsm_label = o->lsm_label;
	}
	if (o->groups.n >= 0) {
		groups = calloc(o->groups.n ? (size_t)o->groups.n : 1, sizeof(gid_t));
		if (!groups)
			return -ENOMEM;
		for (int i = 0; i < o->groups.n; i++)
			groups[i] = (gid_t)(uint32_t)o->groups.v[i];
		opts.attach_flags |= LXC_ATTACH_SETGROUPS;
		opts.groups.size = (size_t)o->groups.n;
		opts.groups.list = groups;
	}
	/* liblxc chmods (0700) and chowns whatever is on the child's fds 0-2,
	 * and makes a tty stdin the child's controlling terminal: so it only
	 * ever gets lxcpy's own pipes or /dev/null; the caller's fds are put
	 * in place afterwards (child_stdio). */
	for (int i = 0; i < 3; i++) {
		if (o->liblxc_stdio[i] >= 0)
			continue;
		if (devnull < 0) {
			devnull = open_high("/dev/null");
			if (devnull < 0) {
				saved = errno;
				free(groups);
				return -saved;
			}
		}
	}
	opts.stdin_fd = o->liblxc_stdio[0] >= 0 ? o->liblxc_stdio[0] : devnull;
	opts.stdout_fd = o->liblxc_stdio[1] >= 0 ? o->liblxc_stdio[1] : devnull;
	opts.stderr_fd = o->liblxc_stdio[2] >= 0 ? o->liblxc_stdio[2] : devnull;

	e->o = o;
	/* The fds before the call. */
	if (!kept_threaded)
		key = key_hold(c, 1);
	/* In-process, Python opens pidfds too: only those of the init. */
	kind.pidfds = kept_threaded ? 1 : 2;
	kind.self_too = 1;
	if (!kept_threaded) {
		init_identity(&kind, o);
		before_n = list_open_fds(&before, &kind);
	}
	errno = 0;
	ret = c->attach(c, fn, e, &opts, &attached);
	saved = errno ? errno : ECHILD;
	if ((ret < 0 || attached <= 0) && kept_threaded) {
		close_unkept(&kind);
	} else if ((ret < 0 || attached <= 0) && before_n >= 0) {
		kind.self_too = only_attach_in_flight();
		close_new(before, before_n, &kind);
	}
	if (!kept_threaded)
		key_release(key, 1);
	free(before);

	free(groups);
	if (devnull >= 0)
		close(devnull);
	if (ret < 0 || attached <= 0)
		return -saved;
	*pid = attached;
	return 0;
}

int lxcpy_attach_run(struct lxc_container *c, struct lxcpy_attach_opts *o,
		     const char *program, char **argv, int *pid)
{
	struct lxcpy_exec e = {.program = program, .argv = argv};

	return lxcpy_do_attach(c, o, run_child, &e, pid);
}
