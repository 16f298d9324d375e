import Foundation
import TestSupport
import Testing

/// Clients that ask for large files and never read: large files stream from disk a chunk at a
/// time, the chunks waiting for clients stay within `--max-buffered-bytes` across all
/// connections, stalled responses are closed after the write timeout, and the server keeps
/// serving clients that do read.
@Suite("Slow readers", .serialized, .timeLimit(.minutes(2)))
struct SlowReaderTests {
    typealias Client = RawConnection

    static func residentKB(_ pid: Int32, _ field: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") }
        return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? -1
    }

    static func gauge(_ server: ServerProcess, _ name: String) throws -> Int {
        Int(try server.metric(name) ?? -1)
    }

    @Test func fiveHundredClientsPipeliningLargeFilesAndNeverReadingAreCutOff() throws {
        let site = try ServerTests.Site()
        // 1.55 MB, like the largest chart the API used to allow.
        var generator = SystemRandomNumberGenerator()
        let big = (0..<1_550_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(big).write(to: URL(fileURLWithPath: site.statics + "/big.bin"))
        let server = try site.serve(["--write-timeout", "3", "--no-access-log", "--max-buffered-bytes", "33554432"])
        defer { server.stop() }
        // Served whole and intact to a client that reads.
        let whole = try server.get("/static/big.bin")
        #expect(whole.status == 200 && whole.body == big)
        let ranged = try server.get("/static/big.bin", headers: ["Range": "bytes=1000000-1000099"])
        #expect(ranged.status == 206 && ranged.body == Array(big[1_000_000..<1_000_100]))
        let pid = server.process.processIdentifier
        let request = String(repeating: "GET /static/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", count: 4)
        var clients: [Client] = []
        for _ in 0..<500 {
            let client = try Client(port: server.port, readTimeoutSeconds: 10)
            var small: Int32 = 4096
            setsockopt(client.descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            #expect(client.send(request))
            clients.append(client)
        }
        usleep(1_000_000)
        // A client that reads is still served in full while the budget is taken.
        #expect(try server.get("/static/big.bin").body == big)
        let buffered = try Self.gauge(server, "surveycharts_streamed_bytes_buffered")
        let peakKB = try Self.residentKB(pid, "VmHWM")
        print("slow readers: peak RSS \(peakKB / 1024) MB, \(buffered) bytes buffered, 500 clients × 4 requests")
        // Before the budget: 830 to 950 MB (and 715 MB for 300 clients of one 8 MB file).
        #expect(peakKB < 300 * 1024, "peak RSS \(peakKB / 1024) MB")
        // The budget, overshot by at most one chunk per stream that passed while there was room.
        #expect(buffered <= 32 << 20 + 500 * 64 * 1024, "\(buffered) bytes buffered")
        #expect(try Self.gauge(server, "surveycharts_streams_waiting") > 0)
        // The stalled responses are cut off after the write timeout, and counted.
        let closedDeadline = Date().addingTimeInterval(20)
        var timedOut = 0
        while Date() < closedDeadline {
            timedOut = Int(
                try server.metric("surveycharts_connections_timed_out_total", matching: "reason=\"write_stall\"") ?? 0)
            if timedOut >= 450 { break }
            usleep(250_000)
        }
        #expect(timedOut >= 450, "only \(timedOut) stalled connections were closed")
        clients.removeAll()
        #expect(try server.get("/static/big.bin").body == big)
    }
}
