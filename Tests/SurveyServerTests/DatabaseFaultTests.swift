import Foundation
import Synchronization
import TestSupport
import Testing

/// PostgreSQL going away under a running server, for real: a cluster of the test's own, stopped
/// with `pg_ctl stop -m immediate` while voters vote, then started again on the same address.
@Suite("PostgreSQL goes away and comes back", .serialized, .timeLimit(.minutes(4)))
struct DatabaseFaultTests {
    /// The ballot deadline the servers here run with.
    static let deadline = 3.0

    /// One ballot as a voter saw it.
    struct Answer: Sendable {
        var status: Int
        var seconds: Double
        var retryAfter: String?
        var unconfirmed: Bool
        var error: String?
    }

    static func serve(
        _ cluster: PrivatePostgres, _ directory: TemporaryDirectory, _ extra: [String] = []
    )
        throws -> ServerProcess
    {
        try ServerProcess(
            [
                "--database", cluster.url, "--charts-dir", directory.path + "/piecharts", "--today", ServerTests.today,
                "--no-prerender", "--no-access-log", "--ballots-per-browser", "any",
                "--ballot-deadline", String(Self.deadline),
            ] + extra)
    }

    static func vote(_ server: ServerProcess) -> Answer {
        let start = ContinuousClock.now
        do {
            let response = try server.post("/surveys/2", body: "q3=7&q4=11")
            return Answer(
                status: response.status, seconds: Self.seconds(ContinuousClock.now - start),
                retryAfter: response.header("Retry-After"),
                unconfirmed: response.text.contains("may or may not have been counted"))
        } catch {
            return Answer(
                status: -1, seconds: Self.seconds(ContinuousClock.now - start), unconfirmed: false,
                error: "\(error)")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Votes for answer 7 (question 3 of the demo's open survey), from the database itself.
    static func recorded(_ cluster: PrivatePostgres) throws -> Int {
        Int(
            try TestPostgres.psql(cluster.url, "SELECT votes FROM answer WHERE id = 7").trimmingCharacters(
                in: .whitespacesAndNewlines)) ?? -1
    }

    static func status(_ server: ServerProcess, _ target: String) -> Int { (try? server.get(target).status) ?? -1 }

    /// Waits at most `seconds` for `condition`.
    static func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if condition() { return true }
            usleep(100_000)
        } while Date() < deadline
        return false
    }

    @Test func aCrashUnderLoadLosesNoAcknowledgedBallotAndTheServerRecoversByItself() throws {
        let cluster = try PrivatePostgres()
        let directory = try TemporaryDirectory()
        let server = try Self.serve(cluster, directory)
        defer { server.stop() }
        // A completed survey's results page, cached before the crash; and a chart of it on disk.
        #expect(try server.get("/surveys/1").status == 200)
        let before = try Self.recorded(cluster)

        let answers = Mutex<[Answer]>([])
        let running = Atomic<Bool>(true)
        let voters = DispatchGroup()
        for _ in 0..<8 {
            voters.enter()
            Thread.detachNewThread {
                while running.load(ordering: .relaxed) {
                    let answer = Self.vote(server)
                    answers.withLock { $0.append(answer) }
                    if answer.status != 303 { usleep(50_000) }  // as a browser would, not a flood
                }
                voters.leave()
            }
        }
        usleep(1_500_000)
        try cluster.stopImmediately()

        // While it is down: the process is alive, not ready, cached pages serve, failures counted.
        #expect(Self.status(server, "/healthz") == 200)
        #expect(Self.eventually(within: 5) { Self.status(server, "/readyz") == 503 }, "/readyz kept saying ready")
        let notReady = try server.get("/readyz")
        #expect(notReady.text.contains("database"), "\(notReady.text)")
        #expect(Self.status(server, "/surveys/1") == 200, "the cached results page stopped serving")
        #expect(Self.status(server, "/static/style.css") == 200)
        #expect(
            Self.eventually(within: 5) {
                let failures = (try? server.metric("surveycharts_database_failures_total")) ?? nil
                return (failures ?? 0) > 0
            },
            "no database failure counted")
        usleep(2_000_000)
        try cluster.start()

        // It recovers by itself: ballots are taken again within a few seconds, without a restart.
        let recoveredAt = ContinuousClock.now
        #expect(
            Self.eventually(within: 10) {
                answers.withLock { list in list.suffix(8).contains { $0.status == 303 } }
            }, "no ballot was taken after PostgreSQL came back")
        #expect(Self.eventually(within: 10) { Self.status(server, "/readyz") == 200 }, "/readyz stayed not ready")
        let recovery = Self.seconds(ContinuousClock.now - recoveredAt)
        usleep(1_000_000)
        running.store(false, ordering: .relaxed)
        #expect(voters.wait(timeout: .now() + 30) == .success, "a voter hung")

        let all = answers.withLock { $0 }
        let acknowledged = all.filter { $0.status == 303 }.count
        let failed = all.filter { $0.status != 303 }
        let unconfirmed = failed.filter(\.unconfirmed).count
        // Every answer is a 303 or a 503 with Retry-After, never later than the deadline (a little
        // slack for a loaded machine), and nothing hung or broke.
        #expect(failed.allSatisfy { $0.status == 503 && $0.retryAfter != nil }, "\(Set(failed.map(\.status)))")
        #expect(failed.count > 0, "the crash was not seen: every ballot succeeded")
        let slowest = all.map(\.seconds).max() ?? 0
        #expect(slowest <= Self.deadline + 1.0, "a ballot took \(slowest) s; the deadline is \(Self.deadline) s")
        #expect(!all.contains { $0.error != nil }, "\(all.compactMap(\.error).prefix(3))")
        // Every acknowledged ballot is in the database; only unconfirmed ones may be there besides.
        let counted = try Self.recorded(cluster) - before
        #expect(counted >= acknowledged, "\(acknowledged) acknowledged, \(counted) recorded")
        #expect(
            counted <= acknowledged + unconfirmed,
            "\(acknowledged) acknowledged + \(unconfirmed) unconfirmed < \(counted)")

        // And counts are exact afterwards.
        let settled = try Self.recorded(cluster)
        for _ in 0..<10 { #expect(Self.vote(server).status == 303) }
        #expect(try Self.recorded(cluster) == settled + 10)
        print(
            "database crash: \(all.count) ballots, \(acknowledged) acknowledged, \(failed.count) failed (\(unconfirmed) "
                + "unconfirmed), slowest \(slowest) s, ready again \(recovery) s after the restart")
    }

    @Test func aServerStartedWhileTheDatabaseIsDownWaitsForIt() throws {
        let cluster = try PrivatePostgres()
        try cluster.stopImmediately()
        let directory = try TemporaryDirectory()

        // Down for good: it retries, then gives up when --database-start-timeout passes.
        let started = ContinuousClock.now
        let refused = try Executable.start([
            "serve", "--port", "0", "--database", cluster.url, "--charts-dir", directory.path + "/piecharts",
            "--database-start-timeout", "2",
        ]).finish(within: .seconds(30))
        let took = Self.seconds(ContinuousClock.now - started)
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("--database-start-timeout"), "\(refused.standardError)")
        #expect(refused.standardError.contains("not reachable yet"), "no retry was logged: \(refused.standardError)")
        #expect(took >= 2 && took < 15, "gave up after \(took) s")

        // Down for a while: it waits, logging each try, and serves once the database is there.
        DispatchQueue.global().asyncAfter(deadline: .now() + 3) { try? cluster.start() }
        let server = try Self.serve(cluster, directory, ["--database-start-timeout", "60"])
        defer { server.stop() }
        #expect(server.log.contains("not reachable yet"), "no retry was logged")
        #expect(try server.get("/readyz").status == 200)
        #expect(Self.vote(server).status == 303)
    }
}
