/* Decoding without allocating: the parser every event meets first. */
#include "codec_int.h"

#include "codec_paths.h"

#include <string.h>

/* Every event a consumer receives is parsed here first, in one pass over the
 * input and without a heap allocation. It reads only the JSON events are
 * written in: one object of strings, non-negative integers and, under
 * "payload", one object of strings and integers. It accepts only what it is
 * sure jansson reads the same way: anything else, and every error (of syntax
 * or of the checks), makes it give up, and the strict path decodes the input
 * again. Errors thus keep jansson's text and precedence (syntax before the
 * checks), and the fast path cannot accept what the strict path refuses:
 * whatever it accepts is valid JSON that jansson parses to the very values
 * it hands to the very same checks. */

/* A payload member, kept until the type says which fields the payload has
 * (the type may come after it). */
typedef struct {
    const char *key;
    size_t key_len;
    value v;
} member;

typedef struct {
    member m[MAX_FIELDS]; /* more members than any payload has fields: give up */
    size_t count;
} member_list;

/* The whitespace JSON (and jansson) allows between tokens. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static int is_plain(char c)
{
    return (unsigned char)(c - 0x20) < 0x60 && c != '"' && c != '\\';
}

/* The first byte at p that is not plain in a string (printable ASCII other
 * than '"' and '\\'), 8 bytes at a time: strings are mostly plain. The tests
 * are the classic "has a byte less than n" ((x - n*ones) & ~x & highs, exact
 * for n <= 128) and "has a zero byte" (n = 1). A borrow can only flag bytes
 * after a byte truly flagged, which little-endian loads put higher in the
 * word: the lowest flag is exact. */
static const char *skip_plain(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
        uint64_t control = (w - ones * 0x20) & ~w;
        uint64_t has_quote = (quote - ones) & ~quote;
        uint64_t has_backslash = (backslash - ones) & ~backslash;
        uint64_t flags = (control | has_quote | has_backslash | w) & highs; /* w: >= 0x80 */
        if (flags != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + __builtin_ctzll(flags) / 8;
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && is_plain(*p))
        p++;
    return p;
}

/* After an opening quote: the string, if it holds only printable ASCII and
 * well-formed UTF-8 (tb__codec_utf8_len refuses what jansson refuses), so its bytes
 * are its value. An escape or a control byte gives up: jansson decodes or
 * refuses those. Returns the position past the closing quote, or NULL. */
static const char *scan_string(const char *p, const char *end, value *v)
{
    const char *start = p;
    for (;;) {
        p = skip_plain(p, end);
        if (p == end) return NULL;
        if (*p == '"') break;
        size_t n = tb__codec_utf8_len((const unsigned char *)p, (size_t)(end - p));
        if (n == 0) return NULL; /* a backslash, a control byte or bad UTF-8 */
        p += n;
    }
    v->kind = V_STRING;
    v->s = start;
    v->len = (size_t)(p - start);
    return p + 1;
}

/* At a digit: the integer jansson reads there, if it has no leading zero
 * and fits int64 (jansson refuses both). Whatever follows is the caller's:
 * only whitespace, ',' or '}' may, which leaves out reals ('.', 'e', 'E'). */
static const char *scan_integer(const char *p, const char *end, value *v)
{
    const char *start = p;
    uint64_t n = 0;
    /* 19 digits fit 64 bits unsigned: the range is tested once after them
     * (a nanosecond time has 19), and only a 20th needs the test per digit. */
    const char *fast_end = end - p > 19 ? p + 19 : end;
    for (; p < fast_end && *p >= '0' && *p <= '9'; p++)
        n = n * 10 + (unsigned)(*p - '0');
    if (n > (uint64_t)INT64_MAX) return NULL;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > ((uint64_t)INT64_MAX - d) / 10) return NULL;
        n = n * 10 + d;
    }
    if (*start == '0' && p - start > 1) return NULL;
    v->kind = V_INTEGER;
    v->i = (int64_t)n;
    return p;
}

/* A string or a non-negative integer; anything else ('-', true, false,
 * null, arrays, objects) is for jansson. */
static const char *scan_scalar(const char *p, const char *end, value *v)
{
    if (*p == '"') return scan_string(p + 1, end, v);
    if (*p >= '0' && *p <= '9') return scan_integer(p, end, v);
    return NULL;
}

/* At a member: its key, then the position of its value. */
static const char *scan_key(const char *p, const char *end, value *key)
{
    if (p == end || *p != '"' || (p = scan_string(p + 1, end, key)) == NULL) return NULL;
    p = skip_ws(p, end);
    if (p == end || *p != ':') return NULL;
    p = skip_ws(p + 1, end);
    return p < end ? p : NULL;
}

/* After a member's value: the next member past a ',', or (*closed set) the
 * position past the object's '}'. */
static const char *scan_next(const char *p, const char *end, int *closed)
{
    p = skip_ws(p, end);
    if (p == end || (*p != ',' && *p != '}')) return NULL;
    *closed = *p == '}';
    return *closed ? p + 1 : skip_ws(p + 1, end);
}

/* After the payload's '{': its members, up to and past its '}'. An empty
 * payload lacks every field: given up like any error. */
static const char *scan_payload(const char *p, const char *end, member_list *list)
{
    list->count = 0;
    p = skip_ws(p, end);
    for (int closed = 0; !closed;) {
        if (list->count == MAX_FIELDS) return NULL;
        member *m = &list->m[list->count++];
        value key;
        if ((p = scan_key(p, end, &key)) == NULL || (p = scan_scalar(p, end, &m->v)) == NULL ||
            (p = scan_next(p, end, &closed)) == NULL)
            return NULL;
        m->key = key.s;
        m->key_len = key.len;
    }
    return p;
}

static int envelope_index(const value *key)
{
    for (int k = 0; k < E_COUNT; k++) {
        if (tb__codec_envelope_keys[k].len == key->len &&
            memcmp(tb__codec_envelope_keys[k].name, key->s, key->len) == 0)
            return k;
    }
    return -1;
}

/* The whole input: the envelope's members into env[] (all V_MISSING on
 * entry), the payload's into *payload. */
static int scan_event(const char *p, const char *end, value *env, member_list *payload)
{
    p = skip_ws(p, end);
    if (p == end || *p != '{') return TB_EPARSE;
    p = skip_ws(p + 1, end);
    for (int closed = 0; !closed;) {
        value key;
        if ((p = scan_key(p, end, &key)) == NULL) return TB_EPARSE;
        int k = envelope_index(&key);
        /* An unknown key is an error; a repeated one, jansson's error. */
        if (k < 0 || env[k].kind != V_MISSING) return TB_EPARSE;
        if (k == E_PAYLOAD && *p == '{') {
            p = scan_payload(p + 1, end, payload);
            env[k].kind = V_OBJECT;
            env[k].obj = payload;
        } else {
            p = scan_scalar(p, end, &env[k]);
        }
        if (p == NULL || (p = scan_next(p, end, &closed)) == NULL) return TB_EPARSE;
    }
    return skip_ws(p, end) == end ? TB_OK : TB_EPARSE;
}

/* Gives up, saying nothing, on an unknown member (an error) and on a
 * repeated one (jansson's error): the strict path says which. */
static int fast_members(const void *obj, const payload_desc *pd, value *fields, const errbuf *e)
{
    (void)e;
    const member_list *list = obj;
    size_t i = 0; /* members mostly come in the encoder's order: look there first */
    for (size_t m = 0; m < list->count; m++) {
        const member *mb = &list->m[m];
        size_t tried = 0;
        while (pd->fields[i].name_len != mb->key_len ||
               memcmp(pd->fields[i].name, mb->key, mb->key_len) != 0) {
            if (++tried == pd->count) return TB_EPARSE;
            if (++i == pd->count) i = 0;
        }
        if (fields[i].kind != V_MISSING) return TB_EPARSE;
        fields[i] = mb->v;
        if (++i == pd->count) i = 0;
    }
    return TB_OK;
}

int tb__codec_decode_fast_mode(const char *json, size_t len, tb_event *out, int mode)
{
    static const errbuf quiet = {NULL, 0}; /* the strict path reports */
    if (json == NULL || out == NULL) return TB_EINVAL;
    memset(out, 0, sizeof *out);
    value env[E_COUNT];
    memset(env, 0, sizeof env);
    member_list payload;
    if (scan_event(json, json + len, env, &payload) != TB_OK) return TB_EPARSE;
    return tb__codec_decode_envelope(env, fast_members, out, &quiet, mode);
}

int tb__codec_decode_fast(const char *json, size_t len, tb_event *out)
{
    return tb__codec_decode_fast_mode(json, len, out, TB__DECODE_EVENT);
}

int tb__codec_decode_published(const char *json, size_t len, tb_event *out, char *err,
                               size_t errlen)
{
    if (json != NULL && out != NULL &&
        tb__codec_decode_fast_mode(json, len, out, TB__DECODE_PUBLISHED) == TB_OK) {
        if (err != NULL && errlen > 0) err[0] = '\0';
        return TB_OK;
    }
    return tb__codec_decode_strict_mode(json, len, out, err, errlen, TB__DECODE_PUBLISHED);
}

int tb_codec_decode(const char *json, size_t len, tb_event *out, char *err, size_t errlen)
{
    if (json != NULL && out != NULL && tb__codec_decode_fast(json, len, out) == TB_OK) {
        if (err != NULL && errlen > 0) err[0] = '\0';
        return TB_OK;
    }
    return tb__codec_decode_strict(json, len, out, err, errlen);
}
