/* lxcpy-helper's attach workers.
 *
 * The event loop never calls liblxc's attach: c->attach() first asks the
 * container's monitor for its init (a monitor that does not answer would
 * hold up every other request), and it forks the calling process, which
 * serializes attaches. Each ATTACH request goes to a worker of this pool
 * instead, a process forked from the helper (small, so cheap to fork),
 * which serves one attach at a time:
 *
 * - The loop forwards the request as it came (its message and fds, with
 *   SCM_RIGHTS) on the worker's own socket. It keeps the request until
 *   the worker sends a one-byte "r" (received; a worker that dies before
 *   never saw it, and another one gets it), and a copy of the reply
 *   socket until the worker sends "i" (done with liblxc), to see the
 *   caller give up meanwhile. Then the worker sends STARTED (the pid and
 *   a pidfd) or the error on the reply socket.
 * - A worker keeps its own cache of liblxc handles (main.c's, in its own
 *   memory), takes the caller's umask and resource limits itself before
 *   each attach (follow_caller) and the caller's environ (serve_attach).
 * - liblxc clones the attached process with CLONE_PARENT: it is the
 *   worker's child. A second thread of the worker, its reaper, waits for
 *   those by their pidfds (never waitpid(-1): liblxc waits for its own
 *   transient process by pid) and sends each one's exact wait status
 *   (DONE) on its reply socket. So a worker stuck in an attach (a
 *   monitor stopped) still sends the statuses of what it attached before.
 *   The reaper also keeps the worker multi-threaded for good, which spares
 *   each attach liblxc's init pidfd leak (attach_run.c).
 * - The pool starts with POOL_PREFORK workers and forks one more whenever
 *   the last idle one takes a request (up to POOL_MAX); past that,
 *   requests wait in a queue until a worker is idle.
 * - A caller that gives up (its reply socket closed: run(timeout=), a
 *   Ctrl-C) while its worker is still attaching: the worker is killed with
 *   its process group (it, liblxc's transient process, what it attached),
 *   unless it still waits for processes it attached before; then it kills
 *   what the abandoned attach started once c->attach() returns.
 * - Workers lead process groups of their own and outlive the helper: one
 *   whose helper is gone (its socket's EOF) takes no more requests and
 *   exits once it reaped what it attached (or nobody waits for it any more),
 *   so a killed helper loses no exit status.
 *
 * The loop's ends of the workers' sockets are fds >= POOL_FD_FLOOR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lxcpy_shim.h"
#include "attach.decl.h"
#include "attach_int.h"
#include "wire.decl.h"
#include "wire.h"
#include "pool.h"

#define POOL_MAX (POOL_POLLFDS / 2)
#define POOL_PREFORK 2
#define POOL_QUEUE 256
#define POOL_FD_FLOOR 1000
#define WORKER_SOCK 3
#define WORKER_KIDS 4096

static void send_error(int fd, int err)
{
	struct lxcpy_reply r = {.err = err};

	lxcpy_send_reply(fd, &r, -1);
}

/* -- the worker ------------------------------------------------------------- */

/* Processes of each worker not reaped yet, by slot: shared (MAP_SHARED)
 * between the workers, which count, and the loop, which reads. */
static int *live;
static int my_slot = -1;

struct kid {
	pid_t pid;
	int pidfd; /* -1: none (polled for by time) */
	int reply;
	int hup;   /* nobody reads reply any more */
};

static pthread_mutex_t kids_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kid *kids;
static int nkids;
static int wake_fd = -1;
static volatile int helper_gone;
static int idle_sent;

/* liblxc is done with this worker's request (its attach returned, or it
 * was refused before): the loop stops watching its caller and may send the
 * next one, which waits in the socket until the reply has gone. Sent
 * before the reply, so that a caller who hangs up once answered is never
 * taken for one who gave up while the worker was still in liblxc. */
void pool_attached(void)
{
	if (!idle_sent)
		send(WORKER_SOCK, "i", 1, MSG_NOSIGNAL);
	idle_sent = 1;
}

void pool_refuse(int reply, int err)
{
	pool_attached();
	send_error(reply, err);
}

int pool_room(void)
{
	int room;

	pthread_mutex_lock(&kids_lock);
	room = nkids < WORKER_KIDS;
	pthread_mutex_unlock(&kids_lock);
	return room;
}

static void pool_adopt(pid_t pid, int pidfd, int reply)
{
	pthread_mutex_lock(&kids_lock);
	kids[nkids].pid = pid;
	kids[nkids].pidfd = pidfd;
	kids[nkids].reply = reply;
	kids[nkids].hup = 0;
	nkids++;
	pthread_mutex_unlock(&kids_lock);
	eventfd_write(wake_fd, 1);
}

/* One more process of this worker's: counted before its STARTED goes,
 * so that the loop never kills a worker that has a process running. */
static void live_add(int n)
{
	__atomic_add_fetch(&live[my_slot], n, __ATOMIC_SEQ_CST);
}

/* Whether fd is one of the worker's own pidfds (of a process it attached
 * and has not reaped yet): not what a failed attach left open
 * (attach_run.c). The reaper closes a pidfd under kids_lock as it drops
 * its kid. */
static int kept_pidfd(int fd)
{
	int kept = 0;

	pthread_mutex_lock(&kids_lock);
	for (int i = 0; i < nkids && !kept; i++)
		kept = kids[i].pidfd == fd;
	pthread_mutex_unlock(&kids_lock);
	return kept;
}

static void *reaper_main(void *arg)
{
	struct pollfd *pfd = calloc(1 + 2 * WORKER_KIDS, sizeof(*pfd));
	int *who = calloc(1 + 2 * WORKER_KIDS, sizeof(int));

	(void)arg;
	if (!pfd || !who)
		_exit(125);
	for (;;) {
		int n = 1, timed = 0, all_hup = 1;

		pfd[0].fd = wake_fd;
		pfd[0].events = POLLIN;
		pthread_mutex_lock(&kids_lock);
		for (int i = 0; i < nkids; i++) {
			if (kids[i].pidfd >= 0) {
				pfd[n].fd = kids[i].pidfd;
				pfd[n].events = POLLIN;
				who[n++] = i;
			} else {
				timed = 1;
			}
			if (!kids[i].hup) {
				all_hup = 0;
				pfd[n].fd = kids[i].reply;
				pfd[n].events = 0; /* POLLHUP: the caller closed its end */
				who[n++] = ~i;
			}
		}
		pthread_mutex_unlock(&kids_lock);
		if (helper_gone && all_hup)
			_exit(0); /* nobody waits for anything of ours */
		if (poll(pfd, (nfds_t)n, timed ? 50 : -1) < 0 && errno != EINTR)
			_exit(125);
		if (pfd[0].revents) {
			eventfd_t v;
			eventfd_read(wake_fd, &v);
		}
		pthread_mutex_lock(&kids_lock);
		for (int k = 1; k < n; k++)
			if (who[k] < 0 && pfd[k].revents)
				kids[~who[k]].hup = 1;
		for (int i = 0; i < nkids;) {
			struct lxcpy_reply r = {.kind = LXCPY_REPLY_DONE, .pid = kids[i].pid};
			int status;
			pid_t got = waitpid(kids[i].pid, &status, WNOHANG);

			if (got == 0 || (got < 0 && errno == EINTR)) {
				i++;
				continue;
			}
			if (got < 0)
				r.err = -errno;
			else
				r.status = status;
			if (!kids[i].hup)
				lxcpy_send_reply(kids[i].reply, &r, -1);
			close(kids[i].reply);
			if (kids[i].pidfd >= 0)
				close(kids[i].pidfd);
			kids[i] = kids[--nkids];
			live_add(-1);
		}
		pthread_mutex_unlock(&kids_lock);
	}
	return NULL;
}

static int start_reaper(void)
{
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int ok;

	kids = calloc(WORKER_KIDS, sizeof(*kids));
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!kids || wake_fd < 0 || pthread_attr_init(&attr) != 0)
		return -1;
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* It never takes a signal meant for the process. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_create(&thread, &attr, reaper_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ok ? 0 : -1;
}

void pool_started(pid_t pid, int pidfd, int reply)
{
	struct lxcpy_reply r = {.kind = LXCPY_REPLY_STARTED, .pid = pid};

	live_add(1);
	pool_attached();
	if (lxcpy_send_reply(reply, &r, pidfd) < 0)
		kill(pid, SIGKILL); /* our unreaped child: the pid is its own */
	pool_adopt(pid, pidfd, reply);
}

static void worker_main(int slot, int sock)
{
	struct lxcpy_request *req;
	char *buf;

	my_slot = slot;
	setpgid(0, 0);
	/* Only 0-2 and the socket to the loop: not the control socket (its
	 * EOF tells the helper that its caller is gone), nor other requests'. */
	if (dup2(sock, WORKER_SOCK) < 0)
		_exit(125);
	close_from(WORKER_SOCK + 1);
	fcntl(WORKER_SOCK, F_SETFD, FD_CLOEXEC);
	follow_caller_open();
	buf = aligned_alloc(16, LXCPY_WIRE_MAX_MSG);
	req = malloc(sizeof(*req));
	if (!buf || !req || start_reaper() < 0)
		_exit(125);
	lxcpy_attach_always_threaded(kept_pidfd);

	for (;;) {
		struct pollfd p = {.fd = WORKER_SOCK, .events = POLLIN};
		int fds[LXCPY_WIRE_MAX_FDS * 2], nfds, bad, err;
		ssize_t n;

		/* Cached handles whose callers may let go: checked each second. */
		if (poll(&p, 1, sweep_handles() ? 1000 : -1) <= 0)
			continue;
		n = lxcpy_recv_request(WORKER_SOCK, buf, 0, fds, &nfds, &bad);
		if (n == -EINTR)
			continue;
		if (n <= 0 && nfds == 0)
			break; /* the helper is gone */
		if (nfds == 0)
			continue;
		/* Received: the loop lets go of its copy of the request (it
		 * hands it to another worker if this one dies before). */
		send(WORKER_SOCK, "r", 1, MSG_NOSIGNAL);
		idle_sent = 0;
		err = bad || n < 0 ? -EINVAL : lxcpy_unpack_request(buf, (size_t)n, fds, nfds, req);
		if (err) {
			pool_refuse(fds[0], err); /* checked by the loop already */
		} else if (req->op != LXCPY_OP_ATTACH) {
			pool_refuse(fds[0], -EINVAL);
			lxcpy_request_free(req);
		} else {
			follow_caller();
			serve_attach(&req->ATTACH, fds);
			lxcpy_request_free(req);
		}
		for (int i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		pool_attached();
	}
	/* No more requests: exit once nothing of ours is waited for. */
	helper_gone = 1;
	eventfd_write(wake_fd, 1);
	for (;;)
		pause();
}

/* -- the loop's side ------------------------------------------------------ */

struct pending {
	char *msg; /* NULL: none */
	size_t len;
	int fds[LXCPY_WIRE_MAX_FDS];
	int nfds;
};

struct worker {
	pid_t pid;  /* 0: a free slot */
	int sock;   /* -1 once it read EOF */
	int busy;
	int watch;  /* a copy of the reply socket of the request in hand, or -1 */
	int killed;
	/* The request in hand until the worker says it has it: one that dies
	 * before (killed from outside while idle, say) never saw it, and it
	 * goes to another worker. */
	struct pending held;
};

static struct worker workers[POOL_MAX];
static struct pending queue[POOL_QUEUE];
static int qhead, qlen;
static int map_slot[POOL_POLLFDS], map_watch[POOL_POLLFDS];

static void close_fds(int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static void pending_free(struct pending *p)
{
	free(p->msg);
	p->msg = NULL;
	close_fds(p->fds, p->nfds);
	p->nfds = 0;
}

/* Whether the caller of a request hung up (gave up on it). */
static int hung_up(int reply)
{
	struct pollfd hup = {.fd = reply, .events = POLLRDHUP};

	return poll(&hup, 1, 0) > 0 && (hup.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

static int spawn_worker(void)
{
	int slot = -1, sv[2], high;
	pid_t pid;

	for (int i = 0; i < POOL_MAX; i++) {
		if (!workers[i].pid) {
			slot = i;
			break;
		}
	}
	if (slot < 0)
		return -EAGAIN;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	high = fcntl(sv[0], F_DUPFD_CLOEXEC, POOL_FD_FLOOR);
	close(sv[0]);
	if (high < 0) {
		int err = -errno;
		close(sv[1]);
		return err;
	}
	live[slot] = 0;
	pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(high);
		close(sv[1]);
		return err;
	}
	if (pid == 0)
		worker_main(slot, sv[1]);
	close(sv[1]);
	setpgid(pid, pid); /* the group exists before anyone may kill it */
	workers[slot] = (struct worker){.pid = pid, .sock = high, .watch = -1};
	return slot;
}

static int idle_worker(void)
{
	/* Never one killed and not reaped yet: what it is sent is lost. */
	for (int i = 0; i < POOL_MAX; i++)
		if (workers[i].pid && workers[i].sock >= 0 && !workers[i].busy && !workers[i].killed)
			return i;
	return -1;
}

/* Forward to worker slot; 0, or -errno when that worker cannot take it.
 * On success the fds are the worker's slot's (set to -1 here) until the
 * worker says it received them. */
static int forward(int slot, const char *msg, size_t len, int *fds, int nfds)
{
	struct worker *w = &workers[slot];
	int watch = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
	int err;

	if (watch < 0)
		return -errno;
	err = lxcpy_send_with_fds(w->sock, msg, len, fds, nfds);
	if (err < 0) {
		close(watch);
		if (err == -EPIPE || err == -ECONNRESET) {
			/* It died: reaped on its SIGCHLD. */
			close(w->sock);
			w->sock = -1;
		}
		return err;
	}
	w->busy = 1;
	w->watch = watch;
	w->held.msg = malloc(len);
	if (w->held.msg) {
		memcpy(w->held.msg, msg, len);
		w->held.len = len;
		w->held.nfds = nfds;
		for (int i = 0; i < nfds; i++) {
			w->held.fds[i] = fds[i];
			fds[i] = -1;
		}
	}
	return 0;
}

/* Forward to an idle worker, or one forked for it. */
static int place(const char *msg, size_t len, int *fds, int nfds)
{
	int err = -EAGAIN;

	for (int tries = 0; tries < 3; tries++) {
		int slot = idle_worker();

		if (slot < 0)
			slot = spawn_worker();
		if (slot < 0)
			return slot;
		err = forward(slot, msg, len, fds, nfds);
		if (err == 0) {
			/* One idle worker kept ready for the next request. */
			if (idle_worker() < 0)
				spawn_worker();
			return 0;
		}
	}
	return err;
}

void pool_dispatch(const char *msg, size_t len, int *fds, int nfds)
{
	struct pending *p;
	int err;

	if (!qlen) {
		err = place(msg, len, fds, nfds);
		if (err == 0)
			return;
		if (err != -EAGAIN) {
			send_error(fds[0], err);
			return;
		}
	}
	if (qlen == POOL_QUEUE) {
		send_error(fds[0], -EAGAIN);
		return;
	}
	p = &queue[(qhead + qlen) % POOL_QUEUE];
	p->msg = malloc(len);
	if (!p->msg) {
		send_error(fds[0], -ENOMEM);
		return;
	}
	memcpy(p->msg, msg, len);
	p->len = len;
	p->nfds = nfds;
	for (int i = 0; i < nfds; i++) {
		p->fds[i] = fds[i];
		fds[i] = -1;
	}
	qlen++;
}

/* Queued requests to idle workers, oldest first. A caller that gave up
 * meanwhile (its reply socket hung up) is dropped. */
static void drain_queue(void)
{
	while (qlen) {
		struct pending *p = &queue[qhead];
		int err = 0;

		if (!hung_up(p->fds[0])) {
			err = place(p->msg, p->len, p->fds, p->nfds);
			if (err == -EAGAIN)
				return;
			if (err < 0)
				send_error(p->fds[0], err);
		}
		pending_free(p);
		qhead = (qhead + 1) % POOL_QUEUE;
		qlen--;
	}
}

int pool_init(void)
{
	live = mmap(NULL, POOL_MAX * sizeof(int), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (live == MAP_FAILED) {
		live = NULL;
		return -errno;
	}
	for (int i = 0; i < POOL_PREFORK; i++)
		spawn_worker();
	return 0;
}

int pool_pollfds(struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; i < POOL_MAX && n + 2 <= max; i++) {
		struct worker *w = &workers[i];

		if (!w->pid)
			continue;
		if (w->sock >= 0) {
			pfd[n] = (struct pollfd){.fd = w->sock, .events = POLLIN};
			map_slot[n] = i;
			map_watch[n++] = 0;
		}
		if (w->watch >= 0) {
			pfd[n] = (struct pollfd){.fd = w->watch, .events = POLLIN | POLLRDHUP};
			map_slot[n] = i;
			map_watch[n++] = 1;
		}
	}
	return n;
}

/* All worker w said ("r", received; "i", done with liblxc), read now:
 * what it said before its caller hung up counts before the hang-up, and a
 * dead worker's last words are still queued. recv()'s last result. */
static ssize_t drain_worker(struct worker *w)
{
	ssize_t got;
	char c;

	while ((got = recv(w->sock, &c, 1, MSG_DONTWAIT)) == 1) {
		pending_free(&w->held);
		if (c == 'r')
			continue;
		w->busy = 0;
		if (w->watch >= 0)
			close(w->watch);
		w->watch = -1;
	}
	return got;
}

/* The caller gave up on the request worker w has in hand. */
static void abandoned(struct worker *w, int slot)
{
	if (w->sock >= 0)
		drain_worker(w);
	if (w->watch < 0)
		return; /* it was done with liblxc first */
	close(w->watch);
	w->watch = -1;
	/* Not received yet: it will attach for nobody, and its STARTED
	 * cannot be sent (pool_started kills the process then); it may still
	 * be sending the reply to its previous request. */
	if (w->held.msg)
		return;
	/* Still in liblxc (else it would have counted its process): kill it
	 * and what it forked, which the caller will never know of. One with
	 * processes it waits for is left to finish: it kills what the attach
	 * started itself (its STARTED cannot be sent). */
	if (__atomic_load_n(&live[slot], __ATOMIC_SEQ_CST) == 0 && !w->killed) {
		kill(-w->pid, SIGKILL);
		w->killed = 1;
	}
}

void pool_events(const struct pollfd *pfd, int n)
{
	for (int k = 0; k < n; k++) {
		struct worker *w = &workers[map_slot[k]];
		ssize_t got;

		if (!pfd[k].revents || !w->pid)
			continue;
		if (map_watch[k]) {
			if (w->watch == pfd[k].fd)
				abandoned(w, map_slot[k]);
			continue;
		}
		if (w->sock != pfd[k].fd)
			continue;
		got = drain_worker(w);
		if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
			/* EOF: it died (reaped on its SIGCHLD). */
			close(w->sock);
			w->sock = -1;
		}
	}
	drain_queue();
}

void pool_reap(void)
{
	for (int i = 0; i < POOL_MAX; i++) {
		struct worker *w = &workers[i];
		int status;

		struct pending again;

		if (!w->pid || waitpid(w->pid, &status, WNOHANG) != w->pid)
			continue;
		if (w->sock >= 0)
			drain_worker(w);
		/* It died with a request in hand (the one it was killed for
		 * has no watch any more): its caller gets an error rather than
		 * nothing, unless the worker never received it. */
		again = w->held;
		if (w->busy && w->watch >= 0 && !again.msg)
			send_error(w->watch, -ECONNABORTED);
		if (w->watch >= 0)
			close(w->watch);
		if (w->sock >= 0)
			close(w->sock);
		memset(w, 0, sizeof(*w));
		live[i] = 0;
		if (again.msg && !hung_up(again.fds[0]))
			pool_dispatch(again.msg, again.len, again.fds, again.nfds);
		pending_free(&again);
	}
	drain_queue();
}

void pool_shutdown(void)
{
	for (int i = 0; i < POOL_MAX; i++) {
		struct worker *w = &workers[i];

		if (!w->pid)
			continue;
		/* Attaching for a caller that is gone: nobody will have it. */
		if (w->busy && live && live[i] == 0)
			kill(-w->pid, SIGKILL);
		if (w->sock >= 0)
			close(w->sock);
		w->sock = -1;
	}
}
