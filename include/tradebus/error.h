/* tradebus — error codes.
 *
 * Every fallible call returns int: 0 on success or a negative TB_E* code.
 * Codes are append-only (never renumbered). Rich context (file:line, field)
 * goes into a caller-supplied or per-handle message buffer, never a global. */
#ifndef TRADEBUS_ERROR_H
#define TRADEBUS_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define TB_EXPORT __attribute__((visibility("default")))

/* X(name, value, message): one table so the enum and the strings cannot drift. */
#define TB_ERRNO_MAP(X)                                                                            \
    X(TB_OK, 0, "success")                                                                         \
    X(TB_EINVAL, -1, "invalid argument")                                                           \
    X(TB_ENOMEM, -2, "out of memory")                                                              \
    X(TB_EOVERFLOW, -3, "numeric overflow")                                                        \
    X(TB_EPARSE, -4, "malformed input")                                                            \
    X(TB_ERANGE, -5, "value out of range")                                                         \
    X(TB_EIO, -6, "input/output error")                                                            \
    X(TB_ENOTFOUND, -7, "not found")                                                               \
    X(TB_ESTATE, -8, "illegal state transition")                                                   \
    X(TB_EREJECTED, -9, "rejected")                                                                \
    X(TB_EFULL, -10, "capacity exhausted")                                                         \
    X(TB_EMISUSE, -11, "API misuse")                                                               \
    X(TB_EDIVZERO, -12, "division by zero")                                                        \
    X(TB_ECONFIG, -13, "bad configuration")                                                        \
    X(TB_EDATA, -14, "bad market data")                                                            \
    X(TB_EHANDLER, -15, "event handler failed")                                                    \
    X(TB_EEOF, -16, "end of input")                                                                \
    X(TB_ETIMEOUT, -17, "timed out")                                                               \
    X(TB_ECONN, -18, "connection to the broker lost")                                              \
    X(TB_ECANCELED, -19, "canceled")                                                               \
    X(TB_ENOTSUP, -20, "not supported")                                                            \
    X(TB_EINPROGRESS, -21, "in progress: the result comes later")

typedef enum {
#define TB__ERR_ENUM(name, value, msg) name = value,
    TB_ERRNO_MAP(TB__ERR_ENUM)
#undef TB__ERR_ENUM
} tb_err;

/* 1 if err is transient (TB_ENOMEM, TB_EIO, TB_EFULL, TB_ETIMEOUT, TB_ECONN): worth retrying.
 * Every other error is permanent: retrying the same input cannot help. */
TB_EXPORT int tb_err_is_transient(int err);
/* Human-readable message for an error code; static string, never NULL. */
TB_EXPORT const char *tb_strerror(int err);
/* Symbolic name ("TB_EINVAL") for an error code; static string, never NULL. */
TB_EXPORT const char *tb_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
