/* Private (not installed): running somebody else's program — the shell
 * command of `parity --legacy-cmd` and of an external component — in its
 * own process group, waiting for it with a deadline, and saying how it
 * ended. */
#ifndef TRADEBUS_PROC_H
#define TRADEBUS_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in ns. */
int64_t tb__mono_ns(void);
/* Starts /bin/sh -c cmd in a new process group with SIGPIPE at its default
 * (a writer to a closed pipe dies, not spins); fd[0..2] become its stdin,
 * stdout and stderr (-1: inherited). 0 with *pid, or the errno. */
int tb__spawn_sh(const char *cmd, const int fd[3], pid_t *pid);
/* Waits for pid until deadline (monotonic ns; INT64_MAX: none) or *stop:
 * 1 with *status, 0 if still running, -1 on a waitpid error. */
int tb__wait_until(pid_t pid, int64_t deadline, const volatile sig_atomic_t *stop, int *status);
/* Kills the whole process group (the shell and what it started), reaps pid. */
void tb__kill_and_reap(pid_t pid);
/* "exit status 3", "killed by signal 9 (SIGKILL)" for a wait status. */
void tb__wait_status_text(int status, char *buf, size_t len);

#endif
