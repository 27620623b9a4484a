// accept4 is a GNU extension; this file alone is compiled with _GNU_SOURCE (see CShims.h).
#define _GNU_SOURCE
#include "CShims.h"
#include <linux/sockios.h>
#include <sys/ioctl.h>

uint32_t cshims_epoll_in(void) { return EPOLLIN; }
uint32_t cshims_epoll_out(void) { return EPOLLOUT; }
uint32_t cshims_epoll_err(void) { return EPOLLERR; }
uint32_t cshims_epoll_hup(void) { return EPOLLHUP; }
uint32_t cshims_epoll_rdhup(void) { return EPOLLRDHUP; }
uint32_t cshims_epoll_et(void) { return EPOLLET; }

int cshims_sock_nonblock_cloexec(void) { return SOCK_NONBLOCK | SOCK_CLOEXEC; }
int cshims_sock_stream(void) { return SOCK_STREAM; }

int cshims_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}

int cshims_socket_unsent(int fd) {
    int count = 0;
    return ioctl(fd, SIOCOUTQ, &count) == 0 ? count : -1;
}

int cshims_socket_unread(int fd) {
    int count = 0;
    return ioctl(fd, FIONREAD, &count) == 0 ? count : -1;
}

int cshims_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

void cshims_sigset_of(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

#include <spawn.h>
// POSIX_SPAWN_SETSID is a GNU extension: a detached child's own session.
short cshims_posix_spawn_setsid(void) { return POSIX_SPAWN_SETSID; }

#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>
int cshims_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

#include <pthread.h>
#include <signal.h>
int cshims_is_main_thread(void) { return gettid() == getpid(); }

void cshims_block_asynchronous_signals(void) {
    sigset_t set;
    sigfillset(&set);
    int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT};
    for (unsigned i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(&set, faults[i]);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cshims_lock_whole_file(int fd) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
    return fcntl(fd, F_OFD_SETLK, &lock);
}

int cshims_whole_file_locked(int fd) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -1;
    return lock.l_type != F_UNLCK;
}
int cshims_pipe_cloexec(int ends[2]) { return pipe2(ends, O_CLOEXEC); }
