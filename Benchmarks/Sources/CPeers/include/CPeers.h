// The peers a user would pick instead of ansar, driven through their public C APIs (Debian's
// libzmq and libnats) in the same run as ansar and the raw C baseline. Every function returns 0 on
// success, else a negative number, with a line on stderr saying what failed.
#ifndef CPEERS_H
#define CPEERS_H

#include <stdint.h>

// ZeroMQ REQ/REP over TCP loopback: `count` timed round trips of `size` bytes after `warmup`, the
// REP socket on a thread of its own; with `curve`, both ends use CURVE (X25519 + XSalsa20-Poly1305).
int cpeers_zmq_round_trip(int curve, int size, int warmup, int count, uint64_t *out);

// ZeroMQ PUSH/PULL over TCP loopback: the PUSH side on its own thread sends `size`-byte messages for
// `seconds`; this thread counts them. Stores messages and seconds from the first to the last.
int cpeers_zmq_one_way(int curve, int size, double seconds, uint64_t *messages, double *elapsed);

// ZeroMQ PUB/SUB over TCP loopback: one PUB on its own thread sends `size`-byte messages for
// `seconds` to `subscribers` SUB sockets, polled by `threads` threads. Stores what all of them
// received during the run (PUB drops at its high-water mark, so `dropped` is what was sent to a
// subscriber and never arrived) and seconds from the first send to the last receipt.
int cpeers_zmq_fan_out(int subscribers, int threads, int size, double seconds, uint64_t *delivered,
                       uint64_t *dropped, double *elapsed);

// NATS through a running nats-server at `url`: request/reply round trips (the responder on a
// connection of its own), and a publisher streaming to one subscriber. Like the ZeroMQ ones.
int cpeers_nats_round_trip(const char *url, int size, int warmup, int count, uint64_t *out);
int cpeers_nats_one_way(const char *url, int size, double seconds, uint64_t *messages, double *elapsed);
int cpeers_nats_fan_out(const char *url, int subscribers, int size, double seconds, uint64_t *delivered,
                        uint64_t *dropped, double *elapsed);

#endif
