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
 *   PING   no ints, no strs, fds {reply}
 *
 * Replies are struct lxcpy_hreply messages on the reply socket.
 */
#ifndef LXCPY_HPROTO_H
#define LXCPY_HPROTO_H

#include <stdint.h>

#define LXCPY_HMAGIC 0x6c787068u /* "lxph" */
#define LXCPY_HMAX_MSG (128 * 1024)
#define LXCPY_HMAX_INTS 16
#define LXCPY_HMAX_STRS 4096
#define LXCPY_HMAX_FDS 8

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

/* Name checks the public API makes, repeated by the helper: a container
 * name or backend (one path component: not empty, '.' or '..', no '/',
 * valid UTF-8 without whitespace or control characters), an absolute path,
 * and UTF-8 text. */
int lxcpy_valid_name(const char *s);
int lxcpy_valid_path(const char *s);
int lxcpy_valid_text(const char *s);

#endif
