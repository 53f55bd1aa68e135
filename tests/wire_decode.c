/* The protocol tests' decoder (tests/protocol.py builds it once per test
 * session, from this file and csrc/common/wire.c, the helper's own
 * decoder): requests read from stdin, each as a u32 length and that many
 * bytes, decoded by lxcpy_decode_request (everything but the fds, which a
 * pipe cannot carry) and printed on stdout for tests/test_helper_protocol.py
 * to compare with what it packed. For each, one line per field in table
 * order and an empty line:
 *
 *   ok KIND                      then for each field:
 *   NAME I32|I64|FD NUMBER       (an FD field: its index among the fds)
 *   NAME STR -|s:HEX             (NULL, or the bytes in hex)
 *   NAME STRV -|COUNT s:HEX...
 *   NAME I32V -|COUNT NUMBER...
 *
 * or `refused ERRNO`. Test support only: nothing of it is in lxcpy-helper. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

static void print_str(const char *s)
{
	if (!s) {
		fputs(" -", stdout);
		return;
	}
	fputs(" s:", stdout);
	for (; *s; s++)
		printf("%02x", (unsigned char)*s);
}

/* Read exactly n bytes: 1, 0 at EOF before any, -1 on error or EOF
 * midway. */
static int read_all(char *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t got = read(STDIN_FILENO, buf + done, n - done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got == 0 && done == 0 ? 0 : -1;
		done += (size_t)got;
	}
	return 1;
}

static void print_request(const struct lxcpy_request *req)
{
	const struct lxcpy_wire_kind *k = lxcpy_wire_kind_of(req->op);

	printf("ok %s\n", k->name);
	for (int i = 0; i < k->nfields; i++) {
		const struct lxcpy_wire_field *f = &k->fields[i];
		const char *m = (const char *)req + f->offset;

		printf("%s", f->name);
		switch (f->type) {
		case LXCPY_FIELD_I32:
		case LXCPY_FIELD_FD: {
			int32_t v;
			memcpy(&v, m, sizeof(v));
			printf(" %s %" PRId32, f->type == LXCPY_FIELD_FD ? "FD" : "I32", v);
			break;
		}
		case LXCPY_FIELD_I64: {
			int64_t v;
			memcpy(&v, m, sizeof(v));
			printf(" I64 %" PRId64, v);
			break;
		}
		case LXCPY_FIELD_STR: {
			const char *s;
			memcpy(&s, m, sizeof(s));
			fputs(" STR", stdout);
			print_str(s);
			break;
		}
		case LXCPY_FIELD_STRV: {
			char **v;
			size_t c = 0;
			memcpy(&v, m, sizeof(v));
			fputs(" STRV", stdout);
			if (!v) {
				fputs(" -", stdout);
				break;
			}
			for (; v[c]; c++)
				;
			printf(" %zu", c);
			for (size_t j = 0; j < c; j++)
				print_str(v[j]);
			break;
		}
		case LXCPY_FIELD_I32V: {
			struct lxcpy_int_vec g;
			memcpy(&g, m, sizeof(g));
			fputs(" I32V", stdout);
			if (g.n < 0) {
				fputs(" -", stdout);
				break;
			}
			printf(" %" PRId32, g.n);
			for (int32_t j = 0; j < g.n; j++)
				printf(" %" PRId32, g.v[j]);
			break;
		}
		}
		putchar('\n');
	}
}

int main(void)
{
	/* Room for a message longer than the limit (which is refused). */
	const size_t cap = LXCPY_WIRE_MAX_MSG + 4096;
	char *buf = malloc(cap);
	struct lxcpy_request req;
	uint32_t n;
	int rc = 0, more;

	if (!buf)
		return 2;
	while ((more = read_all((char *)&n, sizeof(n))) == 1) {
		int err;

		if (n > cap || read_all(buf, n) != 1) {
			rc = 2;
			break;
		}
		err = lxcpy_decode_request(buf, n, &req);
		if (err) {
			printf("refused %d\n\n", -err);
			continue;
		}
		print_request(&req);
		putchar('\n');
		lxcpy_request_free(&req);
	}
	if (more < 0)
		rc = 2;
	free(buf);
	return fflush(stdout) == 0 ? rc : 2;
}
