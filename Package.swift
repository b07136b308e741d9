// swift-tools-version:6.2
import PackageDescription

/// approval-gateway: an email-driven approval gateway for just-in-time access requests.
///
/// Dependencies point inward: pure modules (`GatewayCore`, `MailMessage`) know nothing of I/O;
/// `GatewayStore`, `GatewayConfig` and `MailTransport` add one kind of I/O each; only the
/// executable (through `GatewayCLI`) wires everything together.
let package = Package(
    name: "approval-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "approval-gateway", targets: ["approval-gateway"]),
        .library(name: "GatewayCore", targets: ["GatewayCore"]),
        .library(name: "MailMessage", targets: ["MailMessage"]),
        .library(name: "MailTransport", targets: ["MailTransport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // MARK: C libraries

        /// libcurl, isolated behind a module map and a header of typed `curl_easy_setopt` wrappers.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),

        // MARK: Pure logic (no I/O)

        /// Domain model and the one decision function.
        .target(name: "GatewayCore"),
        /// Signed tokens for links and replies, and the compact reply-address key.
        .target(name: "ApprovalTokens", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        /// MIME parsing and building, addresses, reply extraction and the command grammar.
        .target(name: "MailMessage"),

        /// The default email and web templates, built into the binary (scripts/embed-templates).
        .target(name: "GatewayTemplates"),

        // MARK: The application layer

        /// Every use case, each one transaction over narrow repository protocols, with typed
        /// outcomes; every channel rule. Channels translate; backends implement the repositories.
        .target(
            name: "GatewayApp",
            dependencies: ["GatewayCore", "ApprovalTokens", .product(name: "Crypto", package: "swift-crypto")]
        ),

        /// The JSON API's request and response bodies (Codable), shared with the CLI's JSON output.
        .target(name: "GatewayAPI", dependencies: ["GatewayCore", "GatewayApp"]),

        // MARK: I/O adapters

        /// SMTP sending and IMAP mailbox access over libcurl. No domain knowledge.
        .target(
            name: "MailTransport",
            dependencies: ["CCurl", .product(name: "Logging", package: "swift-log")]
        ),
        /// The SQLite store (GRDB): migrations, requests, decisions, grants, audit.
        .target(
            name: "GatewayStore",
            dependencies: ["GatewayCore", "GatewayApp", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        /// The PostgreSQL store (PostgresNIO): a connection pool running the repositories'
        /// transactions, and versioned migrations. Several gateways share one database.
        .target(
            name: "GatewayPostgres",
            dependencies: [
                "GatewayCore", "GatewayApp", "GatewayConfig",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// Sign-in through the organisation's OpenID Connect provider: discovery, the authorization
        /// code flow with PKCE, and ID tokens verified against the provider's keys (JWTKit).
        .target(
            name: "GatewayOIDC",
            dependencies: [
                "GatewayApp", "GatewayCore", "ApprovalTokens",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// The configuration file and the YAML directory format.
        .target(
            name: "GatewayConfig",
            dependencies: ["GatewayCore", "Yams"]
        ),

        /// Notifications: rendering from templates, the outbox worker and the time sweeps.
        .target(
            name: "GatewayMail",
            dependencies: [
                "GatewayCore", "GatewayApp", "GatewayTemplates", "ApprovalTokens", "MailMessage", "MailTransport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        /// The web server: signed-link pages, sign-in, the Access Requests and admin pages, the JSON API.
        .target(
            name: "GatewayWeb",
            dependencies: [
                "GatewayCore", "GatewayApp", "GatewayAPI", "GatewayTemplates", "ApprovalTokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Wiring

        /// The command-line interface: every command, wired to the modules above.
        .target(
            name: "GatewayCLI",
            dependencies: [
                "GatewayCore", "GatewayApp", "GatewayStore", "GatewayPostgres", "GatewayConfig", "GatewayMail", "ApprovalTokens",
                "MailMessage", "MailTransport", "GatewayWeb", "GatewayAPI", "GatewayOIDC",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "approval-gateway", dependencies: ["GatewayCLI"]),
        /// The fuzz targets of the untrusted-input parsers (scripts/fuzz); built normally, it replays
        /// saved inputs.
        .executableTarget(name: "GatewayFuzz", dependencies: ["MailMessage", "MailTransport", "ApprovalTokens"]),
        /// Benchmarks of the inbox processor against the mail lab (scripts/bench-inbox).
        .executableTarget(
            name: "InboxBench",
            dependencies: [
                "GatewayMail", "GatewayApp", "GatewayStore", "GatewayCore", "ApprovalTokens", "MailTransport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Tests

        /// What the test suites share: a movable clock, a gateway over a temporary database, and
        /// decisions through each channel's real proof.
        .target(
            name: "GatewayTestSupport",
            dependencies: [
                "GatewayApp", "GatewayCore", "GatewayStore", "GatewayPostgres", "GatewayConfig", "ApprovalTokens",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            path: "Tests/GatewayTestSupport"
        ),

        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore"]),
        .testTarget(name: "ApprovalTokensTests", dependencies: ["ApprovalTokens"]),
        .testTarget(
            name: "GatewayStoreTests",
            dependencies: ["GatewayStore", "GatewayPostgres", "GatewayConfig", "GatewayCore", "GatewayApp", "GatewayTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "GatewayAppTests",
            dependencies: ["GatewayApp", "GatewayCore", "GatewayStore", "GatewayTestSupport", "ApprovalTokens"]
        ),
        .testTarget(
            name: "GatewayPostgresTests",
            dependencies: [
                "GatewayPostgres", "GatewayConfig", "GatewayApp", "GatewayMail", "GatewayTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig", "GatewayCore"]),
        .testTarget(
            name: "GatewayOIDCTests",
            dependencies: [
                "GatewayOIDC", "GatewayApp", "GatewayCore", "GatewayTestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "GatewayCLITests",
            dependencies: [
                "GatewayCLI", "GatewayTestSupport", "GatewayPostgres", "GatewayApp", "GatewayCore", "GatewayConfig", "GatewayMail", "ApprovalTokens",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "GatewayMailTests",
            dependencies: [
                "GatewayMail", "GatewayApp", "GatewayStore", "GatewayCore", "GatewayTestSupport", "GatewayTemplates", "ApprovalTokens", "MailMessage",
                "MailTransport", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "MailMessageTests",
            dependencies: ["MailMessage"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "MailTransportTests", dependencies: ["MailTransport", "GatewayTestSupport"]),
        .testTarget(
            name: "GatewayWebTests",
            dependencies: [
                "GatewayWeb", "GatewayApp", "GatewayAPI", "GatewayMail", "MailMessage", "GatewayStore", "GatewayCore", "GatewayTestSupport", "ApprovalTokens", "Yams",
                "GatewayOIDC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Browser"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
