/* The helper protocol: packing (in the extension) and decoding and
 * checking (in lxcpy-helper), one implementation for both sides, driven
 * by the table (wire_table.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"

extern char **environ;

_Static_assert(sizeof(struct lxcpy_request_header) == 20, "the header is five u32s");
_Static_assert(sizeof(struct lxcpy_reply) == 16, "a reply (and the HELLO) is four int32s");

int lxcpy_wire_max_msg(void)
{
	return LXCPY_WIRE_MAX_MSG;
}

/* -- the fields' checks --------------------------------------------------------
 *
 * check_<TYPE>_<CHECK>, named by the table: 1 when the member (of that
 * type) is acceptable. A check the table names for a type it was not
 * written for does not compile. FD fields and slots are checked on the
 * received fd (check_FD_*, check_SLOT_*). */

static int fd_is(int fd, mode_t type)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

static int32_t i32(const void *m)
{
	int32_t v;

	memcpy(&v, m, sizeof(v));
	return v;
}

static const char *str(const void *m)
{
	const char *s;

	memcpy(&s, m, sizeof(s));
	return s;
}

static char **strv(const void *m)
{
	char **v;

	memcpy(&v, m, sizeof(v));
	return v;
}

static int check_I32_BOOL(const void *m)
{
	return i32(m) == 0 || i32(m) == 1;
}

/* The flags the public API passes to liblxc's create. */
static int check_I32_CREATE_FLAGS(const void *m)
{
	return (i32(m) & ~LXC_CREATE_QUIET) == 0;
}

/* -1 (the container's), or CLONE_NEW* flags. */
static int check_I32_NAMESPACES(const void *m)
{
	const int32_t all = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
			    CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWCGROUP;

	return i32(m) == -1 || (i32(m) & ~all) == 0;
}

/* -1 (none given), or a u32 (a uid_t, gid_t or personality). */
static int check_I64_U32_OR_NONE(const void *m)
{
	int64_t v;

	memcpy(&v, m, sizeof(v));
	return v >= -1 && v <= (int64_t)UINT32_MAX;
}

static int check_STR_NAME(const void *m)
{
	return str(m) && lxcpy_valid_name(str(m));
}

static int check_STR_OPT_NAME(const void *m)
{
	return !str(m) || lxcpy_valid_name(str(m));
}

static int check_STR_PATH(const void *m)
{
	return str(m) && lxcpy_valid_path(str(m));
}

static int check_STR_OPT_ABSPATH(const void *m)
{
	return !str(m) || str(m)[0] == '/';
}

static int check_STR_OPT_NONEMPTY(const void *m)
{
	return !str(m) || str(m)[0];
}

static int check_STR_OPT_TEXT(const void *m)
{
	return !str(m) || (str(m)[0] && lxcpy_valid_text(str(m)));
}

/* liblxc writes the template and its arguments into the config (comment
 * lines): no newline may reach it. */
static int check_STR_TEMPLATE(const void *m)
{
	return !str(m) || (str(m)[0] && lxcpy_valid_text(str(m)) && !strpbrk(str(m), "\n\r"));
}

static int check_STRV_ANY(const void *m)
{
	(void)m;
	return 1;
}

/* A command is never empty; no command is NULL. */
static int check_STRV_CMD(const void *m)
{
	return !strv(m) || strv(m)[0];
}

/* A program to run: argv[0] is not empty. */
static int check_STRV_ARGV(const void *m)
{
	return strv(m) && strv(m)[0] && strv(m)[0][0];
}

/* Template arguments (see TEMPLATE). */
static int check_STRV_LINES(const void *m)
{
	for (char **v = strv(m); v && *v; v++)
		if (strpbrk(*v, "\n\r"))
			return 0;
	return strv(m) != NULL;
}

/* NAME=value entries. */
static int check_STRV_ENV(const void *m)
{
	for (char **v = strv(m); v && *v; v++) {
		const char *eq = strchr(*v, '=');
		if (!eq || eq == *v)
			return 0;
	}
	return 1;
}

/* Variable names. */
static int check_STRV_ENV_NAMES(const void *m)
{
	for (char **v = strv(m); v && *v; v++)
		if (!(*v)[0] || strchr(*v, '='))
			return 0;
	return 1;
}

/* Supplementary group ids: (gid_t)-1 is no group. */
static int check_I32V_GROUPS(const void *m)
{
	struct lxcpy_int_vec g;

	memcpy(&g, m, sizeof(g));
	for (int32_t i = 0; i < g.n; i++)
		if (g.v[i] == -1)
			return 0;
	return 1;
}

static int check_FD_ANY(const void *m)
{
	(void)m;
	return 1;
}

/* liblxc chmods and chowns its stdio: lxcpy sends it pipes. */
static int check_FD_OPT_FIFO(const void *m)
{
	return i32(m) == -1 || fd_is(i32(m), S_IFIFO);
}

static int check_SLOT_REG(const void *m)
{
	return fd_is(i32(m), S_IFREG);
}

static int check_SLOT_FIFO(const void *m)
{
	return fd_is(i32(m), S_IFIFO);
}

/* -- the table as data ------------------------------------------------------- */

#define GEN_FIELD(k, t, n, c)                                                             \
	{#n, LXCPY_FIELD_##t, #c, (int)offsetof(struct lxcpy_request_##k, n), check_##t##_##c},
#define GEN_SLOT(k, n, c) {#n, #c, check_SLOT_##c},
#define GEN_NOFIELD(k, t, n, c)
#define GEN_NOSLOT(k, n, c)
/* Each list ends with a NULL entry (none is ever empty then). */
#define GEN_LISTS(k, value)                                                                  \
	static const struct lxcpy_wire_field fields_##k[] = {                                \
		LXCPY_WIRE_KIND_##k(k, GEN_FIELD, GEN_NOSLOT){NULL, 0, NULL, 0, NULL}};      \
	static const struct lxcpy_wire_slot slots_##k[] = {                                  \
		LXCPY_WIRE_KIND_##k(k, GEN_NOFIELD, GEN_SLOT){NULL, NULL, NULL}};
LXCPY_WIRE_KINDS(GEN_LISTS)

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define GEN_KIND(k, value)                                                                    \
	{#k, value, (int)sizeof(struct lxcpy_request_##k), COUNT(fields_##k) - 1, fields_##k, \
	 COUNT(slots_##k) - 1, slots_##k},
static const struct lxcpy_wire_kind kinds[] = {LXCPY_WIRE_KINDS(GEN_KIND)};

#define GEN_SLOT_COUNT(k, value)                                                         \
	_Static_assert(LXCPY_FD_##k##_COUNT == COUNT(slots_##k), "slots of " #k);        \
	_Static_assert(LXCPY_FD_##k##_COUNT <= LXCPY_WIRE_MAX_FDS, "slots of " #k);
LXCPY_WIRE_KINDS(GEN_SLOT_COUNT)

int lxcpy_wire_nkinds(void)
{
	return COUNT(kinds);
}

const struct lxcpy_wire_kind *lxcpy_wire_kind_at(int i)
{
	return i >= 0 && i < COUNT(kinds) ? &kinds[i] : NULL;
}

const struct lxcpy_wire_kind *lxcpy_wire_kind_of(uint32_t op)
{
	for (int i = 0; i < COUNT(kinds); i++)
		if (kinds[i].op == op)
			return &kinds[i];
	return NULL;
}

/* -- the version ----------------------------------------------------------------
 *
 * The table's text, as the preprocessor expands it (every kind, op,
 * field type, name and check, every slot), with the revision and the
 * sizes of the fixed structs: its FNV-1a hash is the version. Both sides
 * of one build compile this same text, so a helper from a build whose
 * table differs has another version. */

#define TXT_(...) #__VA_ARGS__
#define TXT(...) TXT_(__VA_ARGS__)
#define TXT_FIELD(k, t, n, c) t n c;
#define TXT_SLOT(k, n, c) fd n c;
#define TXT_KIND(k, value) k value{LXCPY_WIRE_KIND_##k(k, TXT_FIELD, TXT_SLOT)}
static const char table_text[] = TXT(revision LXCPY_WIRE_REVISION; LXCPY_WIRE_KINDS(TXT_KIND));

uint32_t lxcpy_wire_version(void)
{
	static uint32_t version; /* computed once: the same by every thread */
	uint32_t h = __atomic_load_n(&version, __ATOMIC_RELAXED);
	size_t sizes[] = {sizeof(struct lxcpy_request_header), sizeof(struct lxcpy_reply), LXCPY_WIRE_MAX_MSG,
			  LXCPY_WIRE_MAX_FDS};

	if (h)
		return h;
	h = 2166136261u;
	for (size_t i = 0; i < sizeof(table_text) - 1; i++)
		h = (h ^ (unsigned char)table_text[i]) * 16777619u;
	for (size_t i = 0; i < COUNT(sizes); i++)
		h = (h ^ (uint32_t)sizes[i]) * 16777619u;
	h = h ? h : 1;
	__atomic_store_n(&version, h, __ATOMIC_RELAXED);
	return h;
}

/* -- packing -------------------------------------------------------------- */

#define NONE UINT32_MAX /* the count or length of a NULL STR, STRV or I32V */

struct packer {
	char *buf;
	size_t cap;
	size_t len;
	int err;
};

static void put(struct packer *p, const void *data, size_t n)
{
	if (p->err)
		return;
	if (n > p->cap - p->len || p->len + n > LXCPY_WIRE_MAX_MSG) {
		p->err = -E2BIG;
		return;
	}
	if (n == 0)
		return; /* data may be NULL then: memcpy wants neither */
	memcpy(p->buf + p->len, data, n);
	p->len += n;
}

static void put_u32(struct packer *p, uint32_t v)
{
	put(p, &v, sizeof(v));
}

static void put_str(struct packer *p, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= LXCPY_WIRE_MAX_MSG) {
		p->err = -E2BIG;
		return;
	}
	put_u32(p, s ? (uint32_t)n : NONE);
	if (s)
		put(p, s, n + 1);
}

/* The index among all the fds sent (the reply socket is 0) of an FD
 * field's fd, added to fds if new; -1 for fd < 0. */
static int32_t fd_index(int fd, int first, int *fds, int fdcap, int *nfds, int *err)
{
	if (fd < 0)
		return -1;
	for (int i = 0; i < *nfds; i++)
		if (fds[i] == fd)
			return first + i;
	if (*nfds >= fdcap || first + *nfds >= LXCPY_WIRE_MAX_FDS) {
		*err = -E2BIG;
		return -1;
	}
	fds[*nfds] = fd;
	return first + (*nfds)++;
}

int lxcpy_pack_request(char *buf, int cap, const void *req, int *fds, int fdcap, int *nfds)
{
	const struct lxcpy_wire_kind *k = lxcpy_wire_kind_of(*(const uint32_t *)req);
	struct lxcpy_request_header hdr = {.magic = LXCPY_WIRE_MAGIC, .version = lxcpy_wire_version()};
	struct packer p = {.buf = buf, .cap = cap < 0 ? 0 : (size_t)cap};

	*nfds = 0;
	if (!k)
		return -EINVAL;
	put(&p, &hdr, sizeof(hdr));
	for (int i = 0; i < k->nfields; i++) {
		const struct lxcpy_wire_field *f = &k->fields[i];
		const char *m = (const char *)req + f->offset;

		switch (f->type) {
		case LXCPY_FIELD_I32:
			put(&p, m, sizeof(int32_t));
			break;
		case LXCPY_FIELD_I64:
			put(&p, m, sizeof(int64_t));
			break;
		case LXCPY_FIELD_STR:
			put_str(&p, str(m));
			break;
		case LXCPY_FIELD_STRV: {
			char **v = strv(m);
			uint32_t n = 0;

			for (; v && v[n]; n++)
				;
			put_u32(&p, v ? n : NONE);
			for (uint32_t j = 0; j < n; j++)
				put_str(&p, v[j]);
			break;
		}
		case LXCPY_FIELD_I32V: {
			struct lxcpy_int_vec g;

			memcpy(&g, m, sizeof(g));
			put_u32(&p, g.n < 0 ? NONE : (uint32_t)g.n);
			if (g.n > 0)
				put(&p, g.v, (size_t)g.n * sizeof(int32_t));
			break;
		}
		case LXCPY_FIELD_FD: {
			int32_t x = fd_index(i32(m), 1 + k->nslots, fds, fdcap, nfds, &p.err);
			put(&p, &x, sizeof(x));
			break;
		}
		default:
			return -EINVAL;
		}
	}
	if (p.err)
		return p.err;
	hdr.op = k->op;
	hdr.nfds = (uint32_t)(1 + k->nslots + *nfds);
	hdr.len = (uint32_t)p.len;
	memcpy(buf, &hdr, sizeof(hdr));
	return (int)p.len;
}

/* -- decoding ----------------------------------------------------------------- */

struct reader {
	const char *p, *end;
	int err;
};

static void get(struct reader *r, void *out, size_t n)
{
	if (r->err || n > (size_t)(r->end - r->p)) {
		r->err = -EINVAL;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
}

static uint32_t get_u32(struct reader *r)
{
	uint32_t v;

	get(r, &v, sizeof(v));
	return v;
}

/* A STR, NULL-terminated in place; NULL for a NULL one, or malformed
 * (r->err then). */
static const char *get_str(struct reader *r, int nullable)
{
	uint32_t n = get_u32(r);
	const char *s = r->p;

	if (r->err)
		return NULL;
	if (n == NONE && nullable)
		return NULL;
	/* n bytes without a NUL, then a NUL. */
	if (n >= (size_t)(r->end - r->p) || s[n] != '\0' || memchr(s, '\0', n)) {
		r->err = -EINVAL;
		return NULL;
	}
	r->p += n + 1;
	return s;
}

void lxcpy_request_free(struct lxcpy_request *req)
{
	const struct lxcpy_wire_kind *k = lxcpy_wire_kind_of(req->op);

	for (int i = 0; k && i < k->nfields; i++) {
		char *m = (char *)req + k->fields[i].offset;

		if (k->fields[i].type == LXCPY_FIELD_STRV) {
			free(strv(m));
			memset(m, 0, sizeof(char **));
		} else if (k->fields[i].type == LXCPY_FIELD_I32V) {
			struct lxcpy_int_vec g;

			memcpy(&g, m, sizeof(g));
			free((void *)g.v);
			memset(m, 0, sizeof(g));
		}
	}
}

static int decode(const char *buf, size_t n, struct lxcpy_request *req, uint32_t *nfds)
{
	const struct lxcpy_wire_kind *k;
	struct lxcpy_request_header hdr;
	struct reader r = {.p = buf, .end = buf + n};
	uint64_t used = 0;

	memset(req, 0, sizeof(*req));
	if (n < sizeof(hdr) || n > LXCPY_WIRE_MAX_MSG)
		return -EINVAL;
	get(&r, &hdr, sizeof(hdr));
	if (hdr.magic != LXCPY_WIRE_MAGIC || hdr.len != n)
		return -EINVAL;
	if (hdr.version != lxcpy_wire_version())
		return -EPROTO;
	k = lxcpy_wire_kind_of(hdr.op);
	if (!k || hdr.nfds < (uint32_t)(1 + k->nslots) || hdr.nfds > LXCPY_WIRE_MAX_FDS)
		return -EINVAL;
	req->op = hdr.op;
	for (int i = 0; i < k->nfields && !r.err; i++) {
		const struct lxcpy_wire_field *f = &k->fields[i];
		char *m = (char *)req + f->offset;

		switch (f->type) {
		case LXCPY_FIELD_I32:
			get(&r, m, sizeof(int32_t));
			break;
		case LXCPY_FIELD_I64:
			get(&r, m, sizeof(int64_t));
			break;
		case LXCPY_FIELD_STR: {
			const char *s = get_str(&r, 1);
			memcpy(m, &s, sizeof(s));
			break;
		}
		case LXCPY_FIELD_STRV: {
			uint32_t c = get_u32(&r);
			char **v;

			if (r.err || c == NONE)
				break;
			/* Each STR takes 5 bytes at least. */
			if (c > (size_t)(r.end - r.p) / 5) {
				r.err = -EINVAL;
				break;
			}
			v = calloc((size_t)c + 1, sizeof(char *));
			if (!v) {
				r.err = -ENOMEM;
				break;
			}
			memcpy(m, &v, sizeof(v)); /* freed from there */
			for (uint32_t j = 0; j < c && !r.err; j++)
				v[j] = (char *)get_str(&r, 0);
			break;
		}
		case LXCPY_FIELD_I32V: {
			uint32_t c = get_u32(&r);
			struct lxcpy_int_vec g = {.n = -1};
			int32_t *v;

			if (!r.err && c != NONE) {
				if (c > (size_t)(r.end - r.p) / sizeof(int32_t)) {
					r.err = -EINVAL;
					break;
				}
				/* A copy: aligned, and never of size 0. */
				v = malloc(((size_t)c + 1) * sizeof(int32_t));
				if (!v) {
					r.err = -ENOMEM;
					break;
				}
				get(&r, v, (size_t)c * sizeof(int32_t));
				g.n = (int32_t)c;
				g.v = v;
			}
			memcpy(m, &g, sizeof(g));
			break;
		}
		case LXCPY_FIELD_FD: {
			int32_t x;

			get(&r, &x, sizeof(x));
			/* -1, or one of the fds after the fixed slots. */
			if (x != -1 && (x < 1 + k->nslots || (uint32_t)x >= hdr.nfds))
				r.err = -EINVAL;
			else if (x >= 0)
				used |= 1ull << x;
			memcpy(m, &x, sizeof(x));
			break;
		}
		default:
			r.err = -EINVAL;
		}
		if (!r.err && f->type != LXCPY_FIELD_FD && !f->check_fn(m))
			r.err = -EINVAL;
	}
	if (!r.err && r.p != r.end)
		r.err = -EINVAL; /* bytes after the last field */
	/* Every fd sent after the fixed slots is some FD field's. */
	for (uint32_t x = 1 + (uint32_t)k->nslots; !r.err && x < hdr.nfds; x++)
		if (!(used & (1ull << x)))
			r.err = -EINVAL;
	if (r.err) {
		lxcpy_request_free(req);
		return r.err;
	}
	*nfds = hdr.nfds;
	return 0;
}

int lxcpy_decode_request(const char *buf, size_t n, struct lxcpy_request *req)
{
	uint32_t nfds;

	return decode(buf, n, req, &nfds);
}

int lxcpy_unpack_request(const char *buf, size_t n, const int *fds, int nfds, struct lxcpy_request *req)
{
	const struct lxcpy_wire_kind *k;
	uint32_t want;
	int err = decode(buf, n, req, &want);

	if (err)
		return err;
	k = lxcpy_wire_kind_of(req->op);
	if (want != (uint32_t)nfds)
		goto bad;
	for (int i = 0; i < k->nslots; i++)
		if (!k->slots[i].check_fn(&fds[1 + i]))
			goto bad;
	for (int i = 0; i < k->nfields; i++) {
		const struct lxcpy_wire_field *f = &k->fields[i];
		char *m = (char *)req + f->offset;
		int32_t x;

		if (f->type != LXCPY_FIELD_FD)
			continue;
		memcpy(&x, m, sizeof(x));
		x = x < 0 ? -1 : fds[x];
		memcpy(m, &x, sizeof(x));
		if (!f->check_fn(m))
			goto bad;
	}
	return 0;
bad:
	lxcpy_request_free(req);
	return -EINVAL;
}

/* -- attach requests ------------------------------------------------------------
 *
 * The options (attach_table.h) go member by member, through their TYPE's
 * conversion each way. */

#define TO_WIRE_BOOL(x) (!!(x))
#define TO_WIRE_I32(x) (x)
#define TO_WIRE_I64(x) ((x) < 0 ? -1 : (x))
#define TO_WIRE_STR(x) (x)
#define TO_WIRE_STRV(x) (x)
#define TO_WIRE_I32V(x) ((struct lxcpy_int_vec){.n = (x).n < 0 ? -1 : (x).n, .v = (x).v})
#define FROM_WIRE_BOOL(x) (x)
#define FROM_WIRE_I32(x) (x)
#define FROM_WIRE_I64(x) (x)
#define FROM_WIRE_STR(x) ((char *)(x))
#define FROM_WIRE_STRV(x) ((x) && (x)[0] ? (x) : NULL)
#define FROM_WIRE_I32V(x) (x)
#define OPTION_TO_WIRE(r, o, t, m, c, flag) (r)->m = TO_WIRE_##t((o)->m);
#define OPTION_FROM_WIRE(o, r, t, m, c, flag) (o)->m = FROM_WIRE_##t((r)->m);
#define OPTION_SIZE(ctx, t, m, c, flag)                                                     \
	_Static_assert(sizeof(((struct lxcpy_attach_opts *)0)->m) ==                        \
			       sizeof(((struct lxcpy_request_ATTACH *)0)->m),               \
		       "attach option " #m ": its member and its field differ");
LXCPY_ATTACH_OPTIONS(OPTION_SIZE, _)

int lxcpy_pack_attach_request(char *buf, int cap, const char *name, const char *lxcpath,
		       const struct lxcpy_attach_opts *o, char **argv, int logfd, int *fds,
		       int fdcap, int *nfds)
{
	struct lxcpy_request_ATTACH r = {
		.op = LXCPY_OP_ATTACH,
		.name = name,
		.lxcpath = lxcpath,
		.initial_cwd = getcwd(NULL, 0),
		.argv = argv,
		.caller_environ = environ,
		.liblxc_stdin = o->liblxc_stdio[0],
		.liblxc_stdout = o->liblxc_stdio[1],
		.liblxc_stderr = o->liblxc_stdio[2],
		.child_stdin = o->child_stdio[0],
		.child_stdout = o->child_stdio[1],
		.child_stderr = o->child_stdio[2],
	};
	const int fixed = LXCPY_FD_ATTACH_COUNT - 1;
	int len;

	LXCPY_ATTACH_OPTIONS(OPTION_TO_WIRE, &r, o)
	*nfds = 0;
	if (fdcap < fixed) {
		free((void *)r.initial_cwd);
		return -E2BIG;
	}
	fds[LXCPY_FD_ATTACH_LOG - 1] = logfd;
	fds[LXCPY_FD_ATTACH_ERR - 1] = o->errfd;
	len = lxcpy_pack_request(buf, cap, &r, fds + fixed, fdcap - fixed, nfds);
	free((void *)r.initial_cwd);
	if (len >= 0)
		*nfds += fixed;
	return len;
}

void lxcpy_attach_args_from(const struct lxcpy_request_ATTACH *r, int errfd, struct lxcpy_attach_args *a)
{
	struct lxcpy_attach_opts *o = &a->o;

	memset(a, 0, sizeof(*a));
	a->name = r->name;
	a->lxcpath = r->lxcpath;
	a->argv = r->argv;
	a->environ = r->caller_environ;
	LXCPY_ATTACH_OPTIONS(OPTION_FROM_WIRE, o, r)
	o->liblxc_stdio[0] = r->liblxc_stdin;
	o->liblxc_stdio[1] = r->liblxc_stdout;
	o->liblxc_stdio[2] = r->liblxc_stderr;
	o->child_stdio[0] = r->child_stdin;
	o->child_stdio[1] = r->child_stdout;
	o->child_stdio[2] = r->child_stderr;
	o->initial_cwd = (char *)r->initial_cwd;
	o->errfd = errfd;
	o->reset_sigmask = 1;
}

/* -- names, paths and text ------------------------------------------------- */

/* Decode one UTF-8 sequence (strict: no overlongs, surrogates or values
 * past U+10FFFF). Returns its length, 0 when invalid. */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	int len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Whitespace and control characters, as Python's str.isspace() and
 * str.isprintable() see them in the ranges that matter for names. */
static bool blank_or_control(uint32_t c)
{
	return c <= 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
	       (c >= 0x205f && c <= 0x206f) || c == 0x3000 || c == 0xfeff ||
	       (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xe000 && c <= 0xf8ff) ||
	       c >= 0xf0000;
}

int lxcpy_valid_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	while (*p) {
		int n = utf8_next(p, &cp);
		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

int lxcpy_valid_name(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > NAME_MAX)
		return 0;
	while (*p) {
		int n = utf8_next(p, &cp);
		if (!n || cp == '/' || blank_or_control(cp))
			return 0;
		p += n;
	}
	return 1;
}

/* An absolute path that fits on one config line (liblxc writes lxcpaths
 * into config lines: a newline would add a line of the sender's choosing). */
int lxcpy_valid_path(const char *s)
{
	return s[0] == '/' && strlen(s) < PATH_MAX && !strpbrk(s, "\n\r");
}

/* -- transport ---------------------------------------------------------------
 *
 * Requests and replies are single SOCK_SEQPACKET messages with fds
 * (SCM_RIGHTS). Done here rather than with Python's socket module: one C
 * call each way instead of socket objects and Python-level cmsg packing,
 * on the path of every run(). */

/* Up to this many fds besides the reply socket (more than the helper takes:
 * tests send too many on purpose). */
#define SEND_MAX_FDS (2 * LXCPY_WIRE_MAX_FDS)

int lxcpy_send_with_fds(int sock, const void *data, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * (SEND_MAX_FDS + 1))];
	} cbuf;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	for (;;) {
		if (sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int lxcpy_take_fds(struct msghdr *msg, int *fds, int cap)
{
	int n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n < cap)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

/* One message off sock into buf (len bytes), with recvmsg flags
 * (MSG_CMSG_CLOEXEC always), its fds into fds (room for cap; more are
 * closed), counted in *nfds: its length, 0 at EOF, or -errno; *cut when
 * the message or its fds were cut short. */
static ssize_t recv_with_fds(int sock, void *buf, size_t len, int flags, int *fds, int cap,
			     int *nfds, int *cut)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * LXCPY_WIRE_MAX_FDS * 2)];
	} cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	*nfds = 0;
	*cut = 0;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
	if (n < 0)
		return -errno;
	*nfds = lxcpy_take_fds(&msg, fds, cap);
	*cut = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	return n;
}

ssize_t lxcpy_recv_request(int sock, char *buf, int flags, int *fds, int *nfds, int *bad)
{
	ssize_t n = recv_with_fds(sock, buf, LXCPY_WIRE_MAX_MSG, flags, fds, LXCPY_WIRE_MAX_FDS * 2,
				  nfds, bad);

	if (n >= 0 && *nfds > LXCPY_WIRE_MAX_FDS)
		*bad = 1;
	return n;
}

int lxcpy_send_request(int ctl, const char *msg, int len, const int *fds, int nfds)
{
	int all[SEND_MAX_FDS + 1];
	int sv[2], err;

	if (len < 0 || nfds < 0 || nfds > SEND_MAX_FDS)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	all[0] = sv[1];
	if (nfds > 0)
		memcpy(all + 1, fds, sizeof(int) * (size_t)nfds);
	err = lxcpy_send_with_fds(ctl, msg, (size_t)len, all, nfds + 1);
	close(sv[1]);
	if (err < 0) {
		close(sv[0]);
		return err;
	}
	return sv[0];
}

int lxcpy_send_attach_request(int ctl, const char *name, const char *lxcpath,
		       const struct lxcpy_attach_opts *o, char **argv, int logfd)
{
	int fds[LXCPY_ATTACH_REQUEST_FDS], nfds = 0, cap = 16384, len, ret;
	char *buf = malloc((size_t)cap);

	if (!buf)
		return -ENOMEM;
	len = lxcpy_pack_attach_request(buf, cap, name, lxcpath, o, argv, logfd, fds,
				 LXCPY_ATTACH_REQUEST_FDS, &nfds);
	if (len == -E2BIG) {
		/* A large environment: once more with all the protocol allows. */
		char *more = realloc(buf, LXCPY_WIRE_MAX_MSG);

		if (!more) {
			free(buf);
			return -ENOMEM;
		}
		buf = more;
		len = lxcpy_pack_attach_request(buf, LXCPY_WIRE_MAX_MSG, name, lxcpath, o, argv, logfd, fds,
					 LXCPY_ATTACH_REQUEST_FDS, &nfds);
	}
	ret = len < 0 ? len : lxcpy_send_request(ctl, buf, len, fds, nfds);
	free(buf);
	return ret;
}

int lxcpy_send_reply(int fd, const struct lxcpy_reply *r, int passfd)
{
	return lxcpy_send_with_fds(fd, r, sizeof(*r), &passfd, passfd >= 0 ? 1 : 0);
}

int lxcpy_recv_reply(int fd, int nonblock, struct lxcpy_reply *r, int *passed)
{
	char data[sizeof(*r) + 1];
	int nfds, cut;
	ssize_t n;

	*passed = -1;
	n = recv_with_fds(fd, data, sizeof(data), nonblock ? MSG_DONTWAIT : 0, passed, 1, &nfds, &cut);
	if (n < 0)
		return n == -EWOULDBLOCK ? -EAGAIN : (int)n;
	if (n == 0 || n != (ssize_t)sizeof(*r) || cut) {
		if (*passed >= 0)
			close(*passed);
		*passed = -1;
		return n == 0 ? 0 : -EPROTO;
	}
	memcpy(r, data, sizeof(*r));
	return 1;
}
