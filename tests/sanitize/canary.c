/* Proves that an ASan report reaches log_path from where lxcpy's C code
 * runs: a process whose stderr is /dev/null (as lxcpy-helper's is), and a
 * forked child of it (as the helper's workers and liblxc's are). Built and
 * run by tests/sanitize/run.sh with the same flags as lxcpy; `canary asan`
 * writes to freed memory in a forked child, `canary ubsan` shifts past
 * the width of an int there (gcc's UBSan, combined with ASan, reports
 * that on stderr, not in log_path: see run.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid;
	int status;

	if (argc != 2)
		return 2;
	freopen("/dev/null", "w", stderr);
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		if (strcmp(argv[1], "asan") == 0) {
			/* A use after free (UBSan, which would report an
			 * overflow first, and on stderr, sees none). */
			volatile char *p = malloc(8);

			free((void *)p);
			p[0] = 1;
		} else {
			volatile int n = 40;

			fprintf(stderr, "%d\n", 1 << n);
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return 0;
}
