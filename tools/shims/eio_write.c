/* A test shim (LD_PRELOAD): writes to one file fail with EIO, as on a
 * failing disk, after a number of successful ones. What a user cannot
 * simulate with ulimit or a full disk: an I/O error that is not about
 * space. TB_SHIM_EIO_FILE names the file (by the end of its path),
 * TB_SHIM_EIO_AFTER how many writes succeed first (default 0). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Exported: the build hides symbols by default, and a shim works by its
 * names. */
static long writes;

/* 1 if fd is the file the test wants to fail and its turn has come. */
static int should_fail(int fd)
{
    const char *want = getenv("TB_SHIM_EIO_FILE");
    if (!want || !*want) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    size_t wl = strlen(want);
    if ((size_t)n < wl || strcmp(path + n - wl, want) != 0) return 0;
    const char *after = getenv("TB_SHIM_EIO_AFTER");
    return writes++ >= (after ? atol(after) : 0);
}

__attribute__((visibility("default"))) ssize_t pwrite64(int fd, const void *buf, size_t n,
                                                        off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    return real(fd, buf, n, off);
}

__attribute__((visibility("default"))) ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite64(fd, buf, n, off);
}

__attribute__((visibility("default"))) ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    return real(fd, buf, n);
}
