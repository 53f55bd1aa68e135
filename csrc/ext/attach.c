/* The attach shim's Python part: fork a child attached to a running
 * container that runs a Python callable (attach(func)), with CPython's
 * fork protocol around liblxc's forks. The rest is in attach_run.c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <unistd.h>

#include "lxcpy_shim.h"
#include "attach.decl.h"
#include "attach_int.h"

/* Defined by cffi from `extern "Python+C"` in attach.decl.h. */
int lxcpy_py_child(void *payload);

static int call_child(void *payload)
{
	struct lxcpy_exec *e = payload;
	struct lxcpy_attach_opts *o = e->o;
	int stage;

	/* We were forked (by liblxc, twice) from a thread that held the GIL
	 * after PyOS_BeforeFork(), exactly as os.fork() does it. */
	PyOS_AfterFork_Child();
	lxcpy_attach_report(o->errfd, LXCPY_STAGE_READY, 0);
	stage = lxcpy_attach_child_setup(o);
	if (stage) {
		lxcpy_attach_report(o->errfd, stage, errno);
		_exit(127);
	}
	close(o->errfd);
	/* Normally os._exit()s from Python. */
	_exit(lxcpy_py_child(e->payload) & 0xff);
}

int lxcpy_attach_call(struct lxc_container *c, struct lxcpy_attach_opts *o,
		      void *payload, int *pid)
{
	struct lxcpy_exec e = {.payload = payload};
	PyGILState_STATE gil;
	int ret;

	/* cffi released the GIL; hold it across liblxc's forks, after running
	 * the before-fork hooks (the import lock, logging's locks...), as
	 * os.fork() does, so the child inherits a consistent interpreter and
	 * no lock held by a thread that does not exist there. */
	gil = PyGILState_Ensure();
	PyOS_BeforeFork();
	ret = lxcpy_do_attach(c, o, call_child, &e, pid);
	PyOS_AfterFork_Parent();
	PyGILState_Release(gil);
	return ret;
}
