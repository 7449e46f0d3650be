/* echo: the smallest tradebus component, in plain C (docs/components.md).
 *
 * Standard C and POSIX only, no tradebus library: the protocol is text, so
 * a component needs nothing but stdin and stdout. tradebus writes each
 * event it subscribed to as one JSON line on stdin; for each, we answer
 * zero or more events and then the end of the reply,
 *
 *   {"end":"<the input's event_id>"}
 *
 * With --publish we also publish one RiskAlert per input first. At end of
 * file on stdin we exit 0. Run it from a config:
 *
 *   [component.echo]
 *   command = ./build/echo_component --publish
 *   subscribes = MarketData
 *   publishes = RiskAlert
 *
 * Also the program `make bench` times tradebus's side of a round trip with. */
#include <stdio.h>
#include <string.h>

/* The id as written between the quotes of "event_id":"...", copied into
 * id (NUL-terminated); 0 if the line has none. The codec writes ids as
 * JSON strings of digits and never puts that key inside another string,
 * so a plain scan is enough: no JSON parser needed. */
static int event_id(const char *line, char *id, size_t len)
{
    static const char key[] = "\"event_id\":\"";
    const char *p = strstr(line, key);
    if (!p) return 0;
    p += sizeof(key) - 1;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n >= len || p[n] != '"') return 0;
    memcpy(id, p, n);
    id[n] = 0;
    return 1;
}

int main(int argc, char **argv)
{
    int publish = argc > 1 && strcmp(argv[1], "--publish") == 0;
    /* Lines are at most a few hundred bytes; an event is 2 KiB at most. */
    static char line[65536], obuf[1 << 16];
    char id[32];

    /* Fully buffered: a reply's lines go out in one write(). Set before
     * the first output, as setvbuf requires. */
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    while (fgets(line, sizeof(line), stdin)) {
        if (!event_id(line, id, sizeof(id))) {
            fprintf(stderr, "echo: no event_id in: %.80s\n", line);
            return 1; /* tradebus names the exit and the event in its error */
        }
        if (publish)
            printf("{\"type\":\"RiskAlert\",\"payload\":{\"rule\":\"echo\",\"detail\":"
                   "\"event %s\",\"trading_state\":\"ACTIVE\",\"strategy_id\":\"echo\","
                   "\"symbol\":\"BTCUSDT\"}}\n",
                   id);
        printf("{\"end\":\"%s\"}\n", id);
        /* Flush once per reply, never less often: tradebus writes the next
         * event only after it has read this end line, so an answer left in
         * our buffer would leave both sides waiting for each other until
         * tradebus's timeout. Never more often either: each flush is a
         * write() system call and a wake-up of tradebus. */
        if (fflush(stdout) != 0) return 1;
    }
    return ferror(stdin) ? 1 : 0;
}
