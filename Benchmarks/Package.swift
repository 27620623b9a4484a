// swift-tools-version: 6.2
// The benchmark suite: its own package so the main build never compiles it. `make bench` builds it
// in release and runs `ansar-bench`, which measures the raw C baseline (CBaseline), the reactor on
// both backends and the transports in one run.
import PackageDescription

let package = Package(
    name: "ansar-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ansar", path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // A peer to measure against, never a dependency of the main package.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .target(name: "CBaseline"),
        // The peers, through their C libraries (Debian's libzmq3-dev and libnats-dev).
        .target(name: "CPeers", linkerSettings: [.linkedLibrary("zmq"), .linkedLibrary("nats")]),
        .target(
            name: "NIOPeer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "ansar-bench",
            dependencies: [
                "CBaseline", "CPeers", "NIOPeer", .product(name: "Reactor", package: "ansar"),
                .product(name: "Transport", package: "ansar"),
                .product(name: "Actors", package: "ansar"), .product(name: "PubSub", package: "ansar"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AnsarTestKit", package: "ansar"), .product(name: "Platform", package: "ansar"),
                .product(name: "Cryptography", package: "ansar"),
            ]
        ),
        // A role for the across-hosts rows: built here, copied next to the release `ansar` by `make bench`.
        .executableTarget(
            name: "bench-node",
            dependencies: [
                .product(name: "ProcessShim", package: "ansar"), .product(name: "Reactor", package: "ansar"),
                .product(name: "Platform", package: "ansar"),
            ]
        ),
    ]
)
