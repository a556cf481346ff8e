import CRdKafka
import Logging
import Synchronization

/// The one owner of a librdkafka handle (`rd_kafka_t`). Every `rd_kafka_*` call Sigil makes goes through this type
/// and its extensions; pointers never escape the calls. librdkafka is thread-safe for the calls made here, so the
/// type is `Sendable`; blocking calls are made by the public types on their own dispatch queues, never on Swift's
/// cooperative pool.
final class RdKafkaClient: @unchecked Sendable {
    enum Kind {
        case producer
        case consumer

        var raw: rd_kafka_type_t { self == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER }
    }

    /// What the C callbacks reach through `rd_kafka_opaque()`.
    final class CallbackContext: Sendable {
        let logger: Logger
        let undeliveredRecords = Atomic<Int>(0)

        init(logger: Logger) { self.logger = logger }
    }

    let handle: OpaquePointer
    let context: CallbackContext
    private let retainedContext: Unmanaged<CallbackContext>
    let logger: Logger

    init(kind: Kind, properties: [String: String], logger: Logger) throws(KafkaError) {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: .invalidConfiguration, operation: "create configuration", reason: "out of memory")
        }
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            var errstr = [CChar](repeating: 0, count: 512)
            let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(
                    code: .invalidConfiguration,
                    operation: "configure \(key)",
                    reason: errorText(errstr)
                )
            }
        }
        let context = CallbackContext(logger: logger)
        let retained = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(conf, retained.toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdKafkaLogCallback)
        if kind == .producer {
            rd_kafka_conf_set_dr_msg_cb(conf, rdKafkaDeliveryCallback)
        }

        var errstr = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(kind.raw, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            retained.release()
            throw KafkaError(code: .invalidConfiguration, operation: "create client", reason: errorText(errstr))
        }
        self.handle = handle
        self.context = context
        self.retainedContext = retained
        self.logger = logger
        if kind == .consumer {
            // Serve logs, errors and rebalances from the consumer queue we poll.
            rd_kafka_poll_set_consumer(handle)
        }
    }

    deinit {
        rd_kafka_destroy(handle)
        retainedContext.release()
    }

    /// Serves callbacks (delivery reports, logs, errors). Blocks up to `timeoutMilliseconds`.
    func poll(timeoutMilliseconds: Int32) {
        rd_kafka_poll(handle, timeoutMilliseconds)
    }

    /// The fatal error that put this client out of service, if any (idempotent producers can hit one).
    func fatalError() -> KafkaError? {
        var errstr = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle, &errstr, errstr.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(code: .init(err), operation: "client", reason: errorText(errstr))
    }
}

/// librdkafka's log lines (syslog levels) into swift-log.
private let rdKafkaLogCallback:
    @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) ->
        Void = { handle, level, facility, message in
            guard let handle, let opaque = rd_kafka_opaque(handle) else { return }
            let context = Unmanaged<RdKafkaClient.CallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            let text = message.map { String(cString: $0) } ?? ""
            let facilityText = facility.map { String(cString: $0) } ?? ""
            let logLevel: Logger.Level
            switch level {
            case 0...2: logLevel = .critical
            case 3: logLevel = .error
            case 4: logLevel = .warning
            case 5, 6: logLevel = .info
            default: logLevel = .debug
            }
            context.logger.log(level: logLevel, "\(text)", metadata: ["kafka.facility": "\(facilityText)"])
        }

/// Resolves the promise of a `sendAndAwait`, or counts and logs the failure of a fire-and-forget send.
private let rdKafkaDeliveryCallback:
    @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
        _, message, opaque in
        guard let message else { return }
        let record = message.pointee
        let topic = record.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
        let error: KafkaError? =
            record.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(record.err, operation: "produce to \(topic)")
        if let promiseAddress = record._private {
            let promise = Unmanaged<DeliveryPromise>.fromOpaque(promiseAddress).takeRetainedValue()
            if let error {
                promise.continuation.resume(throwing: error)
            } else {
                promise.continuation.resume(
                    returning: KafkaDeliveryReport(topic: topic, partition: record.partition, offset: record.offset)
                )
            }
        } else if let error, let opaque {
            let context = Unmanaged<RdKafkaClient.CallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            context.undeliveredRecords.add(1, ordering: .relaxed)
            context.logger.error("record not delivered", metadata: ["kafka.topic": "\(topic)", "error": "\(error)"])
        }
    }

/// Carries a delivery report back to the task awaiting it.
final class DeliveryPromise: Sendable {
    let continuation: CheckedContinuation<KafkaDeliveryReport, any Error>
    init(_ continuation: CheckedContinuation<KafkaDeliveryReport, any Error>) { self.continuation = continuation }
}

/// The text librdkafka wrote into an error buffer.
func errorText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
