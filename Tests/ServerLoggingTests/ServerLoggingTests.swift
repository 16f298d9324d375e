import Foundation
import Testing

@testable import ServerLogging

/// The access log's escaping and the background writer's bounds, without a server.
@Suite("Log output", .timeLimit(.minutes(2)))
struct ServerLoggingTests {
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
        // Read without blocking, until a deadline: a writer that miscounts must fail this test, not
        // hang the run (the test holds the write end, so the pipe never reaches its end).
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        let deadline = ContinuousClock.now + .seconds(20)
        while reported() < dropped || written() + dropped < 16_000 {
            guard ContinuousClock.now < deadline else {
                Issue.record("after 20 s, \(written()) lines written and \(reported()) of \(dropped) drops reported")
                break
            }
            let count = read(ends[0], &buffer, buffer.count)
            if count > 0 {
                output += String(decoding: buffer[..<count], as: UTF8.self)
            } else {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(reported() == dropped)
        #expect(output.hasSuffix("\n"))
        #expect(output.split(separator: "\n").allSatisfy { $0 == line.dropLast() || $0.hasPrefix("dropped ") })
        #expect(written() + dropped == 16_000)
    }
}
