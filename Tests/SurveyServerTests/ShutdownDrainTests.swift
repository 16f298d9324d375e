import Foundation
import TestSupport
import Testing

/// What SIGTERM does: the listener closes at once (a proxy sends new requests elsewhere), idle keep-alive
/// connections close, requests under way finish, and the process exits within `--shutdown-grace`,
/// cutting off whatever is still left then.
@Suite("Draining on SIGTERM", .serialized, .timeLimit(.minutes(2)))
struct ShutdownDrainTests {
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// A ballot for the open demo survey whose head says `length` body bytes, of which only `sent` went.
    static func partialBallot(
        _ server: ServerProcess, length: Int, sent: String, readTimeoutSeconds: Int
    ) throws
        -> RawConnection
    {
        let connection = try RawConnection(port: server.port, readTimeoutSeconds: readTimeoutSeconds)
        #expect(
            connection.send(
                "POST /surveys/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    + "Content-Length: \(length)\r\n\r\n" + sent))
        return connection
    }

    /// Votes for answer 7 of the open demo survey, from `surveycharts export`.
    static func votes(_ site: ServerTests.Site) throws -> Int {
        let result = try Executable.run(["export", "--database", site.database])
        let document = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let survey = (document?["surveys"] as? [[String: Any]])?.first { $0["id"] as? Int == 2 }
        let answers = (survey?["questions"] as? [[String: Any]])?.first?["answers"] as? [[String: Any]]
        return try #require(answers?.first?["votes"] as? Int)
    }

    @Test func aRequestUnderWayFinishesAndIdleConnectionsClose() throws {
        let site = try ServerTests.Site()
        let server = try site.serve(["--shutdown-grace", "8", "--ballots-per-browser", "any"])
        defer { server.stop() }
        let before = try Self.votes(site)
        // An idle keep-alive connection, after one answered request.
        let idle = try RawConnection(port: server.port, readTimeoutSeconds: 10)
        #expect(idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        #expect(idle.readSome().contains("200 OK"))
        // A ballot whose body has not all arrived.
        let voter = try Self.partialBallot(server, length: 10, sent: "q3=7&", readTimeoutSeconds: 10)
        usleep(300_000)
        let stopping = ContinuousClock.now
        kill(server.process.processIdentifier, SIGTERM)

        // The idle connection is closed, and no new connection is taken.
        let closed = idle.readUntilClosed()
        #expect(closed.closed && closed.text.isEmpty, "the idle connection got \(closed)")
        #expect(Self.seconds(since: stopping) < 5)
        // Refused outright (ECONNREFUSED: a proxy tries the next process), soon after the signal.
        var refusedAfter: Double?
        for _ in 0..<50 {
            do {
                close(try RawHTTP.connect(port: server.port, readTimeoutSeconds: 2))
            } catch {
                if "\(error)".hasSuffix("errno \(ECONNREFUSED)") {
                    refusedAfter = Self.seconds(since: stopping)
                    break
                }
            }
            usleep(50_000)
        }
        let refused = try #require(refusedAfter, "the listener still took connections")
        #expect(refused < 1.5, "new connections were refused only \(refused) s after SIGTERM")
        // The ballot under way finishes: the rest of its body, its 303, and it is counted.
        #expect(voter.send("q4=11"))
        let answer = voter.readUntilClosed()
        #expect(answer.text.hasPrefix("HTTP/1.1 303"), "\(answer.text.prefix(200))")
        #expect(answer.closed)
        // With nothing left under way it exits at once, not at the end of its grace (8 s).
        #expect(
            ChildProcess.waitForExit(server.process, until: .now + .seconds(3)),
            "still running 3 s after its last request")
        #expect(server.process.terminationStatus == 0)
        #expect(try Self.votes(site) == before + 1)
    }

    @Test func whatIsStillUnderWayWhenTheGraceEndsIsCutOff() throws {
        let site = try ServerTests.Site()
        let server = try site.serve(["--shutdown-grace", "2", "--body-timeout", "60"])
        defer { server.stop() }
        // A body that never completes, within its own timeout.
        let stuck = try Self.partialBallot(server, length: 100, sent: "q3=7", readTimeoutSeconds: 20)
        usleep(300_000)
        let stopping = ContinuousClock.now
        kill(server.process.processIdentifier, SIGTERM)
        #expect(ChildProcess.waitForExit(server.process, until: .now + .seconds(10)), "still running after 10 s")
        let took = Self.seconds(since: stopping)
        #expect(took >= 1.5 && took < 6, "exited \(took) s after SIGTERM with --shutdown-grace 2")
        #expect(stuck.readUntilClosed().closed)
    }
}
