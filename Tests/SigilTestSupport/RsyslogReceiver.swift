import Foundation

/// A real rsyslog (the Debian package) listening on loopback: imtcp (octet-counted or TLS through gnutls) and imudp,
/// writing every message it receives to a file as `MSGID APP-NAME STRUCTURED-DATA MSG`, one per line.
public final class RsyslogReceiver: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    public let tls: Bool
    private var process: Process?

    public var output: URL { directory.appendingPathComponent("received.log") }

    /// A CA, a server certificate for 127.0.0.1 and localhost and a client certificate (openssl), for the TLS
    /// receiver; the CA's PEM.
    public static func makeCertificates(in directory: URL) throws -> String {
        let script = """
            set -e
            cd '\(directory.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=sigil-test-ca \
              -keyout ca.key -out ca.pem 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
              -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
              -out server.pem 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=sigil-audit \
              -keyout client.key -out client.csr 2>/dev/null
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext \
              -out client.pem 2>/dev/null
            """
        try Self.waitingShell(script)
        return try String(contentsOf: directory.appendingPathComponent("ca.pem"), encoding: .utf8)
    }

    /// The CA a TLS receiver's certificate chains to (PEM), for the senders to trust; nil over plain TCP.
    public let caPEM: String?

    /// Whether the TLS receiver refuses senders without a certificate from its CA (`x509/certvalid`).
    public let requiresClientCertificate: Bool

    public init(tls: Bool = false, requiresClientCertificate: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rsyslog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        self.tls = tls
        self.requiresClientCertificate = requiresClientCertificate
        caPEM = tls ? try Self.makeCertificates(in: directory) : nil
    }

    /// A client certificate (and its key) from the receiver's CA, PEM.
    public var clientCertificate: (certificate: String, key: String)? {
        guard tls,
            let certificate = try? String(contentsOf: directory.appendingPathComponent("client.pem"), encoding: .utf8),
            let key = try? String(contentsOf: directory.appendingPathComponent("client.key"), encoding: .utf8)
        else { return nil }
        return (certificate, key)
    }

    public func start() throws {
        let driver =
            tls
            ? """
            global(DefaultNetstreamDriver="gtls"
                   DefaultNetstreamDriverCAFile="\(directory.path)/ca.pem"
                   DefaultNetstreamDriverCertFile="\(directory.path)/server.pem"
                   DefaultNetstreamDriverKeyFile="\(directory.path)/server.key")
            module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" \
                   StreamDriver.AuthMode="\(requiresClientCertificate ? "x509/certvalid" : "anon")")
            """
            : """
            module(load="imtcp")
            module(load="imudp")
            input(type="imudp" port="\(port)" address="127.0.0.1")
            """
        let configuration = """
            global(workDirectory="\(directory.path)" maxMessageSize="64k")
            \(driver)
            input(type="imtcp" port="\(port)" address="127.0.0.1")
            template(name="received" type="string" string="%msgid% %app-name% %structured-data% %msg%\\n")
            action(type="omfile" file="\(output.path)" template="received" flushOnTXEnd="on" asyncWriting="off")
            """
        let file = directory.appendingPathComponent("rsyslog.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/rsyslogd")
        process.arguments = ["-n", "-f", file.path, "-i", directory.appendingPathComponent("rsyslog.pid").path]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        try Self.waitForListener(port: port)
    }

    public func stop() {
        guard let process else { return }
        // SIGKILL: a child of the test process inherits its blocked signals, SIGTERM among them.
        kill(process.processIdentifier, SIGKILL)
        // Not `waitUntilExit`: on Linux it spins a run loop, which never ends on a Swift concurrency thread. Stopped
        // means its port refuses connections.
        for _ in 0..<250 where Self.accepts(port: port) { usleep(20_000) }
        self.process = nil
    }

    deinit { stop() }

    /// Everything received so far.
    public var lines: [String] {
        guard let text = try? String(contentsOf: output, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public static func accepts(port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    public static func waitForListener(port: Int) throws {
        for _ in 0..<100 {
            if accepts(port: port) { return }
            usleep(50_000)
        }
        throw ReceiverError(description: "rsyslog did not listen on \(port) within 5 s")
    }

    /// Runs a bash script on a thread of its own (a test waiting for python never holds one of the few cooperative
    /// threads other tests' timers need); returns its standard output, or throws with its standard error.
    @discardableResult
    public static func shell(_ script: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try waitingShell(script) }) }.start()
        }
    }

    /// `shell`, waiting on the caller's thread.
    @discardableResult
    static func waitingShell(_ script: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("shell-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        FileManager.default.createFile(atPath: output.path + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(at: output)
            try? FileManager.default.removeItem(atPath: output.path + ".err")
        }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle(forWritingAtPath: output.path + ".err")
        try process.run()
        while process.isRunning { usleep(20_000) }
        let errors = (try? String(contentsOfFile: output.path + ".err", encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw ReceiverError(description: "\(script.prefix(120)) failed (\(process.terminationStatus)): \(errors)")
        }
        return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    }
}

public struct ReceiverError: Error, CustomStringConvertible {
    public let description: String
}
