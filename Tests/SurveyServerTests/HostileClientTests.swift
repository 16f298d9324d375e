import Foundation
import TestSupport
import Testing

@testable import SurveyServer

/// The findings of the outside review (issue 19), each as what a hostile client sends to the real
/// binary and what it must not achieve.
@Suite("Hostile clients", .serialized, .timeLimit(.minutes(5)))
struct HostileClientTests {
    /// One request used to kill the process: an If-Modified-Since or If-Range date whose year
    /// overflowed the date arithmetic.
    @Test func extremeDatesInConditionalHeadersAreIgnoredNotFatal() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        let extremes = [
            "Sun, 06 Nov 99999999999999 08:49:37 GMT", "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT", "Sunday, 06-Nov-99999999999999 08:49:37 GMT",
            "Sun Nov  6 08:49:37 99999999999999",
        ]
        for date in extremes {
            let modified = try server.get("/static/css/site.css", headers: ["If-Modified-Since": date])
            #expect(modified.status == 200, "If-Modified-Since: \(date)")
            let ranged = try server.get("/static/hello.txt", headers: ["Range": "bytes=0-9", "If-Range": date])
            #expect(ranged.status == 200, "If-Range: \(date)")
            #expect(ranged.body.count == 1000)
        }
        #expect(server.process.isRunning)
        #expect(try server.get("/healthz").status == 200)
    }
}
