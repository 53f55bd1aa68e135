/* The helper protocol's one table: every request kind, its fields and its
 * fd slots. Everything else about the wire format is generated from it
 * (wire.h: the request structs and the slot numbers; wire.c: the
 * packer, the decoder, the checks' dispatch, the descriptors Python packs
 * with, and the protocol version, a hash of this table's text). Adding a
 * field is one line here (an attach option's: one line in attach_table.h);
 * its check is one of those in wire.c.
 *
 *   K(KIND, op)                  a request kind and its LXCPY_OP_* value
 *   F(KIND, type, name, check)   a field, in wire order
 *   S(KIND, NAME, check)         a fixed fd slot (slot 0, the reply
 *                                socket, is every kind's and not listed)
 *
 * Field types (struct member; wire encoding, native byte order):
 *   I32   int32_t                 4 bytes
 *   I64   int64_t                 8 bytes
 *   STR   const char *, or NULL   u32 length (~0: NULL), the bytes, a NUL
 *   STRV  char **, NULL-terminated, or NULL
 *                                 u32 count (~0: NULL), that many STRs
 *   I32V  struct lxcpy_int_vec    u32 count (~0: none), that many int32s
 *   FD    int, or -1              int32: its place among the fds sent
 *                                 after the fixed slots (each fd once), -1
 * Checks: see "the checks" in wire.c (their names are the table's).
 */
#ifndef LXCPY_WIRE_TABLE_H
#define LXCPY_WIRE_TABLE_H

#include "attach_table.h"

#define LXCPY_WIRE_KINDS(K) \
	K(PING, 1)          \
	K(START, 2)         \
	K(CREATE, 3)        \
	K(ATTACH, 4)

/* Asks for a PONG with the helper's pid. */
#define LXCPY_WIRE_KIND_PING(k, F, S)

/* Start a container in a worker (with cmd as its init, NULL: its own). */
#define LXCPY_WIRE_KIND_START(k, F, S) \
	F(k, STR, name, NAME)          \
	F(k, STR, lxcpath, PATH)       \
	F(k, I32, use_init, BOOL)      \
	F(k, STRV, cmd, CMD)           \
	S(k, CONFIG, REG)              \
	S(k, LOG, REG)

/* Create a container in a worker; the template's output goes to OUTPUT. */
#define LXCPY_WIRE_KIND_CREATE(k, F, S)  \
	F(k, STR, name, NAME)            \
	F(k, STR, lxcpath, PATH)         \
	F(k, I32, flags, CREATE_FLAGS)   \
	F(k, STR, template, TEMPLATE)    \
	F(k, STR, backend, OPT_NAME)     \
	F(k, STRV, args, LINES)          \
	S(k, CONFIG, REG)                \
	S(k, LOG, REG)                   \
	S(k, OUTPUT, REG)

/* Run argv attached to a running container: the attach options (every
 * member of attach_table.h's list, as its TYPE's wire type, in its
 * order), with the caller's environment and working directory. */
#define LXCPY_WIRE_KIND_ATTACH(k, F, S)               \
	F(k, STR, name, NAME)                         \
	F(k, STR, lxcpath, PATH)                      \
	LXCPY_ATTACH_OPTIONS(LXCPY_WIRE_OPTION, F, k) \
	F(k, STR, initial_cwd, OPT_ABSPATH)           \
	F(k, STRV, argv, ARGV)                        \
	F(k, STRV, caller_environ, ANY)               \
	F(k, FD, liblxc_stdin, OPT_FIFO)              \
	F(k, FD, liblxc_stdout, OPT_FIFO)             \
	F(k, FD, liblxc_stderr, OPT_FIFO)             \
	F(k, FD, child_stdin, ANY)                    \
	F(k, FD, child_stdout, ANY)                   \
	F(k, FD, child_stderr, ANY)                   \
	S(k, LOG, REG)                                \
	S(k, ERR, FIFO)
/* An attach option as a field (the wire type expanded first). */
#define LXCPY_WIRE_OPTION(F, k, t, m, c, flag) LXCPY_WIRE_OPTION_(F, k, LXCPY_AOPT_WIRE_##t, m, c)
#define LXCPY_WIRE_OPTION_(F, k, w, m, c) F(k, w, m, c)

/* Bumped when the encoding of a type, the header or the replies change
 * (what the table's text does not show); the table's own changes change
 * the version by themselves. */
#define LXCPY_WIRE_REVISION 1

#endif
