/* Shared between attach_run.c (C only, also in lxcpy-helper) and attach.c
 * (the Python callable variant). Not seen by cffi. */
#ifndef LXCPY_ATTACH_INT_H
#define LXCPY_ATTACH_INT_H

struct lxcpy_exec {
	struct lxcpy_attach_opts *o;
	const char *program;
	char **argv;
	void *payload;
};

/* Write one {stage, errno} pair on the error pipe. */
void lxcpy_attach_report(int fd, int stage, int err);
/* In the child: the caller's fds onto 0-2, then chdir. The failing stage or 0. */
int lxcpy_attach_child_setup(struct lxcpy_attach_opts *o);
/* c->attach() with o translated; what a failed attach leaves is closed.
 * Never called from a single-threaded process (attach_run.c). */
int lxcpy_do_attach(struct lxc_container *c, struct lxcpy_attach_opts *o,
		    lxc_attach_exec_t fn, struct lxcpy_exec *e, int *pid);
/* Held around opening a pidfd of a container's init, while no attach to
 * that container is under way (a failed attach closes the ones of its
 * init that appeared meanwhile: not these). Per container. */
void lxcpy_attach_fds_hold(struct lxc_container *c);
void lxcpy_attach_fds_release(void);
/* This process keeps a second thread for good and attaches one at a time
 * (lxcpy-helper's attach workers): a failed attach's clean-up closes every
 * pidfd, procfs directory and namespace file but those kept(fd) says the
 * process holds itself. */
void lxcpy_attach_always_threaded(int (*kept)(int fd));
#endif
