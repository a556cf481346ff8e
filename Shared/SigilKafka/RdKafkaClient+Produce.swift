import CRdKafka

extension RdKafkaClient {
    /// Enqueues a record. librdkafka copies key and value; the delivery report later resolves `promise`.
    func produce(_ message: KafkaProducerMessage, promise: DeliveryPromise?) throws(KafkaError) {
        guard let headers = rd_kafka_headers_new(message.headers.count) else {
            throw KafkaError(code: .queueFull, operation: "produce to \(message.topic)", reason: "out of memory")
        }
        for header in message.headers {
            if let value = header.value {
                value.withUnsafeBytes { bytes in
                    _ = rd_kafka_header_add(headers, header.key, -1, bytes.baseAddress, bytes.count)
                }
            } else {
                _ = rd_kafka_header_add(headers, header.key, -1, nil, 0)
            }
        }
        let opaque = promise.map { Unmanaged.passRetained($0).toOpaque() }
        let partition = message.partition ?? -1  // RD_KAFKA_PARTITION_UA: the partitioner decides
        let err = message.value.withUnsafeBytes { value in
            withOptionalBytes(message.key) { key in
                sigil_rd_kafka_produce(
                    handle,
                    message.topic,
                    partition,
                    key?.baseAddress,
                    key?.count ?? 0,
                    value.baseAddress,
                    value.count,
                    headers,
                    opaque
                )
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_headers_destroy(headers)
            if let opaque { Unmanaged<DeliveryPromise>.fromOpaque(opaque).release() }
            throw KafkaError(err, operation: "produce to \(message.topic)")
        }
    }

    /// Waits until every enqueued record has a delivery report or the timeout passes. Blocking.
    func flush(timeoutMilliseconds: Int32) -> KafkaError? {
        let err = rd_kafka_flush(handle, timeoutMilliseconds)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err, operation: "flush")
    }

    /// Records enqueued and not yet acknowledged.
    var outstandingRecords: Int { Int(rd_kafka_outq_len(handle)) }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

extension RdKafkaClient {
    /// Creates librdkafka's topic object, which makes the client fetch the topic's metadata now rather than when
    /// the first record is produced (with librdkafka 2.0.2 that first record otherwise waits up to a second).
    func topicHandle(_ name: String) -> OpaquePointer? {
        rd_kafka_topic_new(handle, name, nil)
    }

    func releaseTopicHandle(_ topic: OpaquePointer) {
        rd_kafka_topic_destroy(topic)
    }
}
