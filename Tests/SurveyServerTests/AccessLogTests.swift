import Foundation
import TestSupport
import Testing

@testable import ServerLogging
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

    @Test func loggedTextCannotForgeALine() {
        #expect(AccessLog.sanitized("plain text") == "plain text")
        #expect(AccessLog.sanitized("a\"b\\c") == #"a\"b\\c"#)
        #expect(AccessLog.sanitized("x\ny\r\u{7F}") == #"x\x0Ay\x0D\x7F"#)
    }

    /// A stalled output never blocks a writer: with the pipe full and nobody reading, appends from
    /// many threads return, overflow is dropped and counted, and once the output drains the count
    /// is reported and every line that was written is whole.
    @Test func aStalledOutputDropsAndCountsInsteadOfBlocking() async throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])  // safe: by then the writer has written everything it took
        }
        let writer = BackgroundWriter(
            descriptor: ends[1], name: "test-writer", capacity: 4096, flushBytes: 1, flushInterval: .seconds(1),
            droppedNotice: { "dropped \($0)\n" })
        let line = String(repeating: "x", count: 99) + "\n"
        // Far more than the pipe (64 KB) and the buffer hold together.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for _ in 0..<2_000 { writer.append(line) } }
            }
        }
        #expect(writer.dropped > 0)
        let dropped = writer.dropped
        // Drain the pipe until every append is accounted for: written, or dropped and reported
        // (one notice per flush that followed drops).
        var output = ""
        var buffer = [UInt8](repeating: 0, count: 65536)
        func written() -> Int { output.split(separator: "\n").filter { !$0.hasPrefix("dropped ") }.count }
        func reported() -> Int {
            output.split(separator: "\n").filter { $0.hasPrefix("dropped ") }.compactMap {
                Int($0.dropFirst("dropped ".count))
            }.reduce(0, +)
        }
        while reported() < dropped || written() + dropped < 16_000 {
            let count = read(ends[0], &buffer, buffer.count)
            #expect(count > 0)
            guard count > 0 else { break }
            output += String(decoding: buffer[..<count], as: UTF8.self)
        }
        #expect(reported() == dropped)
        #expect(output.hasSuffix("\n"))
        #expect(output.split(separator: "\n").allSatisfy { $0 == line.dropLast() || $0.hasPrefix("dropped ") })
        #expect(written() + dropped == 16_000)
    }
}
