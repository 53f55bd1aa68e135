/* The helper protocol's declarations: read by cffi's cdef and by the C
 * compiler. The wire format is one table (csrc/common/wire_table.h);
 * requests are packed here in C, by the same code the helper executable
 * decodes them with (wire.c), from a request struct whose layout the
 * table's descriptors below give; Python fills it by field name and moves
 * the bytes and the fds. The request kinds (LXCPY_OP_*) and fd slots
 * (LXCPY_FD_<KIND>_<SLOT>) are generated from the table (wire.h);
 * cffi reads their values through constants.cdef. */
#ifndef LXCPY_WIRE_DECL_H
#define LXCPY_WIRE_DECL_H
#include <stdint.h>

/* A request's header (then its fields: wire.h). */
#define LXCPY_WIRE_MAGIC 0x6c787068u /* "lxph" */
struct lxcpy_request_header {
	uint32_t magic;
	uint32_t version; /* lxcpy_wire_version() */
	uint32_t op;      /* LXCPY_OP_* */
	uint32_t nfds;    /* sent with it, the reply socket included */
	uint32_t len;     /* of the whole message, header included */
};

/* The reply always carries one of these. */
#define LXCPY_REPLY_DONE 1   /* status: the wait status of the worker */
#define LXCPY_REPLY_PONG 2   /* pid: the helper's pid */
#define LXCPY_REPLY_STARTED 3 /* pid: the attached process or the worker (its pidfd rides along) */
/* The helper's first message, on the control socket: status: its
 * protocol version; err: -EPROTO when it refuses to serve (another
 * version was expected). */
#define LXCPY_REPLY_HELLO 4

/* A reply. Its layout never changes: the HELLO is how two builds tell
 * each other apart. */
struct lxcpy_reply {
	int32_t err;    /* 0, or -errno: the request was refused or failed to run */
	int32_t kind;   /* LXCPY_REPLY_* */
	int32_t status; /* a wait status (LXCPY_REPLY_DONE), a version (HELLO) */
	int32_t pid;
};

/* The protocol version: a hash of the table's text (and of
 * LXCPY_WIRE_REVISION), the same in the extension and the helper of
 * one build. */
uint32_t lxcpy_wire_version(void);

/* The table as data. Field types: */
enum {
	LXCPY_FIELD_I32 = 1,
	LXCPY_FIELD_I64 = 2,
	LXCPY_FIELD_STR = 3,
	LXCPY_FIELD_STRV = 4,
	LXCPY_FIELD_I32V = 5,
	LXCPY_FIELD_FD = 6,
};

/* An I32V field: a struct lxcpy_int_vec (attach.decl.h). */

struct lxcpy_wire_field {
	const char *name;
	int type;          /* LXCPY_FIELD_* */
	const char *check; /* the name of its check (wire.c) */
	int offset;        /* of its member in the kind's request struct */
	int (*check_fn)(const void *member);
};

struct lxcpy_wire_slot {
	const char *name;  /* slot i + 1 of the kind is slots[i] */
	const char *check;
	int (*check_fn)(const void *fd);
};

struct lxcpy_wire_kind {
	const char *name;
	uint32_t op;       /* LXCPY_OP_* */
	int size;          /* of its request struct, whose first member is op */
	int nfields;
	const struct lxcpy_wire_field *fields;
	int nslots;        /* fixed fd slots after the reply socket */
	const struct lxcpy_wire_slot *slots;
};

/* The kinds in table order (i < lxcpy_wire_nkinds()), and by op (NULL if
 * there is none). */
int lxcpy_wire_nkinds(void);
const struct lxcpy_wire_kind *lxcpy_wire_kind_at(int i);
const struct lxcpy_wire_kind *lxcpy_wire_kind_of(uint32_t op);

/* Pack the request req (a kind's request struct: its op first) into buf:
 * the message's length, or -errno (-E2BIG when it does not fit in cap or
 * in the protocol's limit, -EINVAL for an unknown op). The fds of its FD
 * fields (each once) are written to fds (*nfds of them, at most fdcap):
 * they are sent after the kind's fixed slots. */
int lxcpy_pack_request(char *buf, int cap, const void *req, int *fds, int fdcap, int *nfds);

/* An attach request: o (its fds included), argv (argv[0] is the program),
 * plus this process's environment and working directory, which liblxc
 * hands to the attached process. The fds to send after the reply socket
 * (the fixed slots, then the FD fields') are written to fds (*nfds of
 * them; fdcap >= LXCPY_ATTACH_REQUEST_FDS). */
#define LXCPY_ATTACH_REQUEST_FDS 8
int lxcpy_pack_attach_request(char *buf, int cap, const char *name, const char *lxcpath,
                       const struct lxcpy_attach_opts *o, char **argv, int logfd,
                       int *fds, int fdcap, int *nfds);
/* The largest message the helper accepts. */
int lxcpy_wire_max_msg(void);

/* Send one packed request on the control socket ctl, with a new reply
 * socket followed by fds (nfds of them, at most 24): our end of the reply
 * socket (CLOEXEC), or -errno. */
int lxcpy_send_request(int ctl, const char *msg, int len, const int *fds, int nfds);
/* lxcpy_pack_attach_request, then lxcpy_send_request: the reply socket, or -errno
 * (-E2BIG: too large for the protocol). */
int lxcpy_send_attach_request(int ctl, const char *name, const char *lxcpath,
                       const struct lxcpy_attach_opts *o, char **argv, int logfd);
/* Receive one reply: 1 with *r filled (and *passed the fd it carried, or
 * -1; CLOEXEC, the caller's), 0 at EOF (the helper is gone), -EAGAIN when
 * nonblock and nothing has come yet, -EPROTO for a malformed one, or
 * -errno (-EINTR: a signal came, call again). */
int lxcpy_recv_reply(int fd, int nonblock, struct lxcpy_reply *r, int *passed);
#endif
