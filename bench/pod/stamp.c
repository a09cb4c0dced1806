/* The container process of the pod benchmarks: timestamps its own first instruction and the
 * events the benchmark measures, on CLOCK_MONOTONIC in nanoseconds (the host's
 * time.monotonic_ns(): containers share it, there is no time namespace).
 *
 * Usage: stamp FILE LABEL MODE [MS]
 *   FILE  appended to with one write(2) per line (O_APPEND): "<ns> <LABEL> <event>\n"
 *   MODE  exit  - log "start", exit 0
 *         last  - log "start", sleep MS milliseconds (default 0: the app's work), log "last",
 *                 exit 0 (an app whose last line precedes its exit)
 *         hold  - log "start", then wait for SIGTERM (sigwait, SIGTERM blocked), log "term",
 *                 exit 0 (a sidecar; also an app the pod deletion stops)
 *         pause - log "start", pause() forever (default dispositions)
 *         cost  - log 201 consecutive stamps "c0".."c200" (the cost of one stamp
 *                 is the median delta between consecutive ones), exit 0
 * Static, no libc start-up beyond the minimum: cc -O2 -static.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int out = -1;
static const char *label = "?";

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads the clock first, then formats and writes: the stamp is the moment of the call. */
static void stamp(const char *event) {
    long long t = now_ns();
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%lld %s %s\n", t, label, event);
    if (write(out, buf, (size_t)n) != n) _exit(3);
}

int main(int argc, char **argv) {
    long long t0 = now_ns(); /* the process's first instruction, near enough */
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: stamp FILE LABEL exit|last|hold|pause|cost [MS]\n");
        return 2;
    }
    label = argv[2];
    const char *mode = argv[3];
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    if (strcmp(mode, "hold") == 0) sigprocmask(SIG_BLOCK, &term, NULL);
    out = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (out < 0) { perror(argv[1]); return 3; }
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%lld %s start\n", t0, label);
    if (write(out, buf, (size_t)n) != n) return 3;
    if (strcmp(mode, "exit") == 0) return 0;
    if (strcmp(mode, "last") == 0) {
        long ms = argc == 5 ? atol(argv[4]) : 0;
        struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
        while (ms > 0 && nanosleep(&d, &d) != 0) {}
        stamp("last");
        _exit(0);
    }
    if (strcmp(mode, "hold") == 0) {
        int sig = 0;
        while (sigwait(&term, &sig) != 0 || sig != SIGTERM) {}
        stamp("term");
        _exit(0);
    }
    if (strcmp(mode, "pause") == 0) { for (;;) pause(); }
    if (strcmp(mode, "cost") == 0) {
        char ev[16];
        for (int i = 0; i < 201; i++) { snprintf(ev, sizeof ev, "c%d", i); stamp(ev); }
        return 0;
    }
    fprintf(stderr, "stamp: unknown mode %s\n", mode);
    return 2;
}
