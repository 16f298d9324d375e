import Foundation
import TestSupport
import Testing

/// Slow and stalled clients are cut off (slowloris: idle, partial head, partial body; idle
/// keep-alive), the server keeps serving, and every closure is counted. The timeouts are short
/// here (1–2 s) so the tests are quick; each wait is bounded by a socket timeout well beyond them,
/// so a regression fails instead of hanging.
@Suite("Connection timeouts", .serialized, .timeLimit(.minutes(2)))
struct ConnectionTimeoutTests {
    /// A client socket that sends what it is told, when it is told.
    final class Client {
        let descriptor: Int32

        init(port: Int, readTimeoutSeconds: Int = 15) throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var timeout = timeval(tv_sec: readTimeoutSeconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw RawHTTP.Failure(description: "connect failed: errno \(errno)") }
        }

        deinit { close(descriptor) }

        /// Changes how long a read waits for data.
        func readTimeout(seconds: Int) {
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        /// Sends `text`; false when the server has closed the connection.
        @discardableResult
        func send(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                == bytes.count
        }

        /// Reads what has arrived (waiting for the first bytes up to the read timeout).
        func readSome() -> String {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        }

        /// Reads until the server closes: what it sent, and whether it closed (rather than the
        /// read timing out with the connection still open).
        func readUntilClosed() -> (text: String, closed: Bool) {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    received += buffer[0..<count]
                    continue
                }
                if count < 0 && errno == EINTR { continue }
                // 0: the server closed; ECONNRESET: it closed with our bytes unread. Both are closed.
                let closed = count == 0 || errno == ECONNRESET
                return (String(decoding: received, as: UTF8.self), closed)
            }
        }
    }

    static func server(_ site: ServerTests.Site) throws -> ServerProcess {
        try site.serve([
            "--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "2", "--write-timeout", "2",
        ])
    }

    static func timedOut(_ server: ServerProcess, _ reason: String) throws -> Int {
        let metrics = try server.get("/metrics").text
        let prefix = "surveycharts_connections_timed_out_total{reason=\"\(reason)\"} "
        let line = metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test func anIdleConnectionThatNeverSendsARequestIsClosed() throws {
        let site = try ServerTests.Site()
        let server = try Self.server(site)
        defer { server.stop() }
        let client = try Client(port: server.port)
        let result = client.readUntilClosed()
        #expect(result.closed && result.text.isEmpty)
        #expect(try Self.timedOut(server, "header") == 1)
    }

    @Test func aHeadFedOneLineAtATimeIsCutOff() throws {
        let site = try ServerTests.Site()
        let server = try Self.server(site)
        defer { server.stop() }
        let client = try Client(port: server.port)
        #expect(client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
        // Each line arrives well within the timeout, but the head as a whole never completes.
        var accepted = 0
        for index in 0..<20 {
            usleep(300_000)
            guard client.send("X-Slow-\(index): a\r\n") else { break }
            accepted += 1
        }
        #expect(accepted < 20, "the server kept reading a head for 6 s")
        #expect(client.readUntilClosed().closed)
        #expect(try Self.timedOut(server, "header") == 1)
        #expect(try server.get("/healthz").status == 200)
    }

    @Test func aBodyThatStopsIsCutOffAndRecordsNothing() throws {
        let site = try ServerTests.Site()
        let server = try Self.server(site)
        defer { server.stop() }
        let client = try Client(port: server.port)
        #expect(
            client.send(
                "POST /surveys/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    + "Content-Length: 100\r\n\r\nq3=7"))
        let result = client.readUntilClosed()
        #expect(result.closed)
        #expect(try Self.timedOut(server, "body") == 1)
        let votes = try site.export().surveys.first { $0.id == 2 }!.questions.flatMap {
            $0.answers.map { $0.votes ?? 0 }
        }
        #expect(votes.allSatisfy { $0 == 0 })
    }

    @Test func aBodyTricklingBelowTheMinimumRateIsCutOff() throws {
        let site = try ServerTests.Site()
        let server = try Self.server(site)
        defer { server.stop() }
        let client = try Client(port: server.port)
        #expect(client.send("POST /api/charts/pie HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n\r\n"))
        // A byte every 200 ms: never idle for the 1 s gap, far below 1024 B/s.
        var sent = 0
        for _ in 0..<40 {
            usleep(200_000)
            guard client.send("{") else { break }
            sent += 1
        }
        #expect(sent < 40, "the server kept reading a trickle for 8 s")
        #expect(client.readUntilClosed().closed)
        #expect(try Self.timedOut(server, "body") == 1)
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterItsResponse() throws {
        let site = try ServerTests.Site()
        let server = try Self.server(site)
        defer { server.stop() }
        let client = try Client(port: server.port)
        #expect(client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        let result = client.readUntilClosed()
        #expect(result.text.hasPrefix("HTTP/1.1 200") && result.text.hasSuffix("ok\n"))
        #expect(result.closed)
        #expect(try Self.timedOut(server, "keep_alive") == 1)
        // Ordinary traffic is untouched: a keep-alive client that keeps asking is served.
        let busy = try Client(port: server.port)
        for _ in 0..<5 {
            #expect(busy.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            usleep(400_000)
        }
        #expect(busy.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
        let answers = busy.readUntilClosed().text.components(separatedBy: "HTTP/1.1 200").count - 1
        #expect(answers == 6)
    }

    @Test func theTimeoutsAreLoggedAtStartup() throws {
        let site = try ServerTests.Site()
        let server = try Self.server(site)
        defer { server.stop() }
        _ = try server.get("/healthz")
        let log = try String(contentsOfFile: server.logPath, encoding: .utf8)
        #expect(
            log.contains("connection timeouts: header 1.0 s, body idle 1.0 s (at least 1024 B/s), keep-alive 2.0 s"))
        let refused = try Executable.run(["serve", "--header-timeout", "0"])
        #expect(refused.status != 0 && refused.standardError.contains("--header-timeout"))
    }
}
