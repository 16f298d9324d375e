// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "SurveyCharts",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "surveycharts", targets: ["surveycharts"]),
        .library(name: "PieChart", targets: ["PieChart"]),
        .library(name: "ChartCache", targets: ["ChartCache"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Cairo + Pango through pkg-config `pangocairo`.
        .systemLibrary(
            name: "CCairo",
            pkgConfig: "pangocairo",
            providers: [.apt(["libcairo2-dev", "libpango1.0-dev"])]
        ),
        // libpng reports errors with setjmp, which Swift cannot use safely: the writer lives in C.
        .target(
            name: "CPNG",
            linkerSettings: [.linkedLibrary("png"), .linkedLibrary("z")]
        ),
        // Small POSIX helpers Swift cannot express safely (signal-interrupted flock with a deadline).
        .target(name: "CSystemShims"),
        .target(
            name: "PieChart",
            dependencies: ["CCairo", "CPNG"]
        ),
        .target(
            name: "ChartCache",
            dependencies: [
                "CSystemShims",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "surveycharts",
            dependencies: [
                "PieChart",
                "ChartCache",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks for scripts/bench-*.sh: medians only, never asserted.
        .executableTarget(
            name: "surveycharts-bench",
            dependencies: ["PieChart", "ChartCache"]
        ),
        // Spawned by the ChartCache tests to prove the protocol across processes and under faults.
        .executableTarget(
            name: "ChartCacheTestHelper",
            dependencies: ["ChartCache"]
        ),
        // Temporary directories and child processes, shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "PieChartTests", dependencies: ["PieChart", "CCairo"]),
        .testTarget(name: "ChartCacheTests", dependencies: ["ChartCache", "ChartCacheTestHelper", "TestSupport"]),
        .testTarget(name: "SurveyChartsCLITests", dependencies: ["surveycharts", "TestSupport"]),
    ]
)
