/* Signal-forwarding latency probe (bench/init.sh): block SIGTERM, say "R" on the fd given as
 * argv[1], sigwait() for SIGTERM, then write CLOCK_MONOTONIC in ns and exit 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = atoi(argv[1]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (write(fd, "R", 1) != 1) return 3;
    int sig;
    sigwait(&set, &sig);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    dprintf(fd, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    return 0;
}
