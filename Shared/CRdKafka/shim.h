#ifndef SIGIL_CRDKAFKA_SHIM_H
#define SIGIL_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

// Swift cannot call C variadic functions, and rd_kafka_producev() is the only produce call that takes an explicit
// partition, a key, a value, headers and a per-message opaque at once. This inline wrapper is compiled into the
// importing module; it adds no behaviour of its own. On success librdkafka owns `headers`; on failure the caller
// still owns them and must destroy them.
static inline rd_kafka_resp_err_t sigil_rd_kafka_produce(
    rd_kafka_t *rk, const char *topic, int32_t partition, const void *key, size_t key_len,
    const void *payload, size_t payload_len, rd_kafka_headers_t *headers, void *opaque) {
    return rd_kafka_producev(
        rk,
        RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)payload, payload_len),
        RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_OPAQUE(opaque),
        RD_KAFKA_V_END);
}

#endif
