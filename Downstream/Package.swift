// swift-tools-version: 6.2
// A package that depends on ansar the way a user's would (by path, products only), so that
// `make downstream` proves the API reads well from outside: what a program needs comes with the
// module it imports, and README's tour builds and runs as typed (`tour` is that code, checked
// against README). No experimental feature or unsafe flag is set here: none may be needed.
import PackageDescription

let package = Package(
    name: "downstream",
    dependencies: [.package(name: "ansar", path: "..")],
    targets: [
        .executableTarget(name: "tour", dependencies: [.product(name: "ProcessShim", package: "ansar")]),
        .executableTarget(name: "outside", dependencies: [.product(name: "ProcessShim", package: "ansar")]),
    ]
)
