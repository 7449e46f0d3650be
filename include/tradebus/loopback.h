/* tradebus — an in-memory broker with tb_transport attachments.
 *
 * For tests and tools that run several nodes of a distributed run inside
 * one program, without RabbitMQ: the same topic routing ("Type.#", "#",
 * exact keys), per-queue FIFO, acks, requeue with a delivery limit and a
 * dead-letter queue "<queue>.dlq", and a simulated broker restart. Publishes
 * are confirmed at once. Single-threaded. */
#ifndef TRADEBUS_LOOPBACK_H
#define TRADEBUS_LOOPBACK_H

#include <stddef.h>
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_loop_broker tb_loop_broker;

/* 0 or TB_ENOMEM. Free with tb_loop_broker_destroy() after its transports. */
TB_EXPORT int tb_loop_broker_create(tb_loop_broker **out);
TB_EXPORT void tb_loop_broker_destroy(tb_loop_broker *b);
/* A transport consuming queue (created on first use, kept by the broker with
 * its messages) bound to patterns; queue NULL = publish only. A message
 * rejected with requeue is dead-lettered to "<queue>.dlq" once delivered more
 * than delivery_limit times. 0, TB_ENOMEM, TB_EINVAL. */
TB_EXPORT int tb_loop_transport_create(tb_loop_broker *b, const char *queue,
                                       const char *const *patterns, size_t npatterns,
                                       int delivery_limit, tb_transport **out);
/* Like a broker restart: every unacknowledged message goes back to the head
 * of its queue (redelivered), and every transport's epoch moves on. */
TB_EXPORT void tb_loop_broker_restart(tb_loop_broker *b);
/* Messages waiting (not delivered, or delivered and unacked) in a queue;
 * -1 if there is no such queue. */
TB_EXPORT long tb_loop_queue_depth(const tb_loop_broker *b, const char *queue);

#ifdef __cplusplus
}
#endif
#endif
