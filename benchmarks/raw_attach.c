/* The limit for lxcpy's run(): the same liblxc calls, made directly from C.
 * A worker: reads "<workload> <n>" lines on stdin, runs the workload n
 * times, prints the n durations (ns) on one line. Built by bench_attach.py.
 *
 *   raw_attach NAME LXCPATH
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lxc/attach_options.h>
#include <lxc/lxccontainer.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int once(struct lxc_container *c, char **argv, int capture)
{
	lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
	lxc_attach_command_t cmd = {.program = argv[0], .argv = argv};
	int fds[2] = {-1, -1}, status;
	pid_t pid;
	char buf[65536];

	if (capture) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			return -1;
		opts.stdout_fd = fds[1];
	}
	if (c->attach(c, lxc_attach_run_command, &cmd, &opts, &pid) < 0)
		return -1;
	if (capture) {
		close(fds[1]);
		while (read(fds[0], buf, sizeof(buf)) > 0)
			;
		close(fds[0]);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

int main(int argc, char **argv)
{
	char *true_argv[] = {"/bin/true", NULL};
	char *echo_argv[] = {"echo", "hi", NULL};
	char *mib_argv[] = {"head", "-c", "1048576", "/dev/zero", NULL};
	struct lxc_container *c;
	char line[128], what[64];
	int n;

	if (argc != 3)
		return 2;
	c = lxc_container_new(argv[1], argv[2]);
	if (!c || !c->is_running(c))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%63s %d", what, &n) != 2)
			continue;
		for (int i = 0; i < n; i++) {
			long long t = now_ns();
			int rc;

			if (!strcmp(what, "true"))
				rc = once(c, true_argv, 0);
			else if (!strcmp(what, "echo"))
				rc = once(c, echo_argv, 1);
			else
				rc = once(c, mib_argv, 1);
			if (rc != 0)
				return 3;
			printf("%s%lld", i ? " " : "", now_ns() - t);
		}
		printf("\n");
	}
	lxc_container_put(c);
	return 0;
}
