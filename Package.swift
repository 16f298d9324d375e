// swift-tools-version:6.2
import Foundation
import PackageDescription

// CI (`.ci/run`) builds with SURVEYCHARTS_STRICT=1: a warning in our own targets fails the build.
// Dependencies keep their warnings (SwiftPM silences them). Local builds stay lenient, so a newer
// compiler's new warnings do not stop someone trying the project.
let strict: [SwiftSetting] =
    ProcessInfo.processInfo.environment["SURVEYCHARTS_STRICT"] == nil ? [] : [.treatAllWarnings(as: .error)]

// `make fuzz` builds with SURVEYCHARTS_FUZZ=1 (in .build-fuzz): our own targets get libFuzzer's
// coverage and AddressSanitizer, and keep their internals testable for the fuzz targets;
// dependencies are built as usual.
let fuzzing = ProcessInfo.processInfo.environment["SURVEYCHARTS_FUZZ"] != nil
let instrumented: [SwiftSetting] =
    fuzzing ? [.unsafeFlags(["-sanitize=fuzzer,address", "-enable-testing"]), .define("SURVEYCHARTS_FUZZING")] : []
let ours = strict + instrumented

// Linux only: CSystemShims uses Linux system calls (SIGEV_THREAD_ID timers, prctl thread names), and
// only Linux is built and tested. SwiftPM has no way to declare Linux, so `platforms` names nothing.
let package = Package(
    name: "SurveyCharts",
    products: [
        .executable(name: "surveycharts", targets: ["surveycharts"]),
        .library(name: "PieChart", targets: ["PieChart"]),
        .library(name: "ChartCache", targets: ["ChartCache"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        // zlib's gzip calls are macros Swift cannot import: they live in C.
        .target(name: "CGzip", linkerSettings: [.linkedLibrary("z")]),
        // Content-Encoding: Accept-Encoding, bodies with their gzip form made once, and gzip for
        // responses made per request.
        .target(
            name: "ContentEncoding",
            dependencies: [
                "CGzip",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: ours
        ),
        // Small POSIX helpers Swift cannot express safely (signal-interrupted flock with a deadline).
        .target(name: "CSystemShims"),
        // The languages: catalogs (one translator-edited JSON file each, embedded in the binary),
        // language tags, Accept-Language, CLDR plural rules and locale formats through ICU.
        .target(
            name: "Localization",
            resources: [
                "en", "zh-Hans", "zh-Hant", "ja", "ko", "ar", "he", "es", "fr", "de", "pt-BR", "ru",
            ].map { .embedInCode("Catalogs/\($0).json") },
            swiftSettings: ours,
            // Foundation's own ICU: its plural rules (`upluralrules.h`), already loaded by Foundation.
            linkerSettings: [.linkedLibrary("_FoundationICU")]
        ),
        .target(
            name: "PieChart",
            dependencies: ["CCairo", "CPNG", "Localization"],
            swiftSettings: ours
        ),
        .target(
            name: "ChartCache",
            dependencies: [
                "CSystemShims",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: ours
        ),
        // Surveys, questions, answers and votes, behind a store protocol (SQLite now, PostgreSQL next).
        .target(
            name: "Surveys",
            dependencies: ["Localization", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: ours
        ),
        // The PostgreSQL store (postgres-nio), and `SurveyStores.open`, which picks a store by its URL.
        .target(
            name: "SurveysPostgres",
            dependencies: [
                "Surveys", "Localization",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ours
        ),
        // The rules that turn questions into charts (specs, names, which are current and servable),
        // and the one entry that answers a request for a chart file.
        .target(
            name: "SurveyCharts",
            dependencies: ["Surveys", "PieChart", "ChartCache", "Localization"],
            swiftSettings: ours
        ),
        // What keeps one connection from hurting the others: deadlines, request-head rules, accept
        // exhaustion, the streamed-bytes budget, the descriptor limit. Knows nothing of routes.
        .target(
            name: "HTTPHardening",
            dependencies: [
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            swiftSettings: ours
        ),
        // Our static file server: path rules, HTTP dates, conditional and range answers, the
        // file store, the middleware. Knows nothing of surveys or charts.
        .target(
            name: "StaticFiles",
            dependencies: [
                "ChartCache", "HTTPHardening", "ContentEncoding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: ours
        ),
        // Log output that never blocks a request: the access log, the background log handler.
        .target(
            name: "ServerLogging",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: ours
        ),
        // The application: the composition root, one route collection per area (pages, ballots,
        // charts, the chart API, operations, admin), pre-render, metrics.
        .target(
            name: "SurveyServer",
            dependencies: [
                "Surveys", "PieChart", "ChartCache", "SurveyCharts", "HTTPHardening", "StaticFiles", "ServerLogging",
                "Localization", "ContentEncoding",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ours
        ),
        .executableTarget(
            name: "surveycharts",
            dependencies: [
                "PieChart",
                "ChartCache",
                "Surveys",
                "SurveysPostgres",
                "SurveyCharts",
                "SurveyServer",
                "HTTPHardening",
                "ServerLogging",
                "CSystemShims",
                "Localization",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ours
        ),
        // Benchmarks for scripts/bench-*.sh: medians only, never asserted.
        .executableTarget(
            name: "surveycharts-bench",
            dependencies: ["PieChart", "ChartCache", "CCairo", "CPNG"],
            swiftSettings: ours
        ),
        // Every parser of outside input as a fuzz target (`make fuzz`; replayed by `make test`).
        .target(
            name: "FuzzTargets",
            dependencies: [
                "CPNG", "PieChart", "Surveys", "SurveyCharts", "SurveyServer", "StaticFiles", "Localization",
                "ContentEncoding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: ours
        ),
        // libFuzzer's driver's declaration (its definition is clang's runtime).
        .target(name: "CFuzzerDriver"),
        // libFuzzer's driver for FuzzTargets (SURVEYCHARTS_FUZZ=1), or a replayer of saved inputs.
        .executableTarget(
            name: "surveycharts-fuzz",
            dependencies: ["FuzzTargets", "CFuzzerDriver"],
            swiftSettings: ours,
            linkerSettings: fuzzing ? [.unsafeFlags(["-sanitize=fuzzer,address"])] : []
        ),
        // Spawned by the ChartCache tests to prove the protocol across processes and under faults.
        .executableTarget(
            name: "ChartCacheTestHelper",
            dependencies: ["ChartCache"],
            swiftSettings: ours
        ),
        // Temporary directories and child processes, shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: ours),
        .testTarget(
            name: "PieChartTests", dependencies: ["PieChart", "CCairo", "CPNG", "Localization", "TestSupport"],
            swiftSettings: ours),
        .testTarget(name: "LocalizationTests", dependencies: ["Localization"], swiftSettings: ours),
        .testTarget(
            name: "ChartCacheTests", dependencies: ["ChartCache", "ChartCacheTestHelper", "TestSupport"],
            swiftSettings: ours),
        .testTarget(
            name: "SurveyChartsCLITests", dependencies: ["surveycharts", "TestSupport"], swiftSettings: ours),
        .testTarget(
            name: "SurveyChartsTests", dependencies: ["SurveyCharts", "Localization", "TestSupport"],
            swiftSettings: ours),
        .testTarget(
            name: "SurveysTests", dependencies: ["Surveys", "SurveysPostgres", "TestSupport"], swiftSettings: ours),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"], swiftSettings: ours),
        .testTarget(
            name: "HTTPHardeningTests",
            dependencies: [
                "HTTPHardening",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            swiftSettings: ours),
        .testTarget(
            name: "StaticFilesTests",
            dependencies: [
                "StaticFiles", "ContentEncoding", .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: ours),
        .testTarget(name: "ServerLoggingTests", dependencies: ["ServerLogging"], swiftSettings: ours),
        .testTarget(
            name: "ContentEncodingTests",
            dependencies: ["ContentEncoding", .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: ours),
        .testTarget(
            name: "SurveyServerTests",
            dependencies: [
                "SurveyServer", "SurveyCharts", "Surveys", "HTTPHardening", "StaticFiles", "ServerLogging",
                "ContentEncoding",
                "CPNG", "surveycharts", "TestSupport", "Localization",
            ],
            swiftSettings: ours),
    ]
)
