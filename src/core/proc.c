/* Running another program: see proc.h. */
#define _POSIX_C_SOURCE 200809L
#include "proc.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int64_t tb__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tb__spawn_sh(const char *cmd, const int fd[3], pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    for (int i = 0; i < 3 && !rc; i++)
        if (fd[i] >= 0) rc = posix_spawn_file_actions_adddup2(&fa, fd[i], i);
    /* Its own process group, so that a kill reaches everything the command
     * started, not only the shell, and a Ctrl-C at the terminal reaches
     * tradebus alone (which then ends the program's input in order). */
    if (!rc && !(rc = posix_spawnattr_setpgroup(&attr, 0)) &&
        !(rc = posix_spawnattr_setsigdefault(&attr, &def)) &&
        !(rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF))) {
        char *argv[] = {"sh", "-c", (char *)cmd, NULL};
        rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int tb__wait_until(pid_t pid, int64_t deadline, const volatile sig_atomic_t *stop, int *status)
{
    long nap_ns = 1000000; /* 1 ms, doubling to 100 ms: quick commands end quickly */
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return -1;
        if (stop && *stop) return 0;
        int64_t left = deadline == INT64_MAX ? INT64_MAX : deadline - tb__mono_ns();
        if (left <= 0) return 0;
        struct timespec ts = {0, left < nap_ns ? (long)left : nap_ns};
        nanosleep(&ts, NULL);
        if (nap_ns < 100000000) nap_ns *= 2;
    }
}

void tb__kill_and_reap(pid_t pid)
{
    if (kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
        {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].sig == sig) return names[i].name;
    return NULL;
}

void tb__wait_status_text(int status, char *buf, size_t len)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    const char *sn = code > 128 && code < 160 ? signal_name(code - 128) : NULL;
    if (sn) {
        /* The shell reports its command's death by signal as 128 + it. */
        snprintf(buf, len, "exit status %d, i.e. killed by signal %d (%s)", code, code - 128, sn);
    } else if (WIFEXITED(status)) {
        snprintf(buf, len, "exit status %d%s", code,
                 code == 127 ? ": the shell did not find the command" : "");
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *n = signal_name(sig);
        snprintf(buf, len, "killed by signal %d (%s)", sig, n ? n : strsignal(sig));
    } else {
        snprintf(buf, len, "wait status %d", status);
    }
}
