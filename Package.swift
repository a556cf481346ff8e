// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "sigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sigil-attest", targets: ["IdentityAttestation"]),
        .executable(name: "sigil-policy", targets: ["PolicyDecision"]),
        .executable(name: "sigil-issue", targets: ["CredentialIssuance"]),
        .executable(name: "sigil-audit", targets: ["AuditIngestion"]),
        .executable(name: "sigil-edge", targets: ["EdgeProxy"]),
        .executable(name: "sigil", targets: ["SigilCLI"]),
        .executable(name: "sigil-bench", targets: ["SigilBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: Shared libraries
        .systemLibrary(
            name: "CRdKafka",
            path: "Shared/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CMaxMindDB",
            path: "Shared/CMaxMindDB",
            pkgConfig: "libmaxminddb",
            providers: [.apt(["libmaxminddb-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Shared/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "SigilKafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/SigilKafka"
        ),
        .target(
            name: "SigilEvents",
            dependencies: [
                "SigilKafka"
            ],
            path: "Shared/SigilEvents"
        ),
        .target(
            name: "SigilCrypto",
            dependencies: [
                "SigilEvents",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Shared/SigilCrypto"
        ),
        .target(
            name: "SigilProjection",
            dependencies: [
                "SigilKafka",
                "SigilEvents",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/SigilProjection"
        ),
        .target(
            name: "SigilService",
            dependencies: [
                "SigilKafka",
                "SigilEvents",
                "SigilProjection",
                "SigilCrypto",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
            ],
            path: "Shared/SigilService"
        ),

        // Trust providers and the verification of workload evidence: what sigil-attest runs, and what the bench
        // measures without a broker.
        .target(
            name: "SigilAttestation",
            dependencies: [
                "SigilService",
                "SigilCrypto",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Shared/SigilAttestation"
        ),

        // Access policies, server workloads and the compiled decision engine: what sigil-policy runs, and what the bench
        // measures beside Cedar.
        .target(
            name: "SigilPolicy",
            dependencies: [
                "SigilService",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Shared/SigilPolicy"
        ),
        // Geography for policy conditions: a MaxMind-format database read with libmaxminddb (sigil-policy and the
        // CLI's simulate link it; the edge does not).
        .target(
            name: "SigilGeography",
            dependencies: [
                "SigilPolicy",
                "CMaxMindDB",
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            path: "Shared/SigilGeography"
        ),

        // MARK: Services
        .executableTarget(
            name: "IdentityAttestation",
            dependencies: [
                "SigilService",
                "SigilCrypto",
                "SigilAttestation",
            ],
            path: "Services/IdentityAttestation",
            exclude: ["openapi.yaml"]
        ),
        .executableTarget(
            name: "PolicyDecision",
            dependencies: [
                "SigilService", "SigilCrypto", "SigilPolicy", "SigilGeography",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Services/PolicyDecision",
            exclude: ["openapi.yaml"]
        ),
        .executableTarget(
            name: "CredentialIssuance",
            dependencies: [
                "SigilService", "SigilCrypto", .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            path: "Services/CredentialIssuance",
            exclude: ["openapi.yaml"]
        ),
        .executableTarget(
            name: "AuditIngestion",
            dependencies: [
                "SigilService",
                "SigilCrypto",
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Services/AuditIngestion",
            exclude: ["openapi.yaml"]
        ),
        .executableTarget(
            name: "EdgeProxy",
            dependencies: [
                "SigilService",
                "SigilCrypto",
                "SigilPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            path: "Services/EdgeProxy",
            exclude: ["openapi.yaml"]
        ),

        // MARK: Operator CLI
        // What operators and workloads use to talk to Sigil: the admin API client, apply documents, and the demo's
        // stand-ins (a cluster's token issuer, a protected API, a workload's proxied HTTP client).
        .target(
            name: "SigilClient",
            dependencies: [
                "SigilEvents",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tools/SigilClient"
        ),
        .executableTarget(
            name: "SigilCLI",
            dependencies: [
                "SigilKafka",
                "SigilEvents",
                "SigilCrypto",
                "SigilService",
                "SigilClient",
                "SigilPolicy",
                "SigilProjection",
                "SigilTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tools/SigilCLI"
        ),

        // `make bench`: the measurements that need the control plane (bench/run.sh drives nginx, wrk and curl).
        .executableTarget(
            name: "SigilBench",
            dependencies: [
                "SigilKafka",
                "SigilEvents",
                "SigilCrypto",
                "SigilClient",
                "SigilService",
                "SigilAttestation",
                "SigilPolicy",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tools/SigilBench"
        ),

        // MARK: Tests
        // Unit tests: no broker, no database.
        .testTarget(
            name: "SigilUnitTests",
            dependencies: [
                "SigilEvents",
                "SigilCrypto",
                "SigilService",
                "SigilClient",
                "SigilAttestation",
                "SigilPolicy",
                "IdentityAttestation",
                "PolicyDecision",
                "CredentialIssuance",
                "AuditIngestion",
                "EdgeProxy",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            path: "Tests/SigilUnitTests"
        ),
        // Real receivers the integration and end-to-end tests deliver audit records to (rsyslog).
        .target(
            name: "SigilTestSupport",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Tests/SigilTestSupport"
        ),
        // Integration tests: the librdkafka mock broker, a real PostgreSQL, real receivers (rsyslog).
        .testTarget(
            name: "SigilIntegrationTests",
            dependencies: [
                "SigilKafka",
                "SigilEvents",
                "SigilProjection",
                "SigilService",
                "SigilAttestation",
                "SigilPolicy",
                "SigilGeography",
                "PolicyDecision",
                "CredentialIssuance",
                "IdentityAttestation",
                "AuditIngestion",
                "EdgeProxy",
                "SigilTestSupport",
                "SigilClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/SigilIntegrationTests",
            exclude: [
                "Receivers/ocsf_validate.py", "Receivers/s3_peer.py", "Peers/geo_mmdb.py", "Peers/oauth_server.py",
            ]
        ),
        // End to end: the five executables as processes (`sigil dev up`), the mock broker, a real PostgreSQL.
        .testTarget(
            name: "SigilEndToEndTests",
            dependencies: [
                "SigilKafka",
                "SigilEvents",
                "SigilCrypto",
                "SigilClient",
                "SigilProjection",
                "SigilTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/SigilEndToEndTests"
        ),
    ]
)
