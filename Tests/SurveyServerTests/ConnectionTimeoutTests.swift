import Foundation
import TestSupport
import Testing

/// Slow and stalled clients are cut off (slowloris: idle, partial head, partial body; idle
/// keep-alive), the server keeps serving, and every closure is counted. The timeouts are short
/// here (1–2 s) so the tests are quick; each wait is bounded by a socket timeout well beyond them,
/// so a regression fails instead of hanging.
@Suite("Connection timeouts", .serialized, .timeLimit(.minutes(2)))
struct ConnectionTimeoutTests {
    typealias Client = RawConnection

    static func server(_ site: ServerTests.Site) throws -> ServerProcess {
        try site.serve([
            "--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "2", "--write-timeout", "2",
        ])
    }

    static func timedOut(_ server: ServerProcess, _ reason: String) throws -> Int {
        Int(try server.metric("surveycharts_connections_timed_out_total", matching: "reason=\"\(reason)\"") ?? 0)
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
        #expect(
            server.logContains(
                "connection timeouts: header 1.0 s, body idle 1.0 s (at least 1024 B/s), keep-alive 2.0 s"))
        let refused = try Executable.refusedServe(["--header-timeout", "0"] + site.scratchArguments)
        #expect(refused.status != 0 && refused.standardError.contains("--header-timeout"))
    }
}
