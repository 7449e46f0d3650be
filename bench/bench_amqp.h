/* Broker throughput: the ceiling (librabbitmq by hand) and the AMQP
 * transport doing the same work, so the two can be compared.
 *
 * Both measure end to end, first publish to last ack, n persistent messages
 * of msg_size bytes through one quorum queue bound to a topic exchange, the
 * queue declared as the transport declares it (dead-letter exchange,
 * delivery limit), so the difference is the transport's own cost (a direct
 * exchange alone is some 15% faster on the broker): a publisher thread on one
 * connection (publisher confirms, waiting for all of them every 256
 * messages, the transport's default confirm_batch; mandatory flag) and a
 * consumer thread on another (prefetch 1000, one basic.ack per message, as
 * a tb_transport user acks). Two threads, because that is how a real
 * producer and consumer run: in separate processes.
 *
 * url: amqp://... of a running broker (TB_AMQP_URL). Each call declares
 * its own queue and deletes it afterwards. 0 and *msgs_per_s, or a
 * negative TB_E* code (TB_ECONN: no broker). */
#ifndef TB_BENCH_AMQP_H
#define TB_BENCH_AMQP_H

#include <stddef.h>

int tb_bench_amqp_raw(const char *url, size_t msg_size, size_t n, double *msgs_per_s);
int tb_bench_amqp_transport(const char *url, size_t msg_size, size_t n, double *msgs_per_s);

#endif
