// swift-tools-version: 6.2
// The benchmark suite: its own package so the main build never compiles it. `make bench` builds it
// in release and runs `reactor-bench`, which measures the raw C baseline (CBaseline) and the
// reactor on both backends in one run.
import PackageDescription

let package = Package(
    name: "ansar-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ansar", path: ".."),
    ],
    targets: [
        .target(name: "CBaseline"),
        .executableTarget(
            name: "reactor-bench",
            dependencies: ["CBaseline", .product(name: "Reactor", package: "ansar")]
        ),
    ]
)
