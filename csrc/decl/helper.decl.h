/* The helper protocol's declarations: read by cffi's cdef and by the C
 * compiler. Requests are packed here in C, by the same code the helper
 * executable unpacks them with (hproto.c); Python only moves the bytes
 * and the fds. */
#ifndef LXCPY_HELPER_DECL_H
#define LXCPY_HELPER_DECL_H
#include <stdint.h>

/* Request kinds and reply kinds (cffi reads their values from here
 * through constants.cdef). */
#define LXCPY_HOP_PING 1
#define LXCPY_HOP_START 2
#define LXCPY_HOP_CREATE 3
#define LXCPY_HOP_ATTACH 4

/* The reply always carries one of these. */
#define LXCPY_HREP_DONE 1   /* status: the wait status of the worker */
#define LXCPY_HREP_PONG 2   /* pid: the helper's pid */
#define LXCPY_HREP_STARTED 3 /* pid: the attached process or the worker (its pidfd rides along) */

struct lxcpy_hreply {
	int32_t err;    /* 0, or -errno: the request was refused or failed to run */
	int32_t kind;   /* LXCPY_HREP_* */
	int32_t status; /* a wait status (LXCPY_HREP_DONE) */
	int32_t pid;
};

/* Each returns the length of the message written into buf, or -errno
 * (-E2BIG when it does not fit in cap or in the protocol's limit). */
int lxcpy_hpack_ping(char *buf, int cap);
int lxcpy_hpack_start(char *buf, int cap, const char *name, const char *lxcpath,
                      int useinit, char **argv);
int lxcpy_hpack_create(char *buf, int cap, const char *name, const char *lxcpath,
                       const char *t, const char *bdevtype, int flags, char **argv);
/* An attach request: o (its fds included), argv (argv[0] is the program),
 * plus this process's environment and working directory, which liblxc
 * hands to the attached process. The fds to send after the reply socket
 * are written to fds (*nfds of them; fdcap >= LXCPY_HATTACH_FDS). */
#define LXCPY_HATTACH_FDS 8
int lxcpy_hpack_attach(char *buf, int cap, const char *name, const char *lxcpath,
                       const struct lxcpy_attach_opts *o, char **argv, int logfd,
                       int *fds, int fdcap, int *nfds);
/* The largest message the helper accepts. */
int lxcpy_hmax_msg(void);

/* Send one packed request on the control socket ctl, with a new reply
 * socket followed by fds (nfds of them, at most 24): our end of the reply
 * socket (CLOEXEC), or -errno. */
int lxcpy_hsend(int ctl, const char *msg, int len, const int *fds, int nfds);
/* lxcpy_hpack_attach, then lxcpy_hsend: the reply socket, or -errno
 * (-E2BIG: too large for the protocol). */
int lxcpy_hsend_attach(int ctl, const char *name, const char *lxcpath,
                       const struct lxcpy_attach_opts *o, char **argv, int logfd);
/* Receive one reply: 1 with *r filled (and *passed the fd it carried, or
 * -1; CLOEXEC, the caller's), 0 at EOF (the helper is gone), -EAGAIN when
 * nonblock and nothing has come yet, -EPROTO for a malformed one, or
 * -errno (-EINTR: a signal came, call again). */
int lxcpy_hrecv(int fd, int nonblock, struct lxcpy_hreply *r, int *passed);
#endif
