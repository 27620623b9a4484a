// swift-tools-version: 6.2
// libFuzzer targets, built only by `make fuzz` (with -sanitize=fuzzer,address), never by the main build.
import PackageDescription

/// A fuzzer over the ansar products it exercises.
func fuzzer(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: "\(name)Fuzzer",
        dependencies: ["FuzzMain"] + products.map { .product(name: $0, package: "ansar") })
}

let package = Package(
    name: "ansar-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ansar", path: "..")],
    targets: [
        .target(name: "FuzzMain"),
        fuzzer("FrameDecoder", ["Transport", "Reactor"]),
        fuzzer("Handshake", ["Transport", "Reactor"]),
        fuzzer("RelayTicket", ["Transport"]),
        fuzzer("Beacon", ["PubSub", "Transport"]),
        fuzzer("DirectoryMessage", ["PubSub", "Actors"]),
    ]
)
