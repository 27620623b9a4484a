// C the tests need and Swift cannot write: a seccomp filter is built from BPF macros.
#ifndef CTESTSUPPORT_H
#define CTESTSUPPORT_H

// Makes io_uring_setup fail with EPERM in this process from now on, as a container's seccomp
// profile does; 0 on success, else -errno.
int ctest_deny_io_uring_setup(void);

#endif
