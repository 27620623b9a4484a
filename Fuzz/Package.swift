// swift-tools-version: 6.2
// libFuzzer targets, built only by `make fuzz` (with -sanitize=fuzzer,address), never by the main build.
import PackageDescription

let package = Package(
    name: "ansar-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ansar", path: "..")],
    targets: [
        .target(name: "FuzzMain"),
        .executableTarget(
            name: "FrameDecoderFuzzer",
            dependencies: [
                "FuzzMain", .product(name: "Transport", package: "ansar"), .product(name: "Reactor", package: "ansar"),
            ]
        ),
        .executableTarget(
            name: "HandshakeFuzzer",
            dependencies: [
                "FuzzMain", .product(name: "Transport", package: "ansar"), .product(name: "Reactor", package: "ansar"),
            ]
        ),
        .executableTarget(
            name: "RelayTicketFuzzer",
            dependencies: ["FuzzMain", .product(name: "Transport", package: "ansar")]
        ),
        .executableTarget(
            name: "BeaconFuzzer",
            dependencies: [
                "FuzzMain", .product(name: "PubSub", package: "ansar"), .product(name: "Transport", package: "ansar"),
            ]
        ),
        .executableTarget(
            name: "DirectoryMessageFuzzer",
            dependencies: [
                "FuzzMain", .product(name: "PubSub", package: "ansar"), .product(name: "Actors", package: "ansar"),
            ]
        ),
    ]
)
