/* The wire format between lxcpy and lxcpy-helper (internal to the C side;
 * what Python sees is in wire.decl.h), generated from one table:
 * wire_table.h.
 *
 * One request is one SOCK_SEQPACKET message on the helper's control
 * socket, carrying fds with SCM_RIGHTS: slot 0 is the per-request reply
 * socket, then the kind's fixed slots (LXCPY_FD_<KIND>_<SLOT>), then the
 * fds of its FD fields, each once. The message is a header (struct
 * lxcpy_request_header), then the kind's fields in table order, encoded as the
 * table says, filling the rest exactly.
 *
 * Replies are struct lxcpy_reply messages on the reply socket. An
 * attach gets two: STARTED (with the attached process's pidfd) once it
 * runs, DONE with its wait status once the helper reaped it. So do START
 * and CREATE: STARTED (the worker's pid, which is its process group's
 * id, and its pidfd) before the worker does anything, then DONE. The
 * caller cancels one by shutting its end of the socket down: the helper
 * then kills the worker's group, and sends DONE once it reaped it.
 *
 * The helper's first message on the control socket is a HELLO reply
 * carrying its protocol version (lxcpy_wire_version()); it is passed
 * the version its caller expects, and refuses (a HELLO with -EPROTO, then
 * exit) when they differ. Every request carries the version too.
 */
#ifndef LXCPY_WIRE_H
#define LXCPY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "lxcpy_shim.h"
#include "attach.decl.h"
#include "wire.decl.h"
#include "wire_table.h"

#define LXCPY_WIRE_MAX_MSG (128 * 1024)
#define LXCPY_WIRE_MAX_FDS 12

/* -- generated from the table ---------------------------------------------- */

/* The C type of each field type. */
#define LXCPY_WIRE_CTYPE_I32 int32_t
#define LXCPY_WIRE_CTYPE_I64 int64_t
#define LXCPY_WIRE_CTYPE_STR const char *
#define LXCPY_WIRE_CTYPE_STRV char **
#define LXCPY_WIRE_CTYPE_I32V struct lxcpy_int_vec
#define LXCPY_WIRE_CTYPE_FD int

/* LXCPY_OP_<KIND>: the kinds' op values. */
#define LXCPY_WIRE_GEN_OP(k, value) LXCPY_OP_##k = value,
enum { LXCPY_WIRE_KINDS(LXCPY_WIRE_GEN_OP) };

/* LXCPY_FD_<KIND>_<SLOT>: each kind's fd slots (LXCPY_FD_REPLY is 0 for
 * all); LXCPY_FD_<KIND>_COUNT of them, the reply socket included. */
#define LXCPY_FD_REPLY 0
#define LXCPY_WIRE_GEN_NOFIELD(k, t, n, c)
#define LXCPY_WIRE_GEN_SLOT(k, n, c) LXCPY_FD_##k##_##n,
#define LXCPY_WIRE_GEN_SLOTS(k, value) \
	enum { LXCPY_FD_##k##_REPLY = LXCPY_FD_REPLY, \
	       LXCPY_WIRE_KIND_##k(k, LXCPY_WIRE_GEN_NOFIELD, LXCPY_WIRE_GEN_SLOT) LXCPY_FD_##k##_COUNT };
LXCPY_WIRE_KINDS(LXCPY_WIRE_GEN_SLOTS)

/* struct lxcpy_request_<kind>: a request's fields, by name. Decoded ones
 * point into the message (strings) and into allocations that
 * lxcpy_request_free() frees (arrays); FD fields hold the received fds. */
#define LXCPY_WIRE_GEN_MEMBER(k, t, n, c) LXCPY_WIRE_CTYPE_##t n;
#define LXCPY_WIRE_GEN_NOSLOT(k, n, c)
#define LXCPY_WIRE_GEN_STRUCT(k, value) \
	struct lxcpy_request_##k { uint32_t op; LXCPY_WIRE_KIND_##k(k, LXCPY_WIRE_GEN_MEMBER, LXCPY_WIRE_GEN_NOSLOT) };
LXCPY_WIRE_KINDS(LXCPY_WIRE_GEN_STRUCT)

/* A decoded request: op says which member is filled. */
#define LXCPY_WIRE_GEN_UNION(k, value) struct lxcpy_request_##k k;
struct lxcpy_request {
	union {
		uint32_t op; /* the first member of each */
		LXCPY_WIRE_KINDS(LXCPY_WIRE_GEN_UNION)
	};
};

/* -- the helper's side ----------------------------------------------------- */

/* Decode and check a message of n bytes received with nfds fds (fds[0]
 * the reply socket): its framing and version, every field's check, every
 * fd slot's type, and the FD fields (each sent fd used, indexes in
 * range), which it resolves to the fds. 0, -EPROTO for a message of
 * another protocol version, -EINVAL when malformed, -ENOMEM. On failure
 * nothing is left to free; on success lxcpy_request_free() frees. */
int lxcpy_unpack_request(const char *buf, size_t n, const int *fds, int nfds, struct lxcpy_request *req);
/* The same without fds (no fd is checked or resolved: FD fields keep
 * their indexes): what the protocol tests' decoder (tests/wire_decode.c)
 * uses. */
int lxcpy_decode_request(const char *buf, size_t n, struct lxcpy_request *req);
void lxcpy_request_free(struct lxcpy_request *req);

/* An unpacked ATTACH request as liblxc's attach wants it: o points into
 * the request (which must outlive it). */
struct lxcpy_attach_args {
	struct lxcpy_attach_opts o;
	const char *name;
	const char *lxcpath;
	char **argv;
	char **environ;
};
void lxcpy_attach_args_from(const struct lxcpy_request_ATTACH *r, int errfd, struct lxcpy_attach_args *a);

/* Name checks the public API makes, repeated by the helper: a container
 * name or backend (one path component: not empty, '.' or '..', no '/',
 * valid UTF-8 without whitespace or control characters), an absolute path,
 * and UTF-8 text. */
int lxcpy_valid_name(const char *s);
int lxcpy_valid_path(const char *s);
int lxcpy_valid_text(const char *s);

struct msghdr;
/* The fds a received message carried (SCM_RIGHTS): the first cap go to
 * fds, the rest are closed. Returns how many went to fds. */
int lxcpy_take_fds(struct msghdr *msg, int *fds, int cap);
/* One request off sock, into buf (LXCPY_WIRE_MAX_MSG bytes), with recvmsg
 * flags (MSG_CMSG_CLOEXEC always): its length, 0 at EOF or -errno; its
 * fds in fds (room for 2 * LXCPY_WIRE_MAX_FDS; more are closed), counted
 * in *nfds; *bad when the message or its fds were cut short, or more fds
 * came than a request has. */
ssize_t lxcpy_recv_request(int sock, char *buf, int flags, int *fds, int *nfds, int *bad);
/* The helper's side of lxcpy_recv_reply: one reply on a request's reply
 * socket, with passfd (or none when < 0). 0 or -errno. */
int lxcpy_send_reply(int fd, const struct lxcpy_reply *r, int passfd);

/* sendmsg() data with fds (SCM_RIGHTS, at most 2 * LXCPY_WIRE_MAX_FDS + 1),
 * retried on EINTR, no SIGPIPE: 0 or -errno. */
int lxcpy_send_with_fds(int sock, const void *data, size_t len, const int *fds, int nfds);

#endif
