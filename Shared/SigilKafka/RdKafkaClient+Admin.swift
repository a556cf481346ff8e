import CRdKafka

extension RdKafkaClient {
    /// The brokers and every topic with its partition count. Blocking up to the timeout.
    func metadata(timeoutMilliseconds: Int32) throws(KafkaError) -> KafkaClusterMetadata {
        var pointer: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &pointer, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let pointer else { throw KafkaError(err, operation: "metadata") }
        defer { rd_kafka_metadata_destroy(pointer) }
        let metadata = pointer.pointee
        let brokers = (0..<Int(metadata.broker_cnt)).map { index in
            let broker = metadata.brokers[index]
            return KafkaClusterMetadata.Broker(id: broker.id, host: String(cString: broker.host), port: broker.port)
        }
        let topics = (0..<Int(metadata.topic_cnt)).map { index in
            let topic = metadata.topics[index]
            let replicas = (0..<Int(topic.partition_cnt)).map { topic.partitions[$0].replica_cnt }.min() ?? 0
            return KafkaClusterMetadata.Topic(
                name: String(cString: topic.topic),
                partitions: topic.partition_cnt,
                errorCode: topic.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError.Code(topic.err),
                replicas: replicas
            )
        }
        return KafkaClusterMetadata(brokers: brokers, topics: topics)
    }

    /// Asks the controller to create topics; returns each topic's outcome (`nil` for created). Blocking.
    func createTopics(
        _ specifications: [KafkaTopicSpecification],
        timeoutMilliseconds: Int32
    ) throws(KafkaError) -> [String: KafkaError?] {
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
        for specification in specifications {
            guard
                let newTopic = rd_kafka_NewTopic_new(
                    specification.name,
                    specification.partitions,
                    specification.replicationFactor,
                    &errstr,
                    errstr.count
                )
            else {
                throw KafkaError(
                    code: .invalidConfiguration,
                    operation: "create topic \(specification.name)",
                    reason: errorText(errstr)
                )
            }
            newTopics.append(newTopic)
            for (name, value) in specification.configs.sorted(by: { $0.key < $1.key }) {
                let err = rd_kafka_NewTopic_set_config(newTopic, name, value)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(err, operation: "set \(name) of new topic \(specification.name)")
                }
            }
        }
        return try adminRequest(
            RD_KAFKA_ADMIN_OP_CREATETOPICS, operation: "create topics", answerer: "the controller",
            timeoutMilliseconds: timeoutMilliseconds, operationTimeout: true
        ) { options, queue in
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
            }
        } read: { event throws(KafkaError) in
            guard let result = rd_kafka_event_CreateTopics_result(event) else { return [:] }
            var count = 0
            guard let topicResults = rd_kafka_CreateTopics_result_topics(result, &count) else { return [:] }
            var outcome: [String: KafkaError?] = [:]
            for index in 0..<count {
                let topicResult = topicResults[index]
                let name = String(cString: rd_kafka_topic_result_name(topicResult))
                let err = rd_kafka_topic_result_error(topicResult)
                outcome[name] =
                    err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err, operation: "create topic \(name)")
            }
            return outcome
        }
    }

    /// Sends one admin request on a queue of its own and reads its result event (destroyed afterwards). Blocking.
    private func adminRequest<Result>(
        _ kind: rd_kafka_admin_op_t, operation: String, answerer: String, timeoutMilliseconds: Int32,
        operationTimeout: Bool = false,
        send: (_ options: OpaquePointer?, _ queue: OpaquePointer?) -> Void,
        read: (OpaquePointer) throws(KafkaError) -> Result
    ) throws(KafkaError) -> Result {
        var errstr = [CChar](repeating: 0, count: 512)
        let queue = rd_kafka_queue_new(handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, kind)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMilliseconds, &errstr, errstr.count)
        if operationTimeout {
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMilliseconds, &errstr, errstr.count)
        }
        send(options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds + 1_000) else {
            throw KafkaError(code: .timedOut, operation: operation, reason: "no answer from \(answerer)")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(eventError, operation: operation) }
        return try read(event)
    }
}

extension RdKafkaClient {
    /// Each topic's configuration as the brokers report it (every entry, defaults included). Blocking.
    func describeTopicConfigs(
        _ names: [String], timeoutMilliseconds: Int32
    ) throws(KafkaError) -> [String: [String: String]] {
        var resources: [OpaquePointer?] = names.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
        defer { resources.forEach { rd_kafka_ConfigResource_destroy($0) } }
        return try adminRequest(
            RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, operation: "describe topic configs", answerer: "a broker",
            timeoutMilliseconds: timeoutMilliseconds
        ) { options, queue in
            resources.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_DescribeConfigs(handle, buffer.baseAddress, buffer.count, options, queue)
            }
        } read: { event throws(KafkaError) in
            guard let result = rd_kafka_event_DescribeConfigs_result(event) else { return [:] }
            var count = 0
            guard let described = rd_kafka_DescribeConfigs_result_resources(result, &count) else { return [:] }
            var configs: [String: [String: String]] = [:]
            for index in 0..<count {
                let resource = described[index]
                let name = String(cString: rd_kafka_ConfigResource_name(resource))
                let err = rd_kafka_ConfigResource_error(resource)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(err, operation: "describe the configuration of topic \(name)")
                }
                var entryCount = 0
                guard let entries = rd_kafka_ConfigResource_configs(resource, &entryCount) else { continue }
                var topic: [String: String] = [:]
                for entryIndex in 0..<entryCount {
                    let entry = entries[entryIndex]
                    guard let value = rd_kafka_ConfigEntry_value(entry) else { continue }
                    topic[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
                }
                configs[name] = topic
            }
            return configs
        }
    }

    /// The offset the next record of a partition will get (its high watermark). Blocking.
    func watermarks(
        topic: String, partition: Int32, timeoutMilliseconds: Int32
    ) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, operation: "watermarks of \(topic)") }
        return (low, high)
    }
}
