/* The attach shim's declarations: read by cffi's cdef and by the C compiler.
 * Only what is declared here crosses to Python. */
#ifndef LXCPY_ATTACH_DECL_H
#define LXCPY_ATTACH_DECL_H
#include <sched.h>
#include <stdint.h>

#include "attach_table.h"

/* What the attached child reports on its error pipe: pairs of ints
 * {stage, errno}. READY comes first, once liblxc handed over to lxcpy's
 * exec function; EOF after READY alone means the program was executed. */
#define LXCPY_STAGE_READY 1
#define LXCPY_STAGE_STDIO 2
#define LXCPY_STAGE_CHDIR 3
#define LXCPY_STAGE_EXEC 4

/* An int32 vector (the groups option; the helper protocol's I32V field
 * too): n int32s at v; n == -1: none given. */
struct lxcpy_int_vec {
	int32_t n;
	const int32_t *v;
};

struct lxcpy_attach_opts {
	/* The options, one member each: attach_table.h lists them and their
	 * types (ffi_build.py expands this line for cffi). Not given: -1 for
	 * the numbers, NULL for the strings and string vectors, n == -1 for
	 * groups. extra_env: "NAME=value" strings; keep_env: names kept when
	 * clear_env; cwd: chdir() in the child (NULL: liblxc's default);
	 * uid, gid: 0 .. 2**32 - 2 ((uid_t)-1 is no id), -1: liblxc's default
	 * (root, or init's in a userns); groups: n == -1 drops all
	 * supplementary groups; namespaces: a CLONE_NEW* mask, -1: those of
	 * the container; personality: -1: the container's. */
	LXCPY_ATTACH_OPTIONS(LXCPY_AOPT_MEMBER, _)
	/* Not options: what each attach is given besides. */
	int liblxc_stdio[3];   /* liblxc's attach gets these as the child's stdin/out/err
	                        * (lxcpy's own pipes); -1: /dev/null */
	int child_stdio[3];    /* the caller's fds, dup2()ed onto 0-2 by lxcpy in the
	                        * child once liblxc is done; -1: keep liblxc's */
	int errfd;             /* the write end of the error pipe (CLOEXEC, >= 3) */
	char *initial_cwd;     /* liblxc's initial_cwd; NULL: the caller's cwd */
	int reset_sigmask;     /* unblock every signal in the child (lxcpy-helper) */
	int init_pid;          /* the container's init as the caller knows it, or 0 */
	unsigned long long init_dev; /* fstat() of the caller's pidfd of it, */
	unsigned long long init_ino; /* or 0 */
};

/* Run argv (PATH search in the attached environment) in the container; no
 * Python runs in the child. 0 and *pid on success, else -errno. */
int lxcpy_attach_run(struct lxc_container *c, struct lxcpy_attach_opts *o,
                     const char *program, char **argv, int *pid);

/* Fork a child attached to the container that runs the Python callback
 * lxcpy_py_child(payload), with CPython's fork protocol around liblxc's
 * forks. 0 and *pid on success, else -errno. */
int lxcpy_attach_call(struct lxc_container *c, struct lxcpy_attach_opts *o,
                      void *payload, int *pid);

/* The name of the i-th attach option (the i-th member of attach_table.h's
 * list), NULL past the last: what Python's table is checked against. */
const char *lxcpy_attach_option(int i);

/* The C environment (environ) of this process: borrowed. */
char **lxcpy_environ(void);

#if 0
/* For cffi only: the child's entry into Python (defined by cffi; attach.c
 * declares it for the C compiler with the same signature). */
extern "Python+C" int lxcpy_py_child(void *payload);
#endif
#endif
