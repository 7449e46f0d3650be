/* Private to the codec (codec.c: the tables and encoding; codec_decode.c:
 * the checks and the jansson path; codec_fast.c: the allocation-free path).
 * What the three share: the field tables' shape, the value view the checks
 * read, and the checks' entry point. */
#ifndef TRADEBUS_CODEC_INT_H
#define TRADEBUS_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tradebus/codec.h"

#define BIT(v) (1u << (v))

typedef enum {
    K_STR,  /* char array, JSON string */
    K_DEC,  /* tb_decimal, JSON string */
    K_TIME, /* int64 ns, JSON integer */
    K_ID,   /* uint64, JSON string of its decimal digits */
    K_SIGNAL_TYPE,
    K_SIDE,
    K_ORDER_TYPE,
    K_ORDER_STATUS,
    K_POSITION_STATUS,
    K_TRADING_STATE,
    K_REJECT_REASON,
    K_TIME_IN_FORCE,
    K_ORDER_ORIGIN,
    K_CANCEL_CAUSE
} field_kind;

typedef enum { C_ANY, C_POSITIVE, C_NONNEG } field_check;

/* One payload member. The encoder and the decoder share these tables, so the
 * wire names are the member names by construction (#m) and cannot drift. */
typedef struct {
    const char *name;
    unsigned char name_len;
    unsigned char kind;  /* field_kind */
    unsigned char check; /* field_check, for K_DEC and K_TIME */
    unsigned short offset;
    unsigned short size; /* array size, for K_STR */
    unsigned allowed;    /* enums: accepted values as a bit mask; 0 = any known */
    /* Added after version 1's fields: left out of the encoding when zero
     * (so events of runs that do not use them are written as before) and
     * zero when missing on decode (so older journals and producers decode). */
    unsigned char optional;
    /* The JSON key as the encoder writes it, "name": (quotes and colon),
     * in an array long enough to copy whole: one fixed-size copy. */
    char key[32];
    unsigned char key_len;
} field_desc;

typedef struct {
    const field_desc *fields;
    size_t count;
} payload_desc;

/* The fields of a type's payload, NULL for a type without one. */
const payload_desc *tb__codec_payload_of(tb_event_type type);
const char *tb__codec_enum_name(field_kind kind, int v);
int tb__codec_enum_parse(field_kind kind, const char *s, int *v);
/* What an enum is called in a message ("side", "order status"). */
const char *tb__codec_enum_noun(field_kind kind);
/* Length of the well-formed UTF-8 sequence at s, or 0 (see codec.c). */
size_t tb__codec_utf8_len(const unsigned char *s, size_t avail);

typedef struct {
    char *buf;
    size_t len;
} errbuf;

/* A JSON value as the checks see it, whatever parser read it, so the checks
 * exist once. Strings hold no NUL (jansson refuses "\u0000" without
 * JSON_ALLOW_NUL), so len is their C length; s need not be NUL-terminated. */
typedef enum { V_MISSING = 0, V_STRING, V_INTEGER, V_OBJECT, V_OTHER } value_kind;

typedef struct {
    value_kind kind;
    size_t len;      /* V_STRING */
    const char *s;   /* V_STRING: len bytes */
    int64_t i;       /* V_INTEGER */
    const void *obj; /* V_OBJECT: the parser's own object, for its members_fn */
} value;

/* A parser's view of a payload object: sets fields[i] to the member named
 * pd->fields[i].name (fields[] arrives all V_MISSING). Fails on a member pd
 * does not name, the first in the object's order. */
typedef int (*members_fn)(const void *obj, const payload_desc *pd, value *fields, const errbuf *e);

/* Room for the largest payload's fields. */
enum { MAX_FIELDS = 16 };

/* The envelope's members, in the order they are checked (and encoded). */
enum {
    E_TYPE,
    E_VERSION,
    E_EVENT_ID,
    E_CAUSATION_ID,
    E_CORRELATION_ID,
    E_TIMESTAMP,
    E_SOURCE,
    E_PAYLOAD,
    E_COUNT
};

typedef struct {
    const char *name;
    size_t len;
} tb__codec_key;
extern const tb__codec_key tb__codec_envelope_keys[E_COUNT];

/* Every check of an event, in the order the first offence is reported:
 * env[] holds the envelope's members (V_MISSING if absent), members reads
 * the payload object. 0, or TB_EPARSE with the offence in *e. */
/* TB__DECODE_EVENT: a whole event. TB__DECODE_PUBLISHED: what an external
 * component publishes (external.h): no ids and no source (the host assigns
 * them), version and timestamp optional (timestamp INT64_MIN when absent). */
enum { TB__DECODE_EVENT = 0, TB__DECODE_PUBLISHED = 1 };
int tb__codec_decode_envelope(const value *env, members_fn members, tb_event *out, const errbuf *e,
                              int mode);

#endif
