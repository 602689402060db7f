// swift-tools-version:6.0
// libFuzzer targets for the decoders that take bytes from outside: replication frames and control
// requests. A package of its own so the main build never links them without -sanitize=fuzzer.
//   swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -use-ld=lld
//   (lld: gold crashes on the duplicate-main diagnostic)
//   ../.build-fuzz/release/FuzzWire corpus/wire -max_total_time=60
import PackageDescription

let package = Package(
    name: "newsd-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "newsd", path: "..")],
    targets: [
        .executableTarget(name: "FuzzWire", dependencies: [.product(name: "SyncProtocol", package: "newsd")]),
        .executableTarget(name: "FuzzControl", dependencies: [.product(name: "SyncProtocol", package: "newsd")]),
    ],
    swiftLanguageModes: [.v6]
)
