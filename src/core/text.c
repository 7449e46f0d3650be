/* Text for a human on a terminal: control bytes and bad UTF-8 made visible
 * (the rules are in text.h). */
#include <stdio.h>

#include "codec_int.h"
#include "tradebus/text.h"

/* The next unit of s[0..len): how many input bytes it takes (returned) and
 * what it shows, either those bytes themselves (*esc_len 0) or the escape
 * in esc[*esc_len]. */
static size_t next_unit(const unsigned char *s, size_t len, unsigned flags, char esc[8],
                        size_t *esc_len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];
    *esc_len = 0;
    if ((c >= 0x20 && c < 0x7f) || c == '\t' || (c == '\n' && (flags & TB_TEXT_NEWLINES))) return 1;
    if (c >= 0x80) {
        size_t n = tb__codec_utf8_len(s, len);
        if (n == 2 && c == 0xc2 && s[1] < 0xa0) {
            /* U+0080-U+009F: C1 controls, which an 8-bit terminal obeys. */
            esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[s[1] >> 4], esc[5] = hex[s[1] & 15];
            *esc_len = 6;
            return 2;
        }
        if (n) return n;
    }
    esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
    *esc_len = 4;
    return 1;
}

size_t tb_text_escape(char *out, size_t cap, const char *s, size_t len, unsigned flags)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t total = 0, at = 0; /* at: bytes in out; stops growing at the first unit that misses */
    int full = cap == 0;
    char esc[8];
    for (size_t i = 0; s && i < len;) {
        size_t el, n = next_unit(u + i, len - i, flags, esc, &el);
        const char *show = el ? esc : s + i;
        size_t sl = el ? el : n;
        if (!full && at + sl < cap) {
            for (size_t k = 0; k < sl; k++)
                out[at++] = show[k];
        } else {
            full = 1;
        }
        total += sl;
        i += n;
    }
    if (cap) out[at] = 0;
    return total;
}

int tb_text_write(FILE *f, const char *s, size_t len, unsigned flags)
{
    if (!f) return TB_EINVAL;
    const unsigned char *u = (const unsigned char *)s;
    char esc[8];
    size_t run = 0; /* start of the bytes passing unchanged, written at once */
    for (size_t i = 0; s && i < len;) {
        size_t el, n = next_unit(u + i, len - i, flags, esc, &el);
        if (el) {
            if (fwrite(s + run, 1, i - run, f) != i - run || fwrite(esc, 1, el, f) != el)
                return TB_EIO;
            run = i + n;
        }
        i += n;
    }
    if (s && fwrite(s + run, 1, len - run, f) != len - run) return TB_EIO;
    return 0;
}
