/* The wire format between lxcpy and lxcpy-helper (internal to the C side;
 * what Python sees is in helper.decl.h), generated from one table:
 * hproto_table.h.
 *
 * One request is one SOCK_SEQPACKET message on the helper's control
 * socket, carrying fds with SCM_RIGHTS: slot 0 is the per-request reply
 * socket, then the kind's fixed slots (LXCPY_HFD_<KIND>_<SLOT>), then the
 * fds of its FD fields, each once. The message is a header (struct
 * lxcpy_hhdr), then the kind's fields in table order, encoded as the
 * table says, filling the rest exactly.
 *
 * Replies are struct lxcpy_hreply messages on the reply socket. An
 * attach gets two: STARTED (with the attached process's pidfd) once it
 * runs, DONE with its wait status once the helper reaped it. So do START
 * and CREATE: STARTED (the worker's pid, which is its process group's
 * id, and its pidfd) before the worker does anything, then DONE. The
 * caller cancels one by shutting its end of the socket down: the helper
 * then kills the worker's group, and sends DONE once it reaped it.
 *
 * The helper's first message on the control socket is a HELLO reply
 * carrying its protocol version (lxcpy_hproto_version()); it is passed
 * the version its caller expects, and refuses (a HELLO with -EPROTO, then
 * exit) when they differ. Every request carries the version too.
 */
#ifndef LXCPY_HPROTO_H
#define LXCPY_HPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "lxcpy_shim.h"
#include "attach.decl.h"
#include "helper.decl.h"
#include "hproto_table.h"

#define LXCPY_HMAX_MSG (128 * 1024)
#define LXCPY_HMAX_FDS 12

/* -- generated from the table ---------------------------------------------- */

/* The C type of each field type. */
#define LXCPY_HCTYPE_I32 int32_t
#define LXCPY_HCTYPE_I64 int64_t
#define LXCPY_HCTYPE_STR const char *
#define LXCPY_HCTYPE_STRV char **
#define LXCPY_HCTYPE_I32V struct lxcpy_hvec
#define LXCPY_HCTYPE_FD int

/* LXCPY_HOP_<KIND>: the kinds' op values. */
#define LXCPY_HGEN_OP(k, value) LXCPY_HOP_##k = value,
enum { LXCPY_HPROTO_KINDS(LXCPY_HGEN_OP) };

/* LXCPY_HFD_<KIND>_<SLOT>: each kind's fd slots (LXCPY_HFD_REPLY is 0 for
 * all); LXCPY_HFD_<KIND>_COUNT of them, the reply socket included. */
#define LXCPY_HFD_REPLY 0
#define LXCPY_HGEN_NOFIELD(k, t, n, c)
#define LXCPY_HGEN_SLOT(k, n, c) LXCPY_HFD_##k##_##n,
#define LXCPY_HGEN_SLOTS(k, value) \
	enum { LXCPY_HFD_##k##_REPLY = LXCPY_HFD_REPLY, \
	       LXCPY_HPROTO_##k(k, LXCPY_HGEN_NOFIELD, LXCPY_HGEN_SLOT) LXCPY_HFD_##k##_COUNT };
LXCPY_HPROTO_KINDS(LXCPY_HGEN_SLOTS)

/* struct lxcpy_hreq_<kind>: a request's fields, by name. Decoded ones
 * point into the message (strings) and into allocations that
 * lxcpy_hreq_free() frees (arrays); FD fields hold the received fds. */
#define LXCPY_HGEN_MEMBER(k, t, n, c) LXCPY_HCTYPE_##t n;
#define LXCPY_HGEN_NOSLOT(k, n, c)
#define LXCPY_HGEN_STRUCT(k, value) \
	struct lxcpy_hreq_##k { uint32_t op; LXCPY_HPROTO_##k(k, LXCPY_HGEN_MEMBER, LXCPY_HGEN_NOSLOT) };
LXCPY_HPROTO_KINDS(LXCPY_HGEN_STRUCT)

/* A decoded request: op says which member is filled. */
#define LXCPY_HGEN_UNION(k, value) struct lxcpy_hreq_##k k;
struct lxcpy_hreq {
	union {
		uint32_t op; /* the first member of each */
		LXCPY_HPROTO_KINDS(LXCPY_HGEN_UNION)
	};
};

/* -- the helper's side ----------------------------------------------------- */

/* Decode and check a message of n bytes received with nfds fds (fds[0]
 * the reply socket): its framing and version, every field's check, every
 * fd slot's type, and the FD fields (each sent fd used, indexes in
 * range), which it resolves to the fds. 0, -EPROTO for a message of
 * another protocol version, -EINVAL when malformed, -ENOMEM. On failure
 * nothing is left to free; on success lxcpy_hreq_free() frees. */
int lxcpy_hunpack(const char *buf, size_t n, const int *fds, int nfds, struct lxcpy_hreq *req);
/* The same without fds (no fd is checked or resolved: FD fields keep
 * their indexes): what `lxcpy-helper --selftest-decode` uses. */
int lxcpy_hdecode(const char *buf, size_t n, struct lxcpy_hreq *req);
void lxcpy_hreq_free(struct lxcpy_hreq *req);

/* An unpacked ATTACH request as liblxc's attach wants it: o points into
 * the request (which must outlive it). */
struct lxcpy_hattach {
	struct lxcpy_attach_opts o;
	const char *name;
	const char *lxcpath;
	char **argv;
	char **environ;
};
void lxcpy_hattach_opts(const struct lxcpy_hreq_ATTACH *r, int errfd, struct lxcpy_hattach *a);

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
/* The helper's side of lxcpy_hrecv: one reply on a request's reply
 * socket, with passfd (or none when < 0). 0 or -errno. */
int lxcpy_hsend_reply(int fd, const struct lxcpy_hreply *r, int passfd);

#endif
