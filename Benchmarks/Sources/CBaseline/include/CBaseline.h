// The raw C limit the reactor is measured against, and a malloc counter.
#ifndef CBASELINE_H
#define CBASELINE_H

#include <stdint.h>

// Blocking ping-pong of `size`-byte messages over TCP (TCP_NODELAY) or a Unix socket, an echo
// thread on the other end. Writes `count` round-trip times in nanoseconds to `out` after `warmup`
// untimed ones. 0 on success, else -errno.
int cbaseline_ping_pong(int unix_socket, int size, int warmup, int count, uint64_t *out);

// One-way throughput: a writer thread sends whole frames (4-byte little-endian length, then the
// payload) in batches of up to 256 KiB for `seconds`; this thread reads and parses them.
// Stores messages and seconds from first byte to end of stream. 0 on success, else -errno.
int cbaseline_one_way(int size, double seconds, uint64_t *messages, double *elapsed);

// Heap allocations (malloc, calloc, realloc, aligned) since the process started, all threads.
uint64_t cbaseline_allocations(void);
// Bytes the heap holds in live blocks (usable sizes), all threads.
int64_t cbaseline_heap_bytes(void);

// Local dispatch rate (messages/s) of a ring of envelopes and an indirect call per message.
double cbaseline_local_dispatch(uint64_t count);

#endif
