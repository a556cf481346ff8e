import Foundation
import NIOSSL
import SigilEvents
import SigilService

/// A log stream: where the tenant's audit records are delivered (at least once, from committed records only), in
/// which format, and which of them.
struct LogStreamSpec: ResourceSpec {
    static let kind = ResourceKind.logStream
    static let summary = "Where the tenant's audit records are delivered, in which format, and which of them."

    var destination: LogDestination
    var format: LogFormat
    var filter: LogFilter?

    static let schema = SpecSchema.object(
        "A destination, a format and an optional filter.",
        [
            .init("destination", LogDestination.schema, required: true, "Where records are delivered."),
            .init(
                "format", .string(choices: LogFormat.allCases.map(\.rawValue)), default: "json",
                "json (Sigil's own), ocsf (OCSF 1.x), cef (ArcSight/QRadar), rfc5424 (syslog structured data)."),
            .init(
                "filter",
                .object(
                    "Only the records that match every list given.",
                    [
                        .init(
                            "eventTypes", .array(of: .string(maxLength: 200), minItems: 1, maxItems: 64),
                            "CloudEvents types, e.g. dev.sigil.access.denied.v1."),
                        .init(
                            "outcomes",
                            .array(of: .string(choices: AuditRecord.outcomes), minItems: 1, maxItems: 32),
                            "Outcomes, e.g. denied, refused."),
                        .init(
                            "tenants",
                            .array(
                                of: .string(
                                    maxLength: 63,
                                    pattern: (
                                        regex: "^(\\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$",
                                        meaning: "a tenant name, or * for every tenant"
                                    )), minItems: 1, maxItems: 256),
                            "Whose records (* for every tenant): only in the platform tenant (SIGIL_PLATFORM_TENANT)."),
                    ]), "Which records; all of the stream's tenant when absent."),
        ])

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        if filter?.tenants != nil {
            let platform = PlatformTenant.configured(admission.context.configuration)
            guard let platform, admission.tenant == platform else {
                throw ProblemDetails.invalidField(
                    "spec.filter.tenants",
                    platform == nil
                        ? "spec.filter.tenants needs a platform tenant: this audit service has no SIGIL_PLATFORM_TENANT"
                        : "only log streams of the platform tenant may name tenants in spec.filter.tenants")
            }
        }
        var stored = self
        switch destination {
        case .file(let file):
            _ = try file.resolved(in: LogFileDirectory.configured(admission.context.configuration))
        case .syslog(let syslog):
            stored.destination = .syslog(try syslog.admitted(admission))
        case .splunkHEC(let hec):
            stored.destination = .splunkHEC(try hec.admitted(admission))
        case .webhook(let webhook):
            stored.destination = .webhook(try webhook.admitted(admission))
        case .s3(let s3):
            stored.destination = .s3(try s3.admitted(admission))
        case .kafka(let kafka):
            stored.destination = .kafka(try kafka.admitted(admission))
        }
        return stored
    }
}

enum LogFormat: String, Codable, Sendable, CaseIterable {
    case json, ocsf, cef, rfc5424
}

struct LogFilter: Codable, Sendable, Equatable {
    var eventTypes: [String]?
    var outcomes: [String]?
    /// Whose records a platform operator's stream carries (`*`: every tenant's); nil: its own tenant's.
    var tenants: [String]?

    init(eventTypes: [String]? = nil, outcomes: [String]? = nil, tenants: [String]? = nil) {
        self.eventTypes = eventTypes
        self.outcomes = outcomes
        self.tenants = tenants
    }

    func matches(_ record: AuditRecord) -> Bool {
        if let tenants, !tenants.contains("*"), !tenants.contains(record.tenant) { return false }
        if let eventTypes, !eventTypes.contains(record.event.type.description) { return false }
        if let outcomes, !outcomes.contains(record.outcome ?? "") { return false }
        return true
    }
}

/// Where a stream's records go; the `type` field picks one.
enum LogDestination: Codable, Sendable, Equatable {
    case syslog(SyslogDestination)
    case splunkHEC(SplunkHECDestination)
    case webhook(WebhookDestination)
    case s3(S3Destination)
    case kafka(KafkaDestination)
    case file(FileDestination)

    static let schema = SpecSchema.variants(
        discriminator: "type",
        [
            (SyslogDestination.type, SyslogDestination.schema),
            (SplunkHECDestination.type, SplunkHECDestination.schema),
            (WebhookDestination.type, WebhookDestination.schema), (S3Destination.type, S3Destination.schema),
            (KafkaDestination.type, KafkaDestination.schema), (FileDestination.type, FileDestination.schema),
        ])

    private enum Keys: String, CodingKey { case type }

    init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .type)
        switch type {
        case SyslogDestination.type: self = .syslog(try SyslogDestination(from: decoder))
        case SplunkHECDestination.type: self = .splunkHEC(try SplunkHECDestination(from: decoder))
        case WebhookDestination.type: self = .webhook(try WebhookDestination(from: decoder))
        case S3Destination.type: self = .s3(try S3Destination(from: decoder))
        case KafkaDestination.type: self = .kafka(try KafkaDestination(from: decoder))
        case FileDestination.type: self = .file(try FileDestination(from: decoder))
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown destination type \(type)"))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        switch self {
        case .syslog(let syslog):
            try container.encode(SyslogDestination.type, forKey: .type)
            try syslog.encode(to: encoder)
        case .splunkHEC(let hec):
            try container.encode(SplunkHECDestination.type, forKey: .type)
            try hec.encode(to: encoder)
        case .webhook(let webhook):
            try container.encode(WebhookDestination.type, forKey: .type)
            try webhook.encode(to: encoder)
        case .s3(let s3):
            try container.encode(S3Destination.type, forKey: .type)
            try s3.encode(to: encoder)
        case .kafka(let kafka):
            try container.encode(KafkaDestination.type, forKey: .type)
            try kafka.encode(to: encoder)
        case .file(let file):
            try container.encode(FileDestination.type, forKey: .type)
            try file.encode(to: encoder)
        }
    }

    /// For status output: where, without anything secret.
    var summary: String {
        switch self {
        case .syslog(let syslog): "syslog+\(syslog.transport.rawValue)://\(syslog.host):\(syslog.port)"
        case .splunkHEC(let hec): "splunk-hec:\(HTTPDestination.redacted(hec.url))"
        case .webhook(let webhook): "webhook:\(HTTPDestination.redacted(webhook.url))"
        case .s3(let s3): "s3://\(s3.bucket)/\(s3.prefix)"
        case .kafka(let kafka): "kafka://\(kafka.brokers)/\(kafka.topic)"
        case .file(let file): "file:\(file.path)"
        }
    }
}

/// Files under the audit service's log directory (`SIGIL_AUDIT_FILE_DIR`), one record per line, rotated by size.
struct FileDestination: Codable, Sendable, Equatable {
    static let type = "file"

    var path: String
    var maxBytes: Int
    var keep: Int

    static let schema = SpecSchema.ObjectSchema(
        "Lines appended to a file under the audit service's log directory (SIGIL_AUDIT_FILE_DIR).",
        [
            .init("type", .string(choices: [type]), required: true, "The destination's type."),
            .init(
                "path",
                .string(
                    maxLength: 255,
                    pattern: (
                        regex: "^[A-Za-z0-9_][-A-Za-z0-9_.]*(/[A-Za-z0-9_][-A-Za-z0-9_.]*)*$",
                        meaning: "a relative path of letters, digits, '-', '_' and '.' (no '..', no leading '/')"
                    )), required: true, "The file, relative to the log directory (created 0600)."),
            .init(
                "maxBytes", .integer(minimum: 1024, maximum: 1 << 40), default: .number(100 * 1024 * 1024),
                "Rotate once the file reaches this size."),
            .init("keep", .integer(minimum: 1, maximum: 100), default: 5, "Rotated files kept (path.1 is the newest)."),
        ])

    /// The file's absolute path; refuses any path that could leave the directory.
    func resolved(in directory: String?) throws -> String {
        guard let directory else {
            throw ProblemDetails.invalidField(
                "spec.destination.type",
                "file log streams are off on this audit service: it has no SIGIL_AUDIT_FILE_DIR")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw ProblemDetails.invalidField(
                "spec.destination.path", "spec.destination.path must stay inside the log directory")
        }
        return directory + "/" + path
    }
}

/// The platform operator's tenant (`SIGIL_PLATFORM_TENANT`): its log streams may carry other tenants' records
/// (`filter.tenants`). Unset: every stream carries its own tenant's only.
enum PlatformTenant {
    static func configured(_ configuration: ServiceConfiguration) -> String? {
        configuration.source.string("SIGIL_PLATFORM_TENANT").flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// `SIGIL_AUDIT_FILE_DIR`: the one directory file log streams may write under (absolute; unset = no file streams).
enum LogFileDirectory {
    static func configured(_ configuration: ServiceConfiguration) throws -> String? {
        try configuration.source.directory("SIGIL_AUDIT_FILE_DIR")
    }
}
