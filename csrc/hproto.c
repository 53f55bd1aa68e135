/* The helper protocol: packing (in the extension) and unpacking and
 * checking (in lxcpy-helper), one implementation for both sides. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "hproto.h"
#include "helper.decl.h"

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

int lxcpy_valid_path(const char *s)
{
	return s[0] == '/' && strlen(s) < PATH_MAX;
}
