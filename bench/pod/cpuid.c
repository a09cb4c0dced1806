/* What one CPUID instruction and one clock_gettime cost on this machine, in ns. In a VM whose
 * hypervisor traps CPUID, glibc's start-up (cpu feature and cache probing, static or dynamic
 * alike) pays it dozens of times per exec: the floor under every hook and init exec here. */
#include <cpuid.h>
#include <stdio.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
    unsigned a, b, c, d, sink = 0;
    long long t0 = now_ns();
    for (int i = 0; i < 2000; i++) { __cpuid_count(4, i & 3, a, b, c, d); sink += a; }
    long long t1 = now_ns();
    for (int i = 0; i < 2000; i++) { struct timespec x; clock_gettime(CLOCK_MONOTONIC, &x); sink += x.tv_nsec & 1; }
    long long t2 = now_ns();
    printf("{\"cpuid_ns\": %.1f, \"clock_gettime_ns\": %.1f, \"sink\": %u}\n",
           (t1 - t0) / 2000.0, (t2 - t1) / 2000.0, sink & 1);
    return 0;
}
