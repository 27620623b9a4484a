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

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
int cshims_spawn_tied(
    const char *path, char *const argv[], char *const envp[], const char *stdout_path, int stdout_flags,
    const char *stderr_path, int stderr_fd, int pass_fd, int pass_as, int *error) {
    // The exec's outcome comes back through a pipe that closes on a successful exec.
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *error = errno;
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        *error = errno;
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        // The child of a threaded process: system calls only, until exec.
        int failure = 0;
        close(report[0]);
        setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
        struct sigaction defaults = {0};
        defaults.sa_handler = SIG_DFL;
        for (int signal = 1; signal < NSIG; signal++) sigaction(signal, &defaults, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (stdout_path) {
            int in = open("/dev/null", O_RDONLY);
            int out = open(stdout_path, stdout_flags, 0600);
            if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0) failure = errno;
        }
        if (!failure && stderr_fd >= 0) {
            if (dup2(stderr_fd, 2) < 0) failure = errno;
        } else if (!failure && stderr_path) {
            int err = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (err < 0 || dup2(err, 2) < 0) failure = errno;
        }
        if (!failure && pass_fd >= 0) {
            // dup2 onto itself keeps close-on-exec: clear it instead.
            int passed = pass_fd == pass_as ? fcntl(pass_fd, F_SETFD, 0) : dup2(pass_fd, pass_as);
            if (passed < 0) failure = errno;
        }
        if (!failure) {
            execve(path, argv, envp);
            failure = errno;
        }
        ssize_t ignored = write(report[1], &failure, sizeof failure);
        (void)ignored;
        _exit(127);
    }
    setpgid(pid, pid); // as the child does: whichever runs first, the group exists before a signal to it
    close(report[1]);
    int failure = 0;
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof failure) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *error = failure;
        return -1;
    }
    return pid;
}
