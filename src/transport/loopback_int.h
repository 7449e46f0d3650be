/* Private (not installed): an in-memory broker with tb_transport
 * attachments, for the tests that run several nodes of a distributed run
 * inside one program (tests/test_dist.c), without RabbitMQ. It is no
 * transport type of the registry: its broker lives in the one program. It has the same topic
 * routing ("Type.#", "#", exact keys), per-queue FIFO, acks, requeue with a delivery limit and a
 * dead-letter queue "<queue>.dlq", and a simulated broker restart. Publishes
 * are confirmed at once. Single-threaded. */
#ifndef TRADEBUS_LOOPBACK_INT_H
#define TRADEBUS_LOOPBACK_INT_H

#include <stddef.h>
#include "tradebus/transport.h"

typedef struct tb__loop_broker tb__loop_broker;

/* 0 or TB_ENOMEM. Free with tb__loop_broker_destroy() after its transports. */
int tb__loop_broker_create(tb__loop_broker **out);
void tb__loop_broker_destroy(tb__loop_broker *b);
/* A transport consuming queue (created on first use, kept by the broker with
 * its messages) bound to patterns; queue NULL = publish only. A message
 * rejected with requeue is dead-lettered to "<queue>.dlq" once delivered more
 * than delivery_limit times. 0, TB_ENOMEM, TB_EINVAL. */
int tb__loop_transport_create(tb__loop_broker *b, const char *queue, const char *const *patterns,
                              size_t npatterns, int delivery_limit, tb_transport **out);
/* Like a broker restart: every unacknowledged message goes back to the head
 * of its queue (redelivered), and every transport's epoch moves on. */
void tb__loop_broker_restart(tb__loop_broker *b);
/* Messages waiting (not delivered, or delivered and unacked) in a queue;
 * -1 if there is no such queue. */
long tb__loop_queue_depth(const tb__loop_broker *b, const char *queue);

#endif
