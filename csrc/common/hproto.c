/* The helper protocol: packing (in the extension) and unpacking and
 * checking (in lxcpy-helper), one implementation for both sides. */
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

#include "hproto.h"
#include "helper.decl.h"

extern char **environ;

int lxcpy_hmax_msg(void)
{
	return LXCPY_HMAX_MSG;
}

/* -- packing -------------------------------------------------------------- */

struct packer {
	char *buf;
	size_t cap;
	size_t len;
	int err;
	struct lxcpy_hhdr hdr;
};

static void put(struct packer *p, const void *data, size_t n)
{
	if (p->err)
		return;
	if (n > p->cap - p->len || p->len + n > LXCPY_HMAX_MSG) {
		p->err = -E2BIG;
		return;
	}
	if (n == 0)
		return; /* data may be NULL then (a ping has no ints): memcpy wants neither */
	memcpy(p->buf + p->len, data, n);
	p->len += n;
}

static void begin(struct packer *p, char *buf, int cap, uint32_t op, uint32_t nfds,
		  const int32_t *ints, uint32_t nints)
{
	p->buf = buf;
	p->cap = cap < 0 ? 0 : (size_t)cap;
	p->len = 0;
	p->err = 0;
	memset(&p->hdr, 0, sizeof(p->hdr));
	p->hdr.magic = LXCPY_HMAGIC;
	p->hdr.op = op;
	p->hdr.nints = nints;
	p->hdr.nfds = nfds;
	put(p, &p->hdr, sizeof(p->hdr));
	put(p, ints, nints * sizeof(int32_t));
}

static void put_str(struct packer *p, const char *s)
{
	put(p, s ? s : "", strlen(s ? s : "") + 1);
	p->hdr.nstrs++;
}

static void put_strv(struct packer *p, char **v)
{
	for (; v && *v; v++)
		put_str(p, *v);
}

static int end(struct packer *p)
{
	if (p->err)
		return p->err;
	if (p->hdr.nstrs > LXCPY_HMAX_STRS)
		return -E2BIG;
	p->hdr.len = (uint32_t)p->len;
	memcpy(p->buf, &p->hdr, sizeof(p->hdr));
	return (int)p->len;
}

int lxcpy_hpack_ping(char *buf, int cap)
{
	struct packer p;

	begin(&p, buf, cap, LXCPY_HOP_PING, 1, NULL, 0);
	return end(&p);
}

int lxcpy_hpack_start(char *buf, int cap, const char *name, const char *lxcpath,
		      int useinit, char **argv)
{
	int32_t ints[2] = {useinit ? 1 : 0, argv ? 1 : 0};
	struct packer p;

	begin(&p, buf, cap, LXCPY_HOP_START, 3, ints, 2);
	put_str(&p, name);
	put_str(&p, lxcpath);
	put_strv(&p, argv);
	return end(&p);
}

int lxcpy_hpack_create(char *buf, int cap, const char *name, const char *lxcpath,
		       const char *t, const char *bdevtype, int flags, char **argv)
{
	int32_t ints[3] = {flags, t ? 1 : 0, bdevtype ? 1 : 0};
	struct packer p;

	begin(&p, buf, cap, LXCPY_HOP_CREATE, 4, ints, 3);
	put_str(&p, name);
	put_str(&p, lxcpath);
	put_str(&p, t);
	put_str(&p, bdevtype);
	put_strv(&p, argv);
	return end(&p);
}

static uint32_t strv_len(char **v)
{
	uint32_t n = 0;

	for (; v && v[n]; n++)
		;
	return n;
}

/* The index in fds of fd (added if new), or -1 for fd < 0; -E2BIG when
 * there is no room left. */
static int fd_index(int fd, int *fds, int fdcap, int *nfds)
{
	if (fd < 0)
		return -1;
	for (int i = ATTACH_FD_STDIO; i < *nfds; i++)
		if (fds[i - 1] == fd)
			return i;
	if (*nfds - 1 >= fdcap)
		return -E2BIG;
	fds[*nfds - 1] = fd;
	return (*nfds)++;
}

int lxcpy_hpack_attach(char *buf, int cap, const char *name, const char *lxcpath,
		       const struct lxcpy_attach_opts *o, char **argv, int logfd,
		       int *fds, int fdcap, int *nfds)
{
	int32_t fixed[ATTACH_NFIXED];
	char *caller_cwd = getcwd(NULL, 0);
	struct packer p;
	/* fds[] holds what follows the reply socket: its index i is fd i+1. */
	int n = ATTACH_FD_STDIO;
	int flags = 0;

	*nfds = 0;
	if (fdcap < 2 || o->ngroups > LXCPY_HMAX_INTS) {
		free(caller_cwd);
		return -E2BIG;
	}
	fds[ATTACH_FD_LOG - 1] = logfd;
	fds[ATTACH_FD_ERR - 1] = o->errfd;
	for (int i = 0; i < 3; i++) {
		fixed[ATTACH_LXC_FD0 + i] = fd_index(o->liblxc_stdio[i], fds, fdcap, &n);
		fixed[ATTACH_CHILD_FD0 + i] = fd_index(o->child_stdio[i], fds, fdcap, &n);
		if (fixed[ATTACH_LXC_FD0 + i] == -E2BIG || fixed[ATTACH_CHILD_FD0 + i] == -E2BIG) {
			free(caller_cwd);
			return -E2BIG;
		}
	}
	if (o->move_to_cgroup)
		flags |= ATTACH_F_MOVE_TO_CGROUP;
	if (o->drop_capabilities)
		flags |= ATTACH_F_DROP_CAPS;
	if (o->no_new_privs)
		flags |= ATTACH_F_NO_NEW_PRIVS;
	if (o->remount_proc_sys)
		flags |= ATTACH_F_REMOUNT;
	if (o->clear_env)
		flags |= ATTACH_F_CLEAR_ENV;
	fixed[ATTACH_NAMESPACES] = o->namespaces;
	fixed[ATTACH_PERSONALITY] = (int32_t)(uint32_t)(unsigned long)o->personality;
	fixed[ATTACH_HAS_PERSONALITY] = o->personality >= 0;
	/* uid_t on the wire; (uid_t)-1, no id, is liblxc's default. */
	fixed[ATTACH_UID] = o->uid < 0 ? -1 : (int32_t)(uint32_t)o->uid;
	fixed[ATTACH_GID] = o->gid < 0 ? -1 : (int32_t)(uint32_t)o->gid;
	fixed[ATTACH_FLAGS] = flags;
	fixed[ATTACH_HAS_CALLER_CWD] = caller_cwd != NULL;
	fixed[ATTACH_HAS_CWD] = o->cwd != NULL;
	fixed[ATTACH_HAS_LSM] = o->lsm_label != NULL;
	fixed[ATTACH_NGROUPS] = o->ngroups < 0 ? -1 : o->ngroups;
	fixed[ATTACH_NEXTRA_ENV] = (int32_t)strv_len(o->extra_env);
	fixed[ATTACH_NKEEP_ENV] = (int32_t)strv_len(o->keep_env);
	fixed[ATTACH_NARGV] = (int32_t)strv_len(argv);
	fixed[ATTACH_NENVIRON] = (int32_t)strv_len(environ);

	begin(&p, buf, cap, LXCPY_HOP_ATTACH, (uint32_t)n, fixed, ATTACH_NFIXED);
	for (int i = 0; i < o->ngroups; i++) {
		int32_t g = (int32_t)o->groups[i];
		put(&p, &g, sizeof(g));
	}
	p.hdr.nints = ATTACH_NFIXED + (uint32_t)(o->ngroups > 0 ? o->ngroups : 0);
	put_str(&p, name);
	put_str(&p, lxcpath);
	if (caller_cwd)
		put_str(&p, caller_cwd);
	if (o->cwd)
		put_str(&p, o->cwd);
	if (o->lsm_label)
		put_str(&p, o->lsm_label);
	put_strv(&p, o->extra_env);
	put_strv(&p, o->keep_env);
	put_strv(&p, argv);
	put_strv(&p, environ);
	free(caller_cwd);
	*nfds = n - 1;
	return end(&p);
}

/* -- unpacking ------------------------------------------------------------ */

int lxcpy_hunpack(const char *buf, size_t n, struct lxcpy_hreq *req)
{
	struct lxcpy_hhdr hdr;
	const char *p, *stop;
	size_t ints_len;

	if (n < sizeof(hdr) || n > LXCPY_HMAX_MSG)
		return -EINVAL;
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.magic != LXCPY_HMAGIC || hdr.len != n)
		return -EINVAL;
	if (hdr.nints > LXCPY_HMAX_INTS || hdr.nstrs > LXCPY_HMAX_STRS)
		return -EINVAL;
	if (hdr.nfds < 1 || hdr.nfds > LXCPY_HMAX_FDS)
		return -EINVAL;
	ints_len = hdr.nints * sizeof(int32_t);
	if (ints_len > n - sizeof(hdr))
		return -EINVAL;
	req->op = hdr.op;
	req->nints = hdr.nints;
	req->nstrs = hdr.nstrs;
	req->nfds = hdr.nfds;
	/* sizeof(hdr) is a multiple of 4 and buf is aligned. */
	req->ints = (const int32_t *)(const void *)(buf + sizeof(hdr));
	p = buf + sizeof(hdr) + ints_len;
	stop = buf + n;
	for (uint32_t i = 0; i < hdr.nstrs; i++) {
		const char *nul = memchr(p, '\0', (size_t)(stop - p));
		if (!nul)
			return -EINVAL;
		req->strs[i] = p;
		p = nul + 1;
	}
	if (p != stop)
		return -EINVAL;
	return 0;
}

/* -- checks ----------------------------------------------------------------- */

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

/* -- attach requests -------------------------------------------------------- */

static int fd_is(int fd, mode_t type)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

static int env_entry(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq && eq != s;
}

int lxcpy_hunpack_attach(const struct lxcpy_hreq *r, const int *fds, int nfds,
			 struct lxcpy_hattach *a)
{
	const int32_t *in = r->ints;
	const int ns_all = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
			   CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWCGROUP;
	struct lxcpy_attach_opts *o = &a->o;
	uint64_t want;
	uint32_t k = 0;
	int32_t ngroups;
	char **v;

	memset(a, 0, sizeof(*a));
	if (r->op != LXCPY_HOP_ATTACH || r->nints < ATTACH_NFIXED || (int)r->nfds != nfds)
		return -EINVAL;
	if (nfds < ATTACH_FD_STDIO || nfds > ATTACH_FD_STDIO + 6)
		return -EINVAL;
	ngroups = in[ATTACH_NGROUPS];
	if (ngroups < -1 || r->nints != ATTACH_NFIXED + (uint32_t)(ngroups > 0 ? ngroups : 0))
		return -EINVAL;
	if (in[ATTACH_NAMESPACES] != -1 && (in[ATTACH_NAMESPACES] & ~ns_all))
		return -EINVAL;
	if (in[ATTACH_FLAGS] & ~ATTACH_F_ALL)
		return -EINVAL;
	for (int i = ATTACH_HAS_PERSONALITY; i <= ATTACH_HAS_LSM; i++) {
		if (i == ATTACH_UID || i == ATTACH_GID || i == ATTACH_FLAGS)
			continue;
		if (in[i] != 0 && in[i] != 1)
			return -EINVAL;
	}
	if (in[ATTACH_NEXTRA_ENV] < 0 || in[ATTACH_NKEEP_ENV] < 0 || in[ATTACH_NARGV] < 1 ||
	    in[ATTACH_NENVIRON] < 0)
		return -EINVAL;
	want = 2 + (uint64_t)in[ATTACH_HAS_CALLER_CWD] + (uint64_t)in[ATTACH_HAS_CWD] +
	       (uint64_t)in[ATTACH_HAS_LSM] + (uint64_t)in[ATTACH_NEXTRA_ENV] +
	       (uint64_t)in[ATTACH_NKEEP_ENV] + (uint64_t)in[ATTACH_NARGV] +
	       (uint64_t)in[ATTACH_NENVIRON];
	if (want != r->nstrs)
		return -EINVAL;
	/* Every stdio fd is used, and each index is -1 or a stdio fd. */
	for (int f = ATTACH_FD_STDIO; f < nfds; f++) {
		int used = 0;
		for (int i = 0; i < 6; i++)
			used |= in[ATTACH_LXC_FD0 + i] == f;
		if (!used)
			return -EINVAL;
	}
	for (int i = 0; i < 6; i++) {
		int32_t x = in[ATTACH_LXC_FD0 + i];
		if (x != -1 && (x < ATTACH_FD_STDIO || x >= nfds))
			return -EINVAL;
	}
	/* What lxcpy sends: a log memfd, a pipe to report on, and pipes for
	 * liblxc's stdio (which it chmods and chowns). */
	if (!fd_is(fds[ATTACH_FD_LOG], S_IFREG) || !fd_is(fds[ATTACH_FD_ERR], S_IFIFO))
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		int32_t x = in[ATTACH_LXC_FD0 + i];
		if (x != -1 && !fd_is(fds[x], S_IFIFO))
			return -EINVAL;
	}

	a->name = r->strs[k++];
	a->lxcpath = r->strs[k++];
	if (!lxcpy_valid_name(a->name) || !lxcpy_valid_path(a->lxcpath))
		return -EINVAL;
	o->initial_cwd = in[ATTACH_HAS_CALLER_CWD] ? (char *)r->strs[k++] : NULL;
	if (o->initial_cwd && o->initial_cwd[0] != '/')
		return -EINVAL;
	o->cwd = in[ATTACH_HAS_CWD] ? (char *)r->strs[k++] : NULL;
	if (o->cwd && !o->cwd[0])
		return -EINVAL;
	o->lsm_label = in[ATTACH_HAS_LSM] ? (char *)r->strs[k++] : NULL;
	if (o->lsm_label && (!o->lsm_label[0] || !lxcpy_valid_text(o->lsm_label)))
		return -EINVAL;

	/* Four NULL-terminated arrays in one allocation. */
	v = calloc(r->nstrs + 4, sizeof(char *));
	if (!v)
		return -ENOMEM;
	a->vec = v;
	o->extra_env = v;
	for (int32_t i = 0; i < in[ATTACH_NEXTRA_ENV]; i++) {
		if (!env_entry(r->strs[k]))
			goto bad;
		*v++ = (char *)r->strs[k++];
	}
	v++;
	o->keep_env = v;
	for (int32_t i = 0; i < in[ATTACH_NKEEP_ENV]; i++) {
		if (!r->strs[k][0] || strchr(r->strs[k], '='))
			goto bad;
		*v++ = (char *)r->strs[k++];
	}
	v++;
	a->argv = v;
	if (!r->strs[k][0])
		goto bad;
	for (int32_t i = 0; i < in[ATTACH_NARGV]; i++)
		*v++ = (char *)r->strs[k++];
	v++;
	a->environ = v;
	for (int32_t i = 0; i < in[ATTACH_NENVIRON]; i++)
		*v++ = (char *)r->strs[k++];
	if (!in[ATTACH_NEXTRA_ENV])
		o->extra_env = NULL;
	if (!in[ATTACH_NKEEP_ENV])
		o->keep_env = NULL;

	o->namespaces = in[ATTACH_NAMESPACES];
	o->personality = in[ATTACH_HAS_PERSONALITY] ? (long)(uint32_t)in[ATTACH_PERSONALITY] : -1;
	o->uid = in[ATTACH_UID] == -1 ? -1 : (long)(uint32_t)in[ATTACH_UID];
	o->gid = in[ATTACH_GID] == -1 ? -1 : (long)(uint32_t)in[ATTACH_GID];
	o->move_to_cgroup = !!(in[ATTACH_FLAGS] & ATTACH_F_MOVE_TO_CGROUP);
	o->drop_capabilities = !!(in[ATTACH_FLAGS] & ATTACH_F_DROP_CAPS);
	o->no_new_privs = !!(in[ATTACH_FLAGS] & ATTACH_F_NO_NEW_PRIVS);
	o->remount_proc_sys = !!(in[ATTACH_FLAGS] & ATTACH_F_REMOUNT);
	o->clear_env = !!(in[ATTACH_FLAGS] & ATTACH_F_CLEAR_ENV);
	o->ngroups = ngroups;
	/* The ints are 4-byte aligned (lxcpy_hunpack). */
	o->groups = (unsigned int *)(uintptr_t)(in + ATTACH_NFIXED);
	for (int32_t i = 0; i < ngroups; i++)
		if (o->groups[i] == (unsigned int)-1) /* (gid_t)-1 is no group */
			goto bad;
	for (int i = 0; i < 3; i++) {
		int32_t lx = in[ATTACH_LXC_FD0 + i], ch = in[ATTACH_CHILD_FD0 + i];
		o->liblxc_stdio[i] = lx < 0 ? -1 : fds[lx];
		o->child_stdio[i] = ch < 0 ? -1 : fds[ch];
	}
	o->errfd = fds[ATTACH_FD_ERR];
	o->reset_sigmask = 1;
	return 0;

bad:
	free(a->vec);
	a->vec = NULL;
	return -EINVAL;
}

/* -- transport ---------------------------------------------------------------
 *
 * Requests and replies are single SOCK_SEQPACKET messages with fds
 * (SCM_RIGHTS). Done here rather than with Python's socket module: one C
 * call each way instead of socket objects and Python-level cmsg packing,
 * on the path of every run(). */

/* Up to this many fds besides the reply socket (more than the helper takes:
 * tests send too many on purpose). */
#define SEND_MAX_FDS (2 * LXCPY_HMAX_FDS)

static int send_with_fds(int sock, const void *data, size_t len, const int *fds, int nfds)
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

int lxcpy_hsend(int ctl, const char *msg, int len, const int *fds, int nfds)
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
	err = send_with_fds(ctl, msg, (size_t)len, all, nfds + 1);
	close(sv[1]);
	if (err < 0) {
		close(sv[0]);
		return err;
	}
	return sv[0];
}

int lxcpy_hsend_attach(int ctl, const char *name, const char *lxcpath,
		       const struct lxcpy_attach_opts *o, char **argv, int logfd)
{
	int fds[LXCPY_HATTACH_FDS], nfds = 0, cap = 16384, len, ret;
	char *buf = malloc((size_t)cap);

	if (!buf)
		return -ENOMEM;
	len = lxcpy_hpack_attach(buf, cap, name, lxcpath, o, argv, logfd, fds,
				 LXCPY_HATTACH_FDS, &nfds);
	if (len == -E2BIG) {
		/* A large environment: once more with all the protocol allows. */
		char *more = realloc(buf, LXCPY_HMAX_MSG);

		if (!more) {
			free(buf);
			return -ENOMEM;
		}
		buf = more;
		len = lxcpy_hpack_attach(buf, LXCPY_HMAX_MSG, name, lxcpath, o, argv, logfd, fds,
					 LXCPY_HATTACH_FDS, &nfds);
	}
	ret = len < 0 ? len : lxcpy_hsend(ctl, buf, len, fds, nfds);
	free(buf);
	return ret;
}

int lxcpy_hsend_reply(int fd, const struct lxcpy_hreply *r, int passfd)
{
	return send_with_fds(fd, r, sizeof(*r), &passfd, passfd >= 0 ? 1 : 0);
}

int lxcpy_hrecv(int fd, int nonblock, struct lxcpy_hreply *r, int *passed)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	char data[sizeof(*r) + 1];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	*passed = -1;
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	lxcpy_take_fds(&msg, passed, 1);
	if (n == 0 || n != (ssize_t)sizeof(*r) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (*passed >= 0)
			close(*passed);
		*passed = -1;
		return n == 0 ? 0 : -EPROTO;
	}
	memcpy(r, data, sizeof(*r));
	return 1;
}
