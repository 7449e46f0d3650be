/* tradebus — version. */
#ifndef TRADEBUS_VERSION_H
#define TRADEBUS_VERSION_H

#define TB_VERSION_MAJOR  0
#define TB_VERSION_MINOR  1
#define TB_VERSION_PATCH  0
#define TB_VERSION_STRING "0.1.0"

#endif
