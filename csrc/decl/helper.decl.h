/* The helper protocol's declarations: read by cffi's cdef and by the C
 * compiler. The wire format is one table (csrc/common/hproto_table.h);
 * requests are packed here in C, by the same code the helper executable
 * decodes them with (hproto.c), from a request struct whose layout the
 * table's descriptors below give; Python fills it by field name and moves
 * the bytes and the fds. The request kinds (LXCPY_HOP_*) and fd slots
 * (LXCPY_HFD_<KIND>_<SLOT>) are generated from the table (hproto.h);
 * cffi reads their values through constants.cdef. */
#ifndef LXCPY_HELPER_DECL_H
#define LXCPY_HELPER_DECL_H
#include <stdint.h>

/* A request's header (then its fields: hproto.h). */
#define LXCPY_HMAGIC 0x6c787068u /* "lxph" */
struct lxcpy_hhdr {
	uint32_t magic;
	uint32_t version; /* lxcpy_hproto_version() */
	uint32_t op;      /* LXCPY_HOP_* */
	uint32_t nfds;    /* sent with it, the reply socket included */
	uint32_t len;     /* of the whole message, header included */
};

/* The reply always carries one of these. */
#define LXCPY_HREP_DONE 1   /* status: the wait status of the worker */
#define LXCPY_HREP_PONG 2   /* pid: the helper's pid */
#define LXCPY_HREP_STARTED 3 /* pid: the attached process or the worker (its pidfd rides along) */
/* The helper's first message, on the control socket: status: its
 * protocol version; err: -EPROTO when it refuses to serve (another
 * version was expected). */
#define LXCPY_HREP_HELLO 4

/* A reply. Its layout never changes: the HELLO is how two builds tell
 * each other apart. */
struct lxcpy_hreply {
	int32_t err;    /* 0, or -errno: the request was refused or failed to run */
	int32_t kind;   /* LXCPY_HREP_* */
	int32_t status; /* a wait status (LXCPY_HREP_DONE), a version (HELLO) */
	int32_t pid;
};

/* The protocol version: a hash of the table's text (and of
 * LXCPY_HPROTO_REVISION), the same in the extension and the helper of
 * one build. */
uint32_t lxcpy_hproto_version(void);

/* The table as data. Field types: */
enum {
	LXCPY_HT_I32 = 1,
	LXCPY_HT_I64 = 2,
	LXCPY_HT_STR = 3,
	LXCPY_HT_STRV = 4,
	LXCPY_HT_I32V = 5,
	LXCPY_HT_FD = 6,
};

/* An I32V field: n int32s at v; n == -1: none given. */
struct lxcpy_hvec {
	int32_t n;
	const int32_t *v;
};

struct lxcpy_hfield {
	const char *name;
	int type;          /* LXCPY_HT_* */
	const char *check; /* the name of its check (hproto.c) */
	int offset;        /* of its member in the kind's request struct */
	int (*check_fn)(const void *member);
};

struct lxcpy_hslot {
	const char *name;  /* slot i + 1 of the kind is slots[i] */
	const char *check;
	int (*check_fn)(const void *fd);
};

struct lxcpy_hkind {
	const char *name;
	uint32_t op;       /* LXCPY_HOP_* */
	int size;          /* of its request struct, whose first member is op */
	int nfields;
	const struct lxcpy_hfield *fields;
	int nslots;        /* fixed fd slots after the reply socket */
	const struct lxcpy_hslot *slots;
};

/* The kinds in table order (i < lxcpy_hnkinds()), and by op (NULL if
 * there is none). */
int lxcpy_hnkinds(void);
const struct lxcpy_hkind *lxcpy_hkind_at(int i);
const struct lxcpy_hkind *lxcpy_hkind_of(uint32_t op);

/* Pack the request req (a kind's request struct: its op first) into buf:
 * the message's length, or -errno (-E2BIG when it does not fit in cap or
 * in the protocol's limit, -EINVAL for an unknown op). The fds of its FD
 * fields (each once) are written to fds (*nfds of them, at most fdcap):
 * they are sent after the kind's fixed slots. */
int lxcpy_hpack(char *buf, int cap, const void *req, int *fds, int fdcap, int *nfds);

/* An attach request: o (its fds included), argv (argv[0] is the program),
 * plus this process's environment and working directory, which liblxc
 * hands to the attached process. The fds to send after the reply socket
 * (the fixed slots, then the FD fields') are written to fds (*nfds of
 * them; fdcap >= LXCPY_HATTACH_FDS). */
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
