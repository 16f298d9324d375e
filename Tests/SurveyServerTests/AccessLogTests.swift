import Foundation
import TestSupport
import Testing

@testable import SurveyServer

/// The access log: one combined-format line per request, batched, and never a forged line.
@Suite("Access log", .timeLimit(.minutes(2)))
struct AccessLogTests {
    @Test func everyRequestGetsOneLineInTheCombinedFormat() throws {
        let site = try ServerTests.Site()
        let server = try site.serve(["--ballots-per-browser", "any"])
        defer { server.stop() }
        #expect(
            try server.get(
                "/surveys/1?from=%22home%22", headers: ["User-Agent": "probe \"quoted\" agent", "Referer": "/x"]
            ).status == 200)
        #expect(try server.post("/surveys/2", body: "q3=7&q4=11").status == 303)
        #expect(try server.get("/no/such/page").status == 404)
        // Lines are written in batches, at the latest a second later.
        #expect(server.logContains("\"POST /surveys/2 HTTP/1.1\" 303 0 \"-\" \"-\" "))
        #expect(server.logContains("\"GET /no/such/page HTTP/1.1\" 404 "))
        let line = try #require(server.log.split(separator: "\n").first { $0.contains("GET /surveys/1?") })
        let pattern =
            #"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /surveys/1\?from=%22home%22 HTTP/1\.1" 200 \d+ "/x" "probe \\"quoted\\" agent" \d+\.\d{6} [0-9a-f]{16,32}$"#
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "\(line)")
        // A warm chart hit, answered from memory, is logged too.
        let chart = try #require(try server.results(1).questions.first?.chart["1x"])
        for _ in 0..<3 { #expect(try server.get(chart).status == 200) }
        #expect(server.logContains("\"GET \(chart) HTTP/1.1\" 200 "))
        let deadline = Date().addingTimeInterval(5)
        var hits = 0
        repeat {
            hits = server.log.components(separatedBy: "\"GET \(chart) HTTP/1.1\" 200 ").count - 1
            if hits < 3 { usleep(100_000) }
        } while hits < 3 && Date() < deadline
        #expect(hits == 3, "\(hits) of 3 chart requests logged")
    }
}
