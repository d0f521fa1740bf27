// swift-tools-version:6.0
import PackageDescription

// One module per stage of the data path (README.md: "Runtime" draws the path,
// "Layout" says what each module holds). A module only
// imports the modules upstream of it:
//   EddyCore ─► EddyBlocks ─► EddyKinesis ─► EddyIngest ─► EddySQL ─► EddyJob ─► EddySinks ─► EddyMonitor ─► EddyEngine ─► eddy
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "eddy",
    products: [
        .executable(name: "eddy", targets: ["eddy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4",
                       providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(name: "EddyCore", dependencies: [
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Atomics", package: "swift-atomics"),
        ], swiftSettings: strict),
        .target(name: "EddyBlocks", dependencies: [
            "EddyCore", "CLZ4",
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: strict),
        .target(name: "EddyKinesis", dependencies: [
            "EddyCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "EddyIngest", dependencies: ["EddyCore", "EddyBlocks", "EddyKinesis"], swiftSettings: strict),
        .target(name: "EddySQL", dependencies: ["EddyCore", "EddyBlocks", "CSQLite"], swiftSettings: strict),
        .target(name: "EddyJob", dependencies: ["EddyCore"], swiftSettings: strict),
        .target(name: "EddySinks", dependencies: ["EddyCore", "EddySQL", "EddyKinesis"], swiftSettings: strict),
        // The monitor's HTTP server runs on SwiftNIO's event loop thread, never
        // on the engine's; /metrics is swift-metrics handles exported by
        // swift-prometheus.
        .target(name: "EddyMonitor", dependencies: [
            "EddyCore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
        .target(name: "EddyEngine", dependencies: [
            "EddyCore", "EddyBlocks", "EddyIngest", "EddySQL", "EddyJob", "EddySinks", "EddyMonitor",
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: strict),
        .executableTarget(name: "eddy", dependencies: [
            "EddyCore", "EddyBlocks", "EddyIngest", "EddySQL", "EddyJob", "EddyMonitor", "EddyEngine", "EddyKinesis",
            "CMalloc", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "eddy-bench", dependencies: [
            "EddyCore", "EddyBlocks", "EddyIngest", "EddySQL", "EddyMonitor", "EddyEngine", "CSQLite",
        ], path: "Benchmarks/eddy-bench", swiftSettings: strict),

        .testTarget(name: "EddyCoreTests", dependencies: ["EddyCore"], swiftSettings: strict),
        .testTarget(name: "EddyBlocksTests", dependencies: ["EddyBlocks"], swiftSettings: strict),
        .testTarget(name: "EddyKinesisTests", dependencies: ["EddyKinesis"], swiftSettings: strict),
        .testTarget(name: "EddyIngestTests", dependencies: ["EddyIngest", "EddyBlocks"], swiftSettings: strict),
        .testTarget(name: "EddySQLTests", dependencies: ["EddySQL", "EddyBlocks"], swiftSettings: strict),
        .testTarget(name: "EddyJobTests", dependencies: ["EddyJob"], swiftSettings: strict),
        .testTarget(name: "EddyMonitorTests", dependencies: ["EddyMonitor", "EddyCore"], swiftSettings: strict),
        .testTarget(name: "EddyEngineTests", dependencies: ["EddyEngine", "EddyIngest", "EddyBlocks", "EddySQL"], swiftSettings: strict),
        .testTarget(name: "EddyEndToEndTests", dependencies: ["eddy", "EddyIngest", "EddyCore", "EddySQL", "EddyBlocks"], swiftSettings: strict),
    ]
)

// libFuzzer targets for the parsers (Fuzz/, run by scripts/fuzz.sh). They are
// part of the package only when EDDY_FUZZ=1, so normal builds and tests never
// see them; the script builds them with -sanitize=fuzzer,address into a
// scratch path of their own.
if Context.environment["EDDY_FUZZ"] == "1" {
    let fuzzers: [(name: String, dependencies: [Target.Dependency])] = [
        ("job", ["EddyCore", "EddyJob", "EddyIngest", "EddySinks", "EddyEngine"]),
        ("records", ["EddyBlocks", "EddyIngest"]),
        ("wal", ["EddyCore", "EddyBlocks"]),
        ("checkpoint", ["EddyCore", "EddyJob", "EddySQL", "EddyEngine"]),
        ("kpl", ["EddyKinesis", .product(name: "Crypto", package: "swift-crypto")]),
        ("kinesis-json", ["EddyKinesis"]),
    ]
    package.targets.append(.systemLibrary(name: "CFuzzerDriver", path: "Fuzz/Sources/CFuzzerDriver"))
    package.targets.append(.target(name: "EddyFuzzSupport", dependencies: ["EddyCore", "CFuzzerDriver"],
                                   path: "Fuzz/Sources/Support", swiftSettings: strict))
    for fuzzer in fuzzers {
        package.targets.append(.executableTarget(name: "fuzz-\(fuzzer.name)", dependencies: fuzzer.dependencies + ["EddyFuzzSupport"],
                                                 path: "Fuzz/Sources/\(fuzzer.name)", swiftSettings: strict))
        package.products.append(.executable(name: "fuzz-\(fuzzer.name)", targets: ["fuzz-\(fuzzer.name)"]))
    }
}
