// What both peers' drivers share: the monotonic clock and a short sleep.
#ifndef CPEERS_COMMON_H
#define CPEERS_COMMON_H

#include <stdint.h>
#include <time.h>

static inline uint64_t cpeers_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static inline void cpeers_sleep_ms(int milliseconds) {
    struct timespec pause = {0, (long)milliseconds * 1000000L};
    nanosleep(&pause, NULL);
}

#endif
