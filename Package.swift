// swift-tools-version:6.1
//
// Ganglion: a distributed runtime for event-driven AI agents.
// Targets follow DESIGN.md §7, lowest first; dependencies point downward only.

import PackageDescription

let package = Package(
    name: "Ganglion",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ganglion", targets: ["ganglion"]),
        .executable(name: "ganglion-benchmarks", targets: ["GanglionBenchmarks"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "GanglionWire", targets: ["GanglionWire"]),
        .library(name: "GanglionClients", targets: ["GanglionClients"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // HMAC-SHA256 with constant-time comparison for signed webhooks (already resolved through Hummingbird).
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // The HTTP ingest load driver (`ganglion bench --http`) and the HTTP ingest tests.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // ByteBuffer and TimeAmount for AsyncHTTPClient's callers (already resolved through Hummingbird).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // System library over Debian's libzmq3-dev. Only `ZeroMQ` imports it.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // Safe Swift binding: context, owner-thread sockets, frames, poller, CURVE, typed errors.
        .target(
            name: "ZeroMQ",
            dependencies: [
                "CZeroMQ",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // CRC32C with the CPU's instruction where present (record batch checksums).
        .target(name: "CCRC32C"),
        // Segmented durable log of record batches (DESIGN.md §2).
        .target(name: "EventLog", dependencies: ["CCRC32C"]),
        // .proto compiler front end, compatibility rules, dynamic JSON↔protobuf codec.
        .target(
            name: "ProtoSchema",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Pure state machines of the cluster: group coordinator and assignors (no I/O, no clock).
        .target(name: "ClusterCore"),
        // Subjects, versions, levels and the REST surface, over state kept in the metadata log.
        .target(
            name: "SchemaRegistry",
            dependencies: ["ProtoSchema", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The node: services that drive the cores with real sockets, disks and clocks.
        .target(
            name: "ClusterRuntime",
            dependencies: [
                "SchemaRegistry",
                "ClusterCore", "EventLog", "GanglionWire", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Public API for agent authors and clients: the client, producer and consumer streams.
        // The client library: producer, consumer, admin, registry and ask calls over the protocol.
        // It does not link the node (no ClusterRuntime, no HTTP server).
        .target(
            name: "GanglionClients",
            dependencies: [
                "ZeroMQ", "GanglionWire", "ClusterCore", "EventLog", "ProtoSchema", "SchemaRegistry",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ]
        ),
        // The agent programming model and the in-process node (AgentNode), above the client.
        .target(
            name: "Ganglion",
            dependencies: [
                "GanglionClients", "ZeroMQ", "GanglionWire", "ClusterCore", "ClusterRuntime", "EventLog", "ProtoSchema", "SchemaRegistry",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Helpers for deterministic simulation and tests: seeded randomness, the simulated Raft cluster.
        .target(name: "GanglionTestKit", dependencies: ["ClusterCore"]),
        // Code generated from proto/ (committed; regenerate with scripts/generate-protos.sh).
        .target(
            name: "GanglionWire",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The one executable: node, operator and developer CLI.
        .executableTarget(
            name: "ganglion",
            dependencies: [
                "ZeroMQ",
                // The libzmq floor under the latency row, measured in the same run.
                "CZeroMQBaseline",
                "GanglionWire",
                "ProtoSchema",
                "ClusterRuntime",
                "SchemaRegistry",
                "Ganglion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // jemalloc (Debian's libjemalloc-dev; libjemalloc2 at run time) as the process's
            // malloc: per-thread caches where glibc's arenas made threads wait on each other's
            // locks when memory allocated on one thread is freed on another, as tasks hopping
            // threads do (README, "Benchmarks"). Linked as a shared library, before libc, so
            // every library in the process uses the one heap: the static archive would be hidden
            // by the `--exclude-libs ALL` of a `--static-swift-stdlib` link, leaving libzmq and
            // libc on glibc's heap and the executable on jemalloc's, which crashes.
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        // libzmq's C API driven directly: the baseline the Swift binding is measured against.
        .target(
            name: "CZeroMQBaseline",
            path: "Benchmarks/CZeroMQBaseline",
            linkerSettings: [.linkedLibrary("zmq")]
        ),
        // `swift run -c release ganglion-benchmarks`: transport and envelope figures.
        .executableTarget(
            name: "GanglionBenchmarks",
            dependencies: [
                "ClusterCore",
                "SchemaRegistry",
                "ZeroMQ",
                "GanglionWire",
                "CZeroMQBaseline",
                "EventLog",
                "ProtoSchema",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Benchmarks/GanglionBenchmarks"
        ),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "CZeroMQBaseline"]),
        .testTarget(name: "ClusterCoreTests", dependencies: ["ClusterCore", "GanglionTestKit"]),
        .testTarget(name: "SchemaRegistryTests", dependencies: ["SchemaRegistry", "ProtoSchema"]),
        .testTarget(
            name: "ClusterRuntimeTests",
            dependencies: ["ClusterRuntime", "ClusterCore", "EventLog", "GanglionWire", "ZeroMQ", "Ganglion", "SchemaRegistry",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .testTarget(
            name: "ProtoSchemaTests",
            dependencies: ["ProtoSchema", "GanglionTestKit", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Corpus"]
        ),
        .testTarget(name: "EventLogTests", dependencies: ["EventLog", "EventLogCrashWriter", "GanglionTestKit"]),
        // A child process for the crash-consistency test: appends with fsync and reports acks.
        .executableTarget(name: "EventLogCrashWriter", dependencies: ["EventLog"], path: "Tests/EventLogCrashWriter"),
        .testTarget(
            name: "GanglionWireTests",
            dependencies: [
                "GanglionWire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
