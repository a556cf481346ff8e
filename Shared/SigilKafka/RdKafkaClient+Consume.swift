import CRdKafka

extension RdKafkaClient {
    /// Joins the consumer group for these topics; the group coordinator assigns partitions.
    func subscribe(topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics {
            rd_kafka_topic_partition_list_add(list, topic, -1)
        }
        let err = rd_kafka_subscribe(handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, operation: "subscribe") }
    }

    /// Reads exactly these partitions from these offsets, replacing any previous assignment.
    func assign(_ partitions: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        let list = Self.makeList(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_assign(handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, operation: "assign") }
    }

    /// The partitions this consumer currently reads.
    func assignment() throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let err = rd_kafka_assignment(handle, &list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(err, operation: "assignment") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            return KafkaTopicPartitionOffset(
                topic: String(cString: element.topic),
                partition: element.partition,
                offset: .exactly(element.offset)
            )
        }
    }

    /// Marks records as processed: the group commits the offset after each (in the background).
    func storeOffsets(_ positions: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        let list = Self.makeList(positions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_offsets_store(handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, operation: "store offsets") }
    }

    enum PollResult {
        case message(KafkaConsumerMessage)
        /// A consumer error event; librdkafka keeps retrying on its own unless it is fatal.
        case error(KafkaError)
        case nothing
    }

    /// One record, error or nothing within the timeout. Blocking.
    func consumerPoll(timeoutMilliseconds: Int32) -> PollResult {
        guard let message = rd_kafka_consumer_poll(handle, timeoutMilliseconds) else { return .nothing }
        defer { rd_kafka_message_destroy(message) }
        let record = message.pointee
        let topic = record.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        guard record.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if record.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return .nothing }
            let reason = rd_kafka_message_errstr(message).map { String(cString: $0) }
            return .error(KafkaError(code: .init(record.err), operation: "consume \(topic)", reason: reason))
        }
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        let key = record.key.map { Array(UnsafeRawBufferPointer(start: $0, count: record.key_len)) }
        let value = record.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: record.len)) } ?? []
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return .message(
            KafkaConsumerMessage(
                topic: topic,
                partition: record.partition,
                offset: record.offset,
                key: key,
                value: value,
                headers: headers,
                timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp
            )
        )
    }

    /// Leaves the group (committing stored offsets). Blocking.
    func closeConsumer() {
        _ = rd_kafka_consumer_close(handle)
    }

    private static func makeList(
        _ positions: [KafkaTopicPartitionOffset]
    ) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(positions.count))!
        for position in positions {
            let element = rd_kafka_topic_partition_list_add(list, position.topic, position.partition)
            element?.pointee.offset = position.offset.rawValue
        }
        return list
    }
}
