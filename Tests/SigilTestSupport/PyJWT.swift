import Foundation

/// PyJWT (PyPI) as an independent verifier of the JWTs Sigil mints.
public enum PyJWT {
    /// Verifies each token with PyJWT against `jwks` (the key picked by `kid`, the algorithm by the key) and returns
    /// the claims PyJWT read.
    public static func verify(jwks: String, tokens: [String], audience: String) throws -> [[String: Any]] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-jwks-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try jwks.write(to: directory.appendingPathComponent("jwks.json"), atomically: true, encoding: .utf8)
        try tokens.joined(separator: "\n").write(
            to: directory.appendingPathComponent("tokens"), atomically: true, encoding: .utf8)
        let script = """
            import json, sys, jwt
            d, audience = sys.argv[1], sys.argv[2]
            keys = {k["kid"]: k for k in json.load(open(d + "/jwks.json"))["keys"]}
            for token in open(d + "/tokens").read().split():
                key = jwt.PyJWK(keys[jwt.get_unverified_header(token)["kid"]])
                print(json.dumps(jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=audience)))
            """
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, directory.path, audience]
        process.standardOutput = output
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return [] }
        return String(decoding: printed, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
