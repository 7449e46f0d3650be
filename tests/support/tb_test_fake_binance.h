/* Helpers for tests that run against the fake Binance (tools/fake_binance,
 * docs/fake-binance.md): start and stop it, and script it through /_ctl. */
#ifndef TB_TEST_FAKE_BINANCE_H
#define TB_TEST_FAKE_BINANCE_H

#include <jansson.h>

/* A loopback port nobody listens on (bound, then released). */
int tbt_free_port(void);
/* Runs scripts/fake_binance.sh ARGS (start DIR PORT [options] | stop DIR)
 * with the fake ctest names; the test fails if it fails. */
void tbt_fb_script(const char *args);
/* METHOD BASE/_ctl/PATH with an optional JSON body: the reply's JSON
 * (json_decref it); the test fails on a transport error, a status other
 * than 200 or a reply that is not JSON. */
json_t *tbt_fb_ctl(const char *base, const char *method, const char *path, const char *json);

#endif
