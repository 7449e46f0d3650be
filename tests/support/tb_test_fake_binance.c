/* Helpers for tests against the fake Binance (tb_test_fake_binance.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tb_test_fake_binance.h"

int tbt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

void tbt_fb_script(const char *args)
{
    /* ctest names the fake and the script (tb_uses_fake_binance); a test
     * binary run by hand falls back to the build's. */
    const char *bin = getenv("FAKE_BINANCE"), *sh = getenv("TB_FAKE_BINANCE_SCRIPT");
#ifdef TB_FAKE_BINANCE
    if (!bin) bin = TB_FAKE_BINANCE;
#endif
    if (!bin) fail_msg("FAKE_BINANCE is not set: run the test through ctest");
    char cmd[2048], dflt[1024];
    snprintf(dflt, sizeof(dflt), "%s/scripts/fake_binance.sh", TB_SOURCE_DIR);
    snprintf(cmd, sizeof(cmd), "FAKE_BINANCE='%s' sh '%s' %s", bin, sh ? sh : dflt, args);
    if (system(cmd) != 0) fail_msg("failed: %s", cmd);
}

typedef struct {
    char *body;
    size_t len;
} reply;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    if (!nb) return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

json_t *tbt_fb_ctl(const char *base, const char *method, const char *path, const char *json)
{
    reply r = {NULL, 0};
    char url[1024];
    snprintf(url, sizeof(url), "%s/_ctl/%s", base, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    /* No "Expect: 100-continue": curl would wait a second for it on every
     * large body (a page of klines). */
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (json) curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) fail_msg("control %s %s: %s", method, path, curl_easy_strerror(rc));
    if (status != 200) fail_msg("control %s %s: %ld %s", method, path, status, r.body);
    json_t *j = json_loads(r.body ? r.body : "null", JSON_DECODE_ANY, NULL);
    if (!j) fail_msg("control %s %s: not JSON: %s", method, path, r.body);
    free(r.body);
    return j;
}
