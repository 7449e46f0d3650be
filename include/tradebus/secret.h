/* tradebus — secrets: exchange API keys, broker passwords.
 *
 * A secret is never written in a config file, on a command line or in an
 * event. The config holds only where to find it, a spec:
 *   env:NAME    the environment variable NAME (letters, digits, '_'; not
 *               starting with a digit), which must be set and non-empty
 *   file:PATH   the whole content of the regular file PATH (relative to the
 *               current directory), minus trailing '\r' / '\n'. The file must
 *               be private to its owner: if group or others have any access
 *               to it (mode & 077), it is refused, with the fix (chmod 600);
 *               so is a file owned by another user than the effective one
 *               (as ssh refuses such a key: its owner can swap it).
 * Anything else is refused as "not a spec" without being echoed: someone who
 * pasted the key itself into the config must not see it printed in the error.
 *
 * Error messages name the spec's variable or path and say what is wrong;
 * they never contain a secret's value (or a would-be spec that may be one).
 * The value lives in caller-owned storage (tb_secret) which the caller wipes
 * with tb_secret_wipe() as soon as it is no longer needed.
 *
 * tb_secret_redact() is the last line of defence for text that leaves the
 * process (logs, error messages from an exchange that echo a request): every
 * occurrence of any of the given secrets becomes "***". */
#ifndef TRADEBUS_SECRET_H
#define TRADEBUS_SECRET_H

#include <stddef.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a secret's bytes plus its NUL. Exchange keys and secrets are
 * 64-128 characters; 1 KiB leaves room for tokens without being a buffer
 * anyone would mistake for a file reader. */
#define TB_SECRET_MAX 1024

/* What replaces a secret in redacted text. */
#define TB_SECRET_MASK "***"

typedef struct {
    size_t len;                /* bytes in value, 0 when empty or wiped */
    char value[TB_SECRET_MAX]; /* NUL-terminated; contains no NUL itself */
} tb_secret;

/* Checks that spec is a well-formed "env:NAME" or "file:PATH" without
 * reading anything (for config validation). 0, or TB_ECONFIG with the reason
 * in err[errlen]; a malformed spec is never quoted in err. */
TB_EXPORT int tb_secret_spec_check(const char *spec, char *err, size_t errlen);

/* Loads the secret spec points to into *out (wiped first, and wiped again
 * on any error, so it never holds a partial value). Returns 0, or:
 *   TB_ECONFIG  malformed spec; variable unset or empty; file missing, not
 *               a regular file, accessible by group or others, empty, with
 *               a NUL byte, or longer than TB_SECRET_MAX - 1 bytes
 *   TB_EIO      the file exists but could not be read
 *   TB_EINVAL   out or spec is NULL
 * with the reason in err[errlen] (may be NULL). */
TB_EXPORT int tb_secret_load(tb_secret *out, const char *spec, char *err, size_t errlen);

/* Overwrites the whole of *s with zeros through volatile stores, so the
 * compiler cannot drop the wipe as a dead store. NULL is a no-op. */
TB_EXPORT void tb_secret_wipe(tb_secret *s);

/* Copies text into out[outlen] with every occurrence of each non-empty
 * secret in secrets[0..n) replaced by TB_SECRET_MASK (at each position the
 * longest matching secret wins; NULL entries are ignored). text and out must
 * not overlap. Returns the length written, or TB_EFULL if out is too small
 * (out then holds a redacted prefix, NUL-terminated: a secret is replaced
 * whole before anything is cut), TB_EINVAL for NULL text/out or outlen 0.
 * A secret made only of '*' cannot be told apart from the mask. */
TB_EXPORT int tb_secret_redact(const char *text, const tb_secret *const *secrets, size_t n,
                               char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
