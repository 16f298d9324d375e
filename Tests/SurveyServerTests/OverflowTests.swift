import ChartCache
import Foundation
import HTTPTypes
import TestSupport
import Testing

@testable import StaticFiles
@testable import SurveyServer

/// Modification times `Int` nanoseconds cannot hold: a file dated after April 2262 (as
/// `touch -d 2300-01-01` makes one) used to trap on every request for it.
@Suite("File dates far from now", .serialized, .timeLimit(.minutes(2)))
struct OverflowTests {
    /// 2300-01-01T00:00:00Z, a Monday.
    static let year2300 = 10_413_792_000

    /// Sets both times of `path` to `seconds` since 1970.
    static func date(_ path: String, _ seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        let result = utimensat(AT_FDCWD, path, &times, 0)
        #expect(result == 0, "utimensat \(path)")
    }

    @Test func aStaticFileDatedInTheYear2300IsServed() throws {
        let site = try ServerTests.Site()
        try site.directory.write("static/future.txt", "from the future")
        Self.date(site.statics + "/future.txt", Self.year2300)
        let server = try site.serve()
        defer { server.stop() }
        let first = try server.get("/static/future.txt")
        #expect(first.status == 200 && first.text == "from the future")
        let modified = try #require(first.header("Last-Modified"))
        #expect(modified == "Mon, 01 Jan 2300 00:00:00 GMT")
        // Again, from memory after the revalidating `stat`, and as a conditional request.
        #expect(try server.get("/static/future.txt").status == 200)
        #expect(try server.get("/static/future.txt", headers: ["If-Modified-Since": modified]).status == 304)
        #expect(try server.get("/healthz").status == 200)
    }

    @Test func theStoreTakesAnyModificationTime() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("future.txt", "x")
        Self.date(directory.path + "/future.txt", Self.year2300)
        let pool = BlockingThreadPool(threadCount: 1, name: "overflow")
        defer { pool.shutdown() }
        let store = try StaticFileStore(
            root: directory.path, pool: pool, contentAddressed: false, cacheControl: "no-cache")
        #expect(try await store.file(["future.txt"])?.facts.modified == Self.year2300)
        #expect(try await store.file(["future.txt"])?.facts.modified == Self.year2300)
        // Dates handed in by a chart render: out of range, infinite or NaN, none traps.
        let cases: [(Double, Int)] = [
            (Double(Self.year2300) + 0.5, Self.year2300), (1e30, .max), (-1e30, .min), (.infinity, .max),
            (-.infinity, .min), (.nan, 0), (-0.5, -1),
        ]
        for (seconds, expected) in cases {
            let file = store.remember(
                ["c-\(expected).png"], bytes: [1, 2, 3], modified: Date(timeIntervalSince1970: seconds), device: 1,
                inode: 1)
            #expect(file.facts.modified == expected, "\(seconds)")
            #expect(file.headers[.lastModified] == HTTPDate.format(Int64(expected)), "\(seconds)")
        }
        let after = StaticFileStore.secondsAndNanoseconds(Date(timeIntervalSince1970: 1.25))
        #expect(after.seconds == 1 && after.nanoseconds == 250_000_000)
        // Rounded down, as `stat` gives times before 1970: the nanoseconds are never negative.
        let before = StaticFileStore.secondsAndNanoseconds(Date(timeIntervalSince1970: -1.25))
        #expect(before.seconds == -2 && before.nanoseconds == 750_000_000)
    }
}
