/* Private (not installed): starting a helper thread of the library (the
 * market-data reader, the cache check, the journal's checkpoints). */
#ifndef TRADEBUS_THREAD_H
#define TRADEBUS_THREAD_H

#include <pthread.h>

/* pthread_create(t, NULL, fn, arg) with every signal blocked in the new
 * thread: Ctrl-C and the rest stay with the caller's threads, whose loop
 * handles them. Returns pthread_create's result (0 or an errno). */
int tb__thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
