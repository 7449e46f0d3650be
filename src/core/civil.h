/* Private (not installed): calendar arithmetic without timegm, TZ or locale. */
#ifndef TRADEBUS_CIVIL_H
#define TRADEBUS_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); m in 1..12, d in 1..31, any year. */
static inline int64_t tb__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#endif
