// swift-tools-version: 6.2
import PackageDescription

/// Modules above Reactor are compiled with strict memory safety as an error: unsafe code lives only
/// in the C shims, Platform, Cryptography and Reactor, and the compiler proves it.
let safeModule: [SwiftSetting] = [
    .strictMemorySafety(),
    .treatWarning("StrictMemorySafety", as: .error),
]

/// What tests use to capture and check log lines.
let testLogging: [Target.Dependency] = [
    .product(name: "Logging", package: "swift-log"),
    .product(name: "InMemoryLogging", package: "swift-log"),
]

let package = Package(
    name: "ansar",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Platform", targets: ["Platform"]),
        .library(name: "Cryptography", targets: ["Cryptography"]),
        .library(name: "Reactor", targets: ["Reactor"]),
        .library(name: "Transport", targets: ["Transport"]),
        .library(name: "Actors", targets: ["Actors"]),
        .library(name: "PubSub", targets: ["PubSub"]),
        .library(name: "ProcessShim", targets: ["ProcessShim"]),
        .executable(name: "ansar", targets: ["ansar"]),
        // Test plumbing, not API: real child processes, namespaced test hosts, shared test
        // messages, for the tests and the benchmarks (a separate package, so it must be a product).
        .library(name: "AnsarTestKit", targets: ["AnsarTestKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The house, bottom to top; each target depends only on the layer below it (Platform and
        // Cryptography are side libraries any layer may use).
        .target(name: "CShims"),
        .target(name: "CURing", linkerSettings: [.linkedLibrary("uring")]),
        .target(name: "CSodium", linkerSettings: [.linkedLibrary("sodium")]),
        .target(name: "CAESGCM", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "Platform", dependencies: ["CShims"]),
        .target(name: "Cryptography", dependencies: ["CSodium", "CAESGCM", "Platform"]),
        .target(
            name: "Reactor",
            dependencies: ["CShims", "CURing", "Platform", .product(name: "Logging", package: "swift-log")],
            swiftSettings: [.enableExperimentalFeature("Lifetimes")]
        ),
        .target(
            name: "Transport",
            dependencies: ["Reactor", "Platform", "Cryptography", .product(name: "Logging", package: "swift-log")],
            swiftSettings: safeModule
        ),
        .target(
            name: "Actors",
            dependencies: ["Transport", "Platform", "Cryptography", .product(name: "Logging", package: "swift-log")],
            swiftSettings: safeModule
        ),
        .target(
            name: "PubSub",
            dependencies: ["Actors", "Platform", "Cryptography", .product(name: "Logging", package: "swift-log")],
            swiftSettings: safeModule
        ),
        .target(
            name: "ProcessShim",
            dependencies: ["PubSub", "Platform", .product(name: "Logging", package: "swift-log")],
            swiftSettings: safeModule
        ),
        .executableTarget(
            name: "ansar",
            dependencies: [
                "ProcessShim", "Platform", .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Tools",
            swiftSettings: safeModule
        ),
        .target(
            name: "HelloWelcome", dependencies: ["Actors", "PubSub"], path: "Examples/HelloWelcome",
            swiftSettings: safeModule),
        .executableTarget(
            name: "publish-a-service",
            dependencies: ["HelloWelcome", "ProcessShim", .product(name: "Logging", package: "swift-log")],
            path: "Examples/publish-a-service", swiftSettings: safeModule),
        .executableTarget(
            name: "subscribe-to-service", dependencies: ["HelloWelcome", "ProcessShim"],
            path: "Examples/subscribe-to-service", swiftSettings: safeModule),
        .executableTarget(
            name: "reactor-echo",
            dependencies: ["Reactor"],
            path: "Examples/reactor-echo",
            swiftSettings: safeModule
        ),
        .executableTarget(
            name: "greeter",
            dependencies: ["ProcessShim", .product(name: "Logging", package: "swift-log")],
            path: "Examples/greeter",
            swiftSettings: safeModule
        ),
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .testTarget(name: "PlatformTests", dependencies: ["Platform"]),
        .testTarget(
            name: "ReactorTests", dependencies: ["Reactor", "Platform", "CTestSupport", "AnsarTestKit"] + testLogging),
        .testTarget(
            name: "TransportTests",
            dependencies: ["Transport", "Reactor", "Platform", "Cryptography", "AnsarTestKit"] + testLogging),
        .target(
            name: "AnsarTestKit",
            dependencies: [
                "Actors", "Transport", "Reactor", "Platform", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/AnsarTestKit"),
        .executableTarget(
            name: "pubsub-node",
            dependencies: ["ProcessShim", "Reactor", .product(name: "Logging", package: "swift-log")],
            path: "Tests/PubSubNode", swiftSettings: safeModule),
        .testTarget(
            name: "ActorsTests",
            dependencies: ["Actors", "ProcessShim", "Transport", "Reactor", "Platform", "AnsarTestKit"] + testLogging),
        .testTarget(
            name: "PubSubTests",
            dependencies: ["PubSub", "Actors", "Reactor", "Transport", "AnsarTestKit"] + testLogging),
        .testTarget(name: "ToolsTests", dependencies: ["Reactor", "Platform", "AnsarTestKit"]),
        .executableTarget(
            name: "link-node", dependencies: ["ProcessShim", "Transport", "Reactor", "Platform", "AnsarTestKit"],
            path: "Tests/LinkNode", swiftSettings: safeModule),
        .testTarget(name: "HostsTests", dependencies: ["Reactor", "Platform", "AnsarTestKit"]),
        // The deterministic simulator: many runtimes on one thread over a simulated network.
        .testTarget(
            name: "SimulationTests",
            dependencies: ["PubSub", "Actors", "Transport", "Reactor", "Platform", "CShims"] + testLogging,
            path: "Tests/Simulation"),
    ]
)
