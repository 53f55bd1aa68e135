/* lxcpy-helper's attach workers (pool.c): the event loop (main.c) never
 * calls liblxc's attach itself; it hands each ATTACH request to a worker
 * process of this pool. */
#ifndef LXCPY_POOL_H
#define LXCPY_POOL_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#include "wire.h"

/* -- for the event loop (main.c) -- */

/* Set up the pool and fork its first workers. 0 or -errno. */
int pool_init(void);
/* Hand one ATTACH request (its message as received, framing checked,
 * and its fds, the reply socket first) to an idle worker: forwarded at
 * once, or queued while every worker is busy and no more may be forked;
 * the fds it takes over are set to -1 (the caller closes the others).
 * Answers the request itself when it can do neither. */
void pool_dispatch(const char *msg, size_t len, int *fds, int nfds);
/* The fds the loop polls for the pool (up to max), then what came. */
int pool_pollfds(struct pollfd *pfd, int max);
void pool_events(const struct pollfd *pfd, int n);
/* SIGCHLD: reap the workers that exited. */
void pool_reap(void);
/* The caller is gone: let the workers go. */
void pool_shutdown(void);
/* At most this many fds from pool_pollfds. */
#define POOL_POLLFDS 128

/* -- for a worker (from serve_attach in main.c) -- */

/* liblxc attached pid (the worker's child: CLONE_PARENT): STARTED (pid,
 * pidfd) goes on reply, then the worker's reaper thread waits for it and
 * sends DONE with its exact wait status. Takes over pidfd (may be -1) and
 * reply. A caller that gave up meanwhile gets the process killed. */
void pool_started(pid_t pid, int pidfd, int reply);
/* liblxc is done with the request in hand (refused, or attached and its
 * process counted): called before its reply goes. */
void pool_attached(void);
/* The request in hand refused with err (-errno): pool_attached(), then
 * the error on reply. */
void pool_refuse(int reply, int err);
/* Whether a worker can wait for one more process (else -EAGAIN, before
 * attaching). */
int pool_room(void);

/* -- main.c's, used by the workers -- */

void serve_attach(const struct lxcpy_request_ATTACH *r, int *fds);
int sweep_handles(void);
void follow_caller(void);
/* Opens what follow_caller reads, in a new attach worker. */
void follow_caller_open(void);
void close_from(int lowfd);

#endif
