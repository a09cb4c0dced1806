/* Times an OCI hook as the runtime runs it: the benchmark points a bundle's podinit hook at
 * this wrapper, which forks + execs the real hook (stdin, stdout, stderr and env inherited) and
 * appends "<stage> <t_start_ns> <t_end_ns> <exit status>" to LOG (CLOCK_MONOTONIC), then exits
 * with the hook's status. The interval is fork + exec + run + exit + wait of the real hook, the
 * same thing the direct benchmark measures with posix_spawn + waitpid.
 *
 * Usage (hook args): hookwrap LOG STAGE REAL_PATH ARGV0 ARGS...
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: hookwrap LOG STAGE REAL ARGV0 ARGS...\n"); return 2; }
    long long t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) { execv(argv[3], argv + 4); perror(argv[3]); _exit(127); }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {}
    long long t1 = now_ns();
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        char buf[256];
        int n = snprintf(buf, sizeof buf, "%s %lld %lld %d\n", argv[2], t0, t1, code);
        if (write(fd, buf, (size_t)n) != n) {}
        close(fd);
    }
    return code;
}
