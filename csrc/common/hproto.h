/* The wire format between lxcpy and lxcpy-helper (internal to the C side;
 * what Python sees is in helper.decl.h).
 *
 * One request is one SOCK_SEQPACKET message on the helper's control
 * socket, carrying fds with SCM_RIGHTS; the first fd is always the
 * per-request reply socket. The message is a header, nints int32 values,
 * then nstrs NUL-terminated strings that fill the rest exactly:
 *
 *   START  ints {use_init, has_cmd}           strs {name, lxcpath, cmd...}
 *          fds  {reply, config, log}
 *   CREATE ints {flags, has_template, has_backend}
 *          strs {name, lxcpath, template, backend, args...}
 *          fds  {reply, config, log, output}
 *   ATTACH ints {see ATTACH_* below, then ngroups group ids}
 *          strs {name, lxcpath, [caller's cwd], [cwd], [lsm label],
 *                extra env..., keep env..., argv..., caller's environ...}
 *          fds  {reply, log, error pipe, stdio fds (each once)...}
 *   PING   no ints, no strs, fds {reply}
 *
 * Replies are struct lxcpy_hreply messages on the reply socket. An
 * attach gets two: STARTED (with the attached process's pidfd) once it
 * runs, DONE with its wait status once the helper reaped it. So do START
 * and CREATE: STARTED (the worker's pid, which is its process group's
 * id, and its pidfd) before the worker does anything, then DONE. The
 * caller cancels one by shutting its end of the socket down: the helper
 * then kills the worker's group, and sends DONE once it reaped it.
 */
#ifndef LXCPY_HPROTO_H
#define LXCPY_HPROTO_H

#include <stdint.h>

#include "lxcpy_shim.h"
#include "attach.decl.h"

#define LXCPY_HMAGIC 0x6c787068u /* "lxph" */
#define LXCPY_HMAX_MSG (128 * 1024)
#define LXCPY_HMAX_INTS (LXCPY_HMAX_MSG / 4)
#define LXCPY_HMAX_STRS 4096
#define LXCPY_HMAX_FDS 12

struct lxcpy_hhdr {
	uint32_t magic;
	uint32_t op;
	uint32_t nints;
	uint32_t nstrs;
	uint32_t nfds;
	uint32_t len; /* of the whole message, header included */
};

/* A request as the helper reads it: pointers into the message buffer. */
struct lxcpy_hreq {
	uint32_t op;
	uint32_t nints;
	uint32_t nstrs;
	uint32_t nfds;
	const int32_t *ints;
	const char *strs[LXCPY_HMAX_STRS];
};

/* Parse and check the framing of a message of n bytes (ints copied to an
 * aligned place by the caller's buffer: buf must be 4-byte aligned).
 * 0 on success, -EINVAL when malformed. */
int lxcpy_hunpack(const char *buf, size_t n, struct lxcpy_hreq *req);

/* The fixed ints of an ATTACH request. */
enum {
	ATTACH_NAMESPACES,
	ATTACH_PERSONALITY,
	ATTACH_HAS_PERSONALITY,
	ATTACH_UID,
	ATTACH_GID,
	ATTACH_FLAGS,          /* ATTACH_F_* */
	ATTACH_HAS_CALLER_CWD,
	ATTACH_HAS_CWD,
	ATTACH_HAS_LSM,
	ATTACH_NGROUPS,        /* -1: none given */
	ATTACH_NEXTRA_ENV,
	ATTACH_NKEEP_ENV,
	ATTACH_NARGV,
	ATTACH_NENVIRON,
	ATTACH_LXC_FD0,        /* 3 of them: an index in the fds, or -1 */
	ATTACH_CHILD_FD0 = ATTACH_LXC_FD0 + 3,
	ATTACH_NFIXED = ATTACH_CHILD_FD0 + 3,
};
#define ATTACH_F_MOVE_TO_CGROUP 1
#define ATTACH_F_DROP_CAPS 2
#define ATTACH_F_NO_NEW_PRIVS 4
#define ATTACH_F_REMOUNT 8
#define ATTACH_F_CLEAR_ENV 16
#define ATTACH_F_ALL 31
/* The fds of an ATTACH request. */
#define ATTACH_FD_REPLY 0
#define ATTACH_FD_LOG 1
#define ATTACH_FD_ERR 2
#define ATTACH_FD_STDIO 3

/* An unpacked ATTACH request: o points into the request and into vec
 * (one allocation the caller frees; NULL-terminated string arrays). */
struct lxcpy_hattach {
	struct lxcpy_attach_opts o;
	const char *name;
	const char *lxcpath;
	char **argv;
	char **environ;
	char **vec;
};

/* Check and unpack an ATTACH request whose framing lxcpy_hunpack checked;
 * fds are the received fds. 0, or -EINVAL (-ENOMEM). Checks the fds'
 * types too (a log memfd, pipes for the error pipe and liblxc's stdio). */
int lxcpy_hunpack_attach(const struct lxcpy_hreq *r, const int *fds, int nfds,
			 struct lxcpy_hattach *a);

/* Name checks the public API makes, repeated by the helper: a container
 * name or backend (one path component: not empty, '.' or '..', no '/',
 * valid UTF-8 without whitespace or control characters), an absolute path,
 * and UTF-8 text. */
int lxcpy_valid_name(const char *s);
int lxcpy_valid_path(const char *s);
int lxcpy_valid_text(const char *s);

struct lxcpy_hreply;
struct msghdr;
/* The fds a received message carried (SCM_RIGHTS): the first cap go to
 * fds, the rest are closed. Returns how many went to fds. */
int lxcpy_take_fds(struct msghdr *msg, int *fds, int cap);
/* The helper's side of lxcpy_hrecv: one reply on a request's reply
 * socket, with passfd (or none when < 0). 0 or -errno. */
int lxcpy_hsend_reply(int fd, const struct lxcpy_hreply *r, int passfd);

#endif
