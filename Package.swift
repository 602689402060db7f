// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "newsd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "newsd", targets: ["Daemon"]),
        .executable(name: "newsctl", targets: ["CLIClient"]),
        .library(name: "SyncProtocol", targets: ["SyncProtocol"]),
        // A misbehaving peer, for the evil-peer tests and the torture run; not installed.
        .executable(name: "evil-peer", targets: ["EvilPeer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // System libraries, found through pkg-config or the default include path.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Linux calls Swift's Glibc module leaves out (syncfs).
        .target(name: "CShims"),

        // Pure: value types, entry hashing, wire and control codecs. No sockets, files or clocks.
        .target(
            name: "SyncProtocol",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // The append-only log over SQLite: schema, blobs, heads, verify.
        .target(
            name: "Store",
            dependencies: ["SyncProtocol", "CSQLite", "CZstd", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The daemon's parts: config, folder watcher, ingest, control server, lifecycle.
        .target(
            name: "NewsDaemon",
            dependencies: [
                "SyncProtocol", "Store", "CShims", "NewsWeb",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // The web view: HTTP (Hummingbird), pages rendered by swift-mustache, accounts and sessions.
        // Speaks to the site only through control requests, as newsctl does.
        .target(
            name: "NewsWeb",
            dependencies: [
                "SyncProtocol", "NewsControl",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // newsctl's parts: control client, diff rendering, output.
        .target(
            name: "NewsControl",
            dependencies: ["SyncProtocol", .product(name: "TOMLKit", package: "TOMLKit"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "Daemon",
            dependencies: [
                "NewsDaemon", "SyncProtocol", "Store",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "CLIClient",
            dependencies: [
                "NewsControl", "SyncProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "EvilPeer",
            dependencies: [
                "NewsDaemon", "SyncProtocol", "CZstd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/EvilPeer"
        ),
        // Helpers shared by the test targets: temp folders, the seeds, running the built binaries.
        .target(name: "CSpawn", path: "Tests/CSpawn"),
        .target(name: "TestSupport", dependencies: ["SyncProtocol", "CSpawn"], path: "Tests/TestSupport"),
        .testTarget(name: "SyncProtocolTests", dependencies: ["SyncProtocol"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "SyncProtocol", "TestSupport"]),
        .testTarget(name: "NewsDaemonTests", dependencies: [
            "NewsDaemon", "NewsWeb", "Store", "SyncProtocol", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "NewsControlTests", dependencies: ["NewsControl", "SyncProtocol"]),
        .testTarget(name: "NewsWebTests", dependencies: ["NewsWeb", "SyncProtocol", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["SyncProtocol", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
