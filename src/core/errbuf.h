/* Private (not installed): filling a caller's error buffer. */
#ifndef TRADEBUS_ERRBUF_H
#define TRADEBUS_ERRBUF_H

#include <stddef.h>
#include <stdio.h>

/* printf into err[errlen]; nothing if err is NULL or errlen is 0. Truncates. */
void tb__errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Opens dir/name for writing; NULL with "PATH: cannot write: why" in err. */
FILE *tb__open_out(const char *dir, const char *name, char *err, size_t errlen);

#endif
