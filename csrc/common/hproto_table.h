/* The helper protocol's one table: every request kind, its fields and its
 * fd slots. Everything else about the wire format is generated from it
 * (hproto.h: the request structs and the slot numbers; hproto.c: the
 * packer, the decoder, the checks' dispatch, the descriptors Python packs
 * with, and the protocol version, a hash of this table's text). Adding a
 * field is one line here; its check is one of those in hproto.c.
 *
 *   K(KIND, op)                  a request kind and its LXCPY_HOP_* value
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
 *   I32V  struct lxcpy_hvec       u32 count (~0: none), that many int32s
 *   FD    int, or -1              int32: its place among the fds sent
 *                                 after the fixed slots (each fd once), -1
 * Checks: see "the checks" in hproto.c (their names are the table's).
 */
#ifndef LXCPY_HPROTO_TABLE_H
#define LXCPY_HPROTO_TABLE_H

#define LXCPY_HPROTO_KINDS(K) \
	K(PING, 1)            \
	K(START, 2)           \
	K(CREATE, 3)          \
	K(ATTACH, 4)

/* Asks for a PONG with the helper's pid. */
#define LXCPY_HPROTO_PING(k, F, S)

/* Start a container in a worker (with cmd as its init, NULL: its own). */
#define LXCPY_HPROTO_START(k, F, S)  \
	F(k, STR, name, NAME)        \
	F(k, STR, lxcpath, PATH)     \
	F(k, I32, use_init, BOOL)    \
	F(k, STRV, cmd, CMD)         \
	S(k, CONFIG, REG)            \
	S(k, LOG, REG)

/* Create a container in a worker; the template's output goes to OUTPUT. */
#define LXCPY_HPROTO_CREATE(k, F, S)     \
	F(k, STR, name, NAME)            \
	F(k, STR, lxcpath, PATH)         \
	F(k, I32, flags, CREATE_FLAGS)   \
	F(k, STR, template, TEMPLATE)    \
	F(k, STR, backend, OPT_NAME)     \
	F(k, STRV, args, LINES)          \
	S(k, CONFIG, REG)                \
	S(k, LOG, REG)                   \
	S(k, OUTPUT, REG)

/* Run argv attached to a running container (struct lxcpy_attach_opts),
 * with the caller's environment and working directory. */
#define LXCPY_HPROTO_ATTACH(k, F, S)             \
	F(k, STR, name, NAME)                    \
	F(k, STR, lxcpath, PATH)                 \
	F(k, I32, namespaces, NAMESPACES)        \
	F(k, I64, personality, U32_OR_NONE)      \
	F(k, I64, uid, U32_OR_NONE)              \
	F(k, I64, gid, U32_OR_NONE)              \
	F(k, I32V, groups, GROUPS)               \
	F(k, I32, move_to_cgroup, BOOL)          \
	F(k, I32, drop_capabilities, BOOL)       \
	F(k, I32, no_new_privs, BOOL)            \
	F(k, I32, remount_proc_sys, BOOL)        \
	F(k, I32, clear_env, BOOL)               \
	F(k, STR, initial_cwd, OPT_ABSPATH)      \
	F(k, STR, cwd, OPT_NONEMPTY)             \
	F(k, STR, lsm_label, OPT_TEXT)           \
	F(k, STRV, extra_env, ENV)               \
	F(k, STRV, keep_env, ENV_NAMES)          \
	F(k, STRV, argv, ARGV)                   \
	F(k, STRV, caller_environ, ANY)          \
	F(k, FD, liblxc_stdin, OPT_FIFO)            \
	F(k, FD, liblxc_stdout, OPT_FIFO)           \
	F(k, FD, liblxc_stderr, OPT_FIFO)           \
	F(k, FD, child_stdin, ANY)               \
	F(k, FD, child_stdout, ANY)              \
	F(k, FD, child_stderr, ANY)              \
	S(k, LOG, REG)                           \
	S(k, ERR, FIFO)

/* Bumped when the encoding of a type, the header or the replies change
 * (what the table's text does not show); the table's own changes change
 * the version by themselves. */
#define LXCPY_HPROTO_REVISION 1

#endif
