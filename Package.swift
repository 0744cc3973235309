// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "cairn",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CairnStore", targets: ["CairnStore"]),
        .library(name: "StoreLayout", targets: ["StoreLayout"]),
        .library(name: "CairnProtocol", targets: ["CairnProtocol"]),
        .library(name: "CairnClient", targets: ["CairnClient"]),
        .executable(name: "cairn", targets: ["cairn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // System libraries: module maps only.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CXXHash",
            pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]
        ),

        // glibc's mallopt, for the executables' allocator tuning.
        .systemLibrary(name: "CMalloc"),

        // sync_file_range(2), which the Glibc module does not export: `cairn get -o` starts the
        // disk writes of a download while the rest arrives.
        .target(name: "CFileWriteback"),

        // SHA-256 through libcrypto's EVP interface, the digest value type, and
        // XXH3-128 (libxxhash), the cheap per-chunk check.
        .target(name: "CairnDigest", dependencies: ["CCrypto", "CXXHash"], swiftSettings: strictSettings),

        // Durable publishing: private directories, new files, renames, each with the fsyncs that make it last.
        .target(name: "DurableFiles", swiftSettings: strictSettings),

        // The Swift face of LMDB; knows nothing about artifacts.
        .target(name: "LMDB", dependencies: ["CLMDB", "CXXHash", "CFileWriteback"], swiftSettings: strictSettings),

        // The on-disk format: databases, key/value codecs, layout versions, migrations, the event chain. Pure.
        .target(name: "StoreLayout", dependencies: ["CairnDigest"], path: "StoreLayout", swiftSettings: strictSettings),

        // The artifact store: tenants, chunked blobs, uploads, quotas, events. No networking.
        .target(
            name: "CairnStore",
            dependencies: [
                "LMDB", "StoreLayout", "CairnDigest", "CairnManifest", "CairnProviders", "DurableFiles",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        // systemd's protocol with its services: socket activation, notifications, the watchdog's schedule. Pure.
        .target(name: "SystemdProtocol", swiftSettings: strictSettings),

        // The log handlers of `cairn serve`: the journal's (a priority a line) and JSON lines.
        .target(
            name: "CairnLogging",
            dependencies: ["CairnProtocol", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),

        // What a tenant holds, as auditors recompute it: names, usage, the chain head, manifests
        // and their canonical text. Pure; shared by the store, the protocol and the client.
        .target(name: "CairnManifest", dependencies: ["CairnDigest"], swiftSettings: strictSettings),

        // JSON-RPC 2.0 messages, strict JSON, base64 and line framing, manifests' JSON. Pure.
        .target(name: "CairnProtocol", dependencies: ["CairnDigest", "CairnManifest"], swiftSettings: strictSettings),

        // The provider catalog, field shapes, OCI reference grammar and readiness rules. Pure.
        .target(name: "CairnProviders", swiftSettings: strictSettings),

        // The Unix-socket server: peers, access policy, dispatch to the store.
        .target(
            name: "CairnServer",
            dependencies: [
                "CairnStore", "CairnProtocol", "CairnDigest", "CairnProviders", "DurableFiles", "SystemdProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        // The metrics endpoint of `cairn serve`: the Prometheus registry behind swift-metrics, and
        // `/metrics` over HTTP (Hummingbird) on a loopback address.
        // A TCP listen address as the options give it (`127.0.0.1:9464`, `[::1]:0`), and whether it is loopback. Pure.
        .target(name: "ListenAddresses", swiftSettings: strictSettings),

        .target(
            name: "CairnMetricsEndpoint",
            dependencies: [
                "ListenAddresses",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // An S3 client (SigV4 through swift-crypto, HTTP through async-http-client) for off-host
        // backups on S3-compatible storage. Knows nothing about Cairn.
        .target(
            name: "ObjectStorage",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // Off-host backup repositories on S3: packs, indexes, snapshots and locks, sealed with
        // AES-256-GCM when a key is given. Knows nothing about the store.
        .target(
            name: "BackupRepository",
            dependencies: [
                "ObjectStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // The async Swift client over the socket.
        .target(
            name: "CairnClient",
            dependencies: [
                "CairnProtocol", "CairnManifest", "CairnDigest", "DurableFiles",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // The web console (`cairn web`): routes, session and request guards, the JSON API over
        // CairnClient, and the page's assets embedded in the binary. Hummingbird stays here.
        .target(
            name: "CairnWeb",
            dependencies: [
                "CairnClient", "CairnProtocol", "CairnDigest", "ListenAddresses",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            exclude: ["Assets"],
            swiftSettings: strictSettings
        ),

        // The one executable: `cairn serve` and the client subcommands.
        .executableTarget(
            name: "cairn",
            dependencies: [
                "CairnServer", "CairnClient", "CairnProtocol", "CairnManifest", "CairnDigest", "CairnStore",
                "CairnProviders", "CMalloc", "CFileWriteback", "DurableFiles",
                "CairnMetricsEndpoint",
                "CairnLogging", "SystemdProtocol",
                "CairnWeb", "ListenAddresses", "BackupRepository", "ObjectStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // Tools: benchmarks and fault drivers (not tests).
        .executableTarget(
            name: "cairn-store-bench",
            dependencies: [
                "CMalloc",
                "CairnStore", "CairnDigest", "LMDB", "StoreLayout",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "tools/store-bench",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "cairn-crash-driver",
            dependencies: [
                "CairnStore", "CairnDigest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/crash-driver",
            swiftSettings: strictSettings
        ),

        // The protocol fuzzer: a grammar of every method, mutations, a reference model of the
        // framing, and the checks on the answers; driven against a server or the connection state machine.
        .target(
            name: "CairnFuzz", dependencies: ["CairnProtocol", "CairnDigest", "CairnManifest"],
            path: "tools/fuzz/CairnFuzz",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "cairn-fuzz",
            dependencies: [
                "CairnFuzz", "CairnProtocol", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/fuzz/main",
            swiftSettings: strictSettings
        ),

        // Test support: damage to a store file on disk, for the store's and the end-to-end tests.
        .target(name: "DamageSupport", path: "Tests/DamageSupport", swiftSettings: strictSettings),
        // Processes the tests start: commands run to their end, and a Ceph RADOS Gateway on loopback.
        .target(
            name: "TestDaemons", dependencies: ["ObjectStorage"], path: "Tests/TestDaemons",
            swiftSettings: strictSettings),

        .testTarget(name: "CairnDigestTests", dependencies: ["CairnDigest"], swiftSettings: strictSettings),
        .testTarget(
            name: "ObjectStorageTests",
            dependencies: [
                "ObjectStorage", "TestDaemons", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"], swiftSettings: strictSettings),
        .testTarget(name: "DurableFilesTests", dependencies: ["DurableFiles"], swiftSettings: strictSettings),
        .testTarget(
            name: "CairnServerTests",
            dependencies: [
                "CairnServer", "CairnClient", "CairnProtocol", "CairnDigest", "CairnStore", "CairnProviders",
                "CairnFuzz", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "CairnClient", "CairnProtocol", "CairnManifest", "CairnDigest", "CairnFuzz", "DamageSupport", "LMDB",
                "StoreLayout", "CairnWeb", "ListenAddresses", "BackupRepository", "ObjectStorage", "TestDaemons",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "BackupRepositoryTests", dependencies: ["BackupRepository"], swiftSettings: strictSettings),
        .testTarget(
            name: "CairnClientTests", dependencies: ["CairnClient", "CairnManifest", "CairnDigest", "CairnProtocol"],
            swiftSettings: strictSettings),
        .testTarget(name: "SystemdProtocolTests", dependencies: ["SystemdProtocol"], swiftSettings: strictSettings),
        .testTarget(
            name: "CairnLoggingTests", dependencies: ["CairnLogging", "CairnProtocol"], swiftSettings: strictSettings),
        .testTarget(
            name: "CairnWebTests", dependencies: ["CairnWeb", "ListenAddresses"], swiftSettings: strictSettings),
        .testTarget(name: "ListenAddressesTests", dependencies: ["ListenAddresses"], swiftSettings: strictSettings),
        .testTarget(name: "CairnProvidersTests", dependencies: ["CairnProviders"], swiftSettings: strictSettings),
        .testTarget(name: "CairnProtocolTests", dependencies: ["CairnProtocol"], swiftSettings: strictSettings),
        .testTarget(
            name: "StoreLayoutTests", dependencies: ["StoreLayout", "CairnDigest"], swiftSettings: strictSettings),
        .testTarget(
            name: "CairnStoreTests",
            dependencies: [
                "CairnStore", "CairnDigest", "CairnProviders", "DamageSupport", "LMDB", "StoreLayout",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
