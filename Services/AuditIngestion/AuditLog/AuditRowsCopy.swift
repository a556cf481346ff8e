import Foundation
import NIOCore

/// A batch of audit records as the rows of `COPY audit.events (...) FROM STDIN` in PostgreSQL's text format, written
/// straight into one buffer: no per-column arrays on this side, no array parsing and `unnest` on the server's. The
/// format is written here because postgres-nio's `copyFrom` takes the rows as bytes; its rules
/// (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"): columns separated by a tab, rows ended by
/// a newline, `\N` for NULL, and a backslash, tab, newline or carriage return inside a value escaped.
enum AuditRowsCopy {
    /// The columns, in the order `rows` writes them.
    static let columns = [
        "tenant", "topic", "partition", "sequence", "kafka_offset", "event_id", "event_type", "source", "subject",
        "partition_key", "traceparent", "content_type", "time_attribute", "occurred_at", "data", "signature",
        "outcome", "client_workload", "server_workload", "previous_hash", "hash",
    ]

    static func rows(_ records: [AuditRecord]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: records.count * 1_200)
        for record in records {
            let event = record.event
            // Each value is followed by a tab, the row's last by a newline.
            buffer.text(record.chain.tenant)
            buffer.text(record.chain.topic)
            buffer.number(record.chain.partition)
            buffer.number(record.sequence)
            buffer.number(record.offset)
            buffer.text(event.id)
            buffer.text(event.type.description)
            buffer.text(event.source)
            buffer.optionalText(event.subject)
            buffer.text(event.partitionKey)
            buffer.optionalText(event.traceparent)
            buffer.text(event.dataContentType)
            buffer.text(event.timeAttribute)
            buffer.timestamp(event.time)
            buffer.text(bytes: event.data)
            buffer.optionalText(event.signature)
            buffer.optionalText(record.outcome)
            buffer.optionalText(record.clientWorkload)
            buffer.optionalText(record.serverWorkload)
            buffer.bytea(record.previousHash)
            buffer.bytea(record.hash, last: true)
        }
        return buffer
    }
}

extension ByteBuffer {
    /// After a value: a tab, or the newline that ends the row.
    fileprivate mutating func end(last: Bool = false) { writeInteger(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t")) }

    fileprivate mutating func number(_ value: some BinaryInteger) {
        if value < 0 { writeInteger(UInt8(ascii: "-")) }
        digits(UInt64(value.magnitude), width: 1)
        end()
    }

    /// The decimal digits of `value`, zero-padded to `width`, written without a `String` in between (every row has
    /// six numbers and a timestamp of seven).
    private mutating func digits(_ value: UInt64, width: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { text in
            var remaining = value
            var start = text.count
            repeat {
                start -= 1
                text[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0 || text.count - start < width
            writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: text[start...])))
        }
    }

    fileprivate mutating func optionalText(_ value: String?) {
        if let value {
            text(value)
        } else {
            writeStaticString("\\N")
            end()
        }
    }

    fileprivate mutating func text(_ value: String) {
        if value.utf8.withContiguousStorageIfAvailable({ escaped($0) }) == nil { escaped(Array(value.utf8)) }
        end()
    }

    fileprivate mutating func text(bytes: [UInt8]) {
        escaped(bytes)
        end()
    }

    /// The bytes, with the four that COPY's text format gives a meaning escaped (other bytes go as they are; a NUL
    /// is refused by PostgreSQL, which dead-letters that one event). Runs without any of the four are written whole.
    private mutating func escaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var start = 0
        for (index, byte) in bytes.enumerated() {
            let escape: StaticString
            switch byte {
            case UInt8(ascii: "\\"): escape = "\\\\"
            case UInt8(ascii: "\t"): escape = "\\t"
            case UInt8(ascii: "\n"): escape = "\\n"
            case UInt8(ascii: "\r"): escape = "\\r"
            default: continue
            }
            writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<index])))
            writeStaticString(escape)
            start = index + 1
        }
        writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start...])))
    }

    private mutating func escaped(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { escaped($0) }
    }

    /// `\\x` and the hex digits (bytea's hex input, its backslash escaped for COPY), written in place.
    fileprivate mutating func bytea(_ bytes: [UInt8], last: Bool = false) {
        writeStaticString("\\\\x")
        writeWithUnsafeMutableBytes(minimumWritableBytes: 2 * bytes.count) { text in
            func digit(_ nibble: UInt8) -> UInt8 {
                nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            }
            for (index, byte) in bytes.enumerated() {
                text[2 * index] = digit(byte >> 4)
                text[2 * index + 1] = digit(byte & 0x0F)
            }
            return 2 * bytes.count
        }
        end(last: last)
    }

    /// UTC with microseconds, rounded as postgres-nio rounds a `Date` it binds: the same instant either way.
    fileprivate mutating func timestamp(_ date: Date) {
        let microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.toNearestOrEven))
        var seconds = time_t(microseconds.dividedRoundingDown(by: 1_000_000))
        let fraction = microseconds - Int64(seconds) * 1_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int64(parts.tm_year) + 1900
        if year < 0 { writeInteger(UInt8(ascii: "-")) }  // refused by PostgreSQL, and so dead-lettered, not a trap
        digits(year.magnitude, width: 4)
        writeStaticString("-")
        digits(UInt64(parts.tm_mon + 1), width: 2)
        writeStaticString("-")
        digits(UInt64(parts.tm_mday), width: 2)
        writeStaticString(" ")
        digits(UInt64(parts.tm_hour), width: 2)
        writeStaticString(":")
        digits(UInt64(parts.tm_min), width: 2)
        writeStaticString(":")
        digits(UInt64(parts.tm_sec), width: 2)
        writeStaticString(".")
        digits(UInt64(fraction), width: 6)
        writeStaticString("+00")
        end()
    }
}

extension Int64 {
    fileprivate func dividedRoundingDown(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
