/* The attach options' one list: every option of struct lxcpy_attach_opts
 * (attach.decl.h), in order. Everything else about them is generated from
 * it: the struct's members (for the C compiler here, for cffi by
 * ffi_build.py, which runs this header's expansion through the C
 * preprocessor), the helper protocol's ATTACH fields (wire_table.h), their
 * packing and unpacking (wire.c), the liblxc attach flags they set
 * (attach_run.c) and the list Python's table is checked against
 * (lxcpy_attach_option()). Python's side is one table too:
 * lxcpy/_attach_options.py (OPTIONS): the i-th entry's member is the i-th
 * here (tests/test_attach_options.py checks).
 *
 *   X(ctx..., TYPE, member, CHECK, FLAG)
 *
 * TYPE: the member's type (LXCPY_AOPT_CTYPE_*) and wire type
 * (LXCPY_AOPT_WIRE_*, the protocol's field type):
 *   BOOL  int32_t                0 or 1 (packed as !!value)     I32
 *   I32   int32_t                                               I32
 *   I64   int64_t                -1 (any negative): none given   I64
 *   STR   char *                 NULL: none given               STR
 *   STRV  char **                NULL-terminated; NULL (or, once
 *                                unpacked, empty): none          STRV
 *   I32V  struct lxcpy_int_vec   n == -1 (any negative): none    I32V
 * CHECK: the helper's check of the field (wire.c, check_<WIRE>_<CHECK>).
 * FLAG: for a BOOL, the liblxc attach flag (LXC_ATTACH_*) that it sets
 * when 1 and clears when 0, and that is all it does; else 0, and its
 * meaning is code in lxcpy_do_attach() or lxcpy_attach_child_setup()
 * (attach_run.c). A FLAG is only expanded where liblxc's headers are.
 *
 * This header includes nothing: ffi_build.py preprocesses it alone. (Not
 * "attach_options.h": that is liblxc's <lxc/attach_options.h>.)
 */
#ifndef LXCPY_ATTACH_TABLE_H
#define LXCPY_ATTACH_TABLE_H

#define LXCPY_ATTACH_OPTIONS(X, ...)                                                \
	X(__VA_ARGS__, STRV, extra_env, ENV, 0)                                     \
	X(__VA_ARGS__, BOOL, clear_env, BOOL, 0)                                    \
	X(__VA_ARGS__, STRV, keep_env, ENV_NAMES, 0)                                \
	X(__VA_ARGS__, STR, cwd, OPT_NONEMPTY, 0)                                   \
	X(__VA_ARGS__, I64, uid, U32_OR_NONE, 0)                                    \
	X(__VA_ARGS__, I64, gid, U32_OR_NONE, 0)                                    \
	X(__VA_ARGS__, I32V, groups, GROUPS, 0)                                     \
	X(__VA_ARGS__, I32, namespaces, NAMESPACES, 0)                              \
	X(__VA_ARGS__, I64, personality, U32_OR_NONE, 0)                            \
	X(__VA_ARGS__, BOOL, move_to_cgroup, BOOL, LXC_ATTACH_MOVE_TO_CGROUP)       \
	X(__VA_ARGS__, BOOL, drop_capabilities, BOOL, LXC_ATTACH_DROP_CAPABILITIES) \
	X(__VA_ARGS__, BOOL, no_new_privs, BOOL, LXC_ATTACH_NO_NEW_PRIVS)           \
	X(__VA_ARGS__, STR, lsm_label, OPT_TEXT, 0)                                 \
	X(__VA_ARGS__, BOOL, remount_proc_sys, BOOL, LXC_ATTACH_REMOUNT_PROC_SYS)

/* The types. */
#define LXCPY_AOPT_CTYPE_BOOL int32_t
#define LXCPY_AOPT_CTYPE_I32 int32_t
#define LXCPY_AOPT_CTYPE_I64 int64_t
#define LXCPY_AOPT_CTYPE_STR char *
#define LXCPY_AOPT_CTYPE_STRV char **
#define LXCPY_AOPT_CTYPE_I32V struct lxcpy_int_vec

#define LXCPY_AOPT_WIRE_BOOL I32
#define LXCPY_AOPT_WIRE_I32 I32
#define LXCPY_AOPT_WIRE_I64 I64
#define LXCPY_AOPT_WIRE_STR STR
#define LXCPY_AOPT_WIRE_STRV STRV
#define LXCPY_AOPT_WIRE_I32V I32V

/* The members of struct lxcpy_attach_opts:
 * LXCPY_ATTACH_OPTIONS(LXCPY_AOPT_MEMBER, _) */
#define LXCPY_AOPT_MEMBER(ctx, t, m, c, flag) LXCPY_AOPT_CTYPE_##t m;

#endif
