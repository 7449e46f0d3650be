/* libFuzzer harness: the INI run configuration (tb_config_load,
 * tb_config_set, tb_config_build).
 *
 * Input layout: the config file's bytes, then optionally a NUL byte and
 * NUL-separated "SECTION.KEY=VALUE" assignments applied as --set overrides
 * after the load, as the command line does. The file lives in memory
 * (memfd_create, opened again through /proc/self/fd/N), so no disk I/O and
 * nothing to clean up. */
#define _GNU_SOURCE /* memfd_create, memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <tradebus/config.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* More overrides than any command line has; bounds the work per input. */
#define MAX_SETS 16

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz_config", MFD_CLOEXEC);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
    }
    const uint8_t *nul = memchr(data, '\0', size);
    size_t file_len = nul ? (size_t)(nul - data) : size;
    if (ftruncate(fd, 0) != 0 ||
        (file_len > 0 && pwrite(fd, data, file_len, 0) != (ssize_t)file_len)) {
        perror("fuzz_config: writing the input");
        abort();
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    tb_config cfg;
    tb_config_init(&cfg);
    char err[512];
    int rc = tb_config_load(&cfg, path, err, sizeof err);
    if (rc != 0 && err[0] == '\0') fail("load failed without a reason");

    if (rc == 0 && nul) {
        /* The rest as NUL-terminated assignments; the last may lack its
         * NUL, so work on a terminated copy. */
        size_t rest = size - file_len - 1;
        char *sets = malloc(rest + 1);
        if (!sets) fail("out of memory");
        memcpy(sets, nul + 1, rest);
        sets[rest] = '\0';
        char *p = sets;
        for (int i = 0; i < MAX_SETS && p < sets + rest && rc == 0; i++) {
            rc = tb_config_set(&cfg, p, err, sizeof err);
            if (rc != 0 && err[0] == '\0') fail("--set refused without a reason");
            p += strlen(p) + 1;
        }
        free(sets);
    }
    if (rc == 0) {
        rc = tb_config_build(&cfg, err, sizeof err);
        if (rc != 0 && err[0] == '\0') fail("build failed without a reason");
        /* Building is once only: a second call must be refused, not
         * re-interpret the entries over the built state. */
        if (rc == 0 && tb_config_build(&cfg, err, sizeof err) != TB_EMISUSE)
            fail("a second build was not refused");
    }
    tb_config_free(&cfg);
    return 0;
}
