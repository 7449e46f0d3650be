/* Private (not installed): the end-of-reply line's parser, for the fuzzer. */
#ifndef TRADEBUS_EXTERNAL_INT_H
#define TRADEBUS_EXTERNAL_INT_H

#include <stdint.h>

/* [s, e) is {"end":"<digits>"} with any blanks around the tokens (a \r
 * before the newline included) and a value that fits 64 bits: 1 and the
 * value in *id, else 0. */
int tb__external_end_line(const char *s, const char *e, uint64_t *id);

#endif
