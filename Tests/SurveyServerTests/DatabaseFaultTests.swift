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
        /// What was sent: a form's answers with a receipt of its own.
        var body = ""
        /// The receipt of the form a 503 gave back, filled in, to send again.
        var formReceipt: String?
        /// That form has the answers sent chosen.
        var chosenAsSent = false
        /// That form's answers are locked (`disabled`) and go again as sent, in hidden fields.
        var sentAsIs = false
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
        // 22 base64url characters, as a form's receipt is.
        let receipt = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(22))
        let body = "q3=7&q4=11&receipt=\(receipt)"
        do {
            let response = try server.post("/surveys/2", body: body)
            let marker = "<input type=\"hidden\" name=\"receipt\" value=\""
            return Answer(
                status: response.status, seconds: Self.seconds(ContinuousClock.now - start),
                retryAfter: response.header("Retry-After"),
                unconfirmed: response.text.contains("may or may not have been counted"), body: body,
                formReceipt: response.text.range(of: marker).map { String(response.text[$0.upperBound...].prefix(22)) },
                chosenAsSent: response.text.contains("name=\"q3\" value=\"7\" checked")
                    && response.text.contains("name=\"q4\" value=\"11\" checked"),
                sentAsIs: response.text.contains("<input type=\"hidden\" name=\"q3\" value=\"7\">")
                    && response.text.contains("<input type=\"hidden\" name=\"q4\" value=\"11\">")
                    && response.text.contains(" disabled>"))
        } catch {
            return Answer(
                status: -1, seconds: Self.seconds(ContinuousClock.now - start), unconfirmed: false,
                error: "\(error)", body: body)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Votes for answer 7 (question 3 of the demo's open survey), from the database itself.
    static func recorded(_ cluster: PrivatePostgres, answer: Int = 7) throws -> Int {
        Int(
            try TestPostgres.psql(cluster.url, "SELECT votes FROM answer WHERE id = \(answer)").trimmingCharacters(
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

    /// Voters voting until stopped, each answer kept.
    final class Voters: @unchecked Sendable {
        let answers = Mutex<[(at: ContinuousClock.Instant, answer: Answer)]>([])
        private let running = Atomic<Bool>(true)
        private let done = DispatchGroup()

        init(_ count: Int, _ server: ServerProcess) {
            for _ in 0..<count {
                done.enter()
                Thread.detachNewThread { [self] in
                    while running.load(ordering: .relaxed) {
                        let answer = DatabaseFaultTests.vote(server)
                        answers.withLock { $0.append((.now, answer)) }
                        if answer.status != 303 { usleep(50_000) }  // as a browser would, not a flood
                    }
                    done.leave()
                }
            }
        }

        /// Stops them and waits (bounded) for the last answers; false if one hung.
        @discardableResult
        func stop() -> Bool {
            running.store(false, ordering: .relaxed)
            return done.wait(timeout: .now() + 30) == .success
        }

        var all: [Answer] { answers.withLock { $0.map(\.answer) } }
        func since(_ instant: ContinuousClock.Instant) -> [Answer] {
            answers.withLock { $0.filter { $0.at >= instant }.map(\.answer) }
        }
    }

    @Test func aCrashAndAHangUnderLoadLoseNoAcknowledgedBallotAndTheServerRecoversByItself() throws {
        let cluster = try PrivatePostgres()
        let directory = try TemporaryDirectory()
        let server = try Self.serve(cluster, directory)
        defer { server.stop() }
        // A completed survey's results page and one of its charts, cached before the faults.
        #expect(try server.get("/surveys/1").status == 200)
        let chart = try #require(try server.results(1).questions.first?.chart["1x"])
        #expect(try server.get(chart).status == 200)
        let before = (try Self.recorded(cluster), try Self.recorded(cluster, answer: 11))

        let voters = Voters(8, server)
        defer { voters.stop() }  // first of the defers: no voter outlives the server
        usleep(1_500_000)
        let acknowledgedBeforeTheCrash = voters.all.filter { $0.status == 303 }.count
        try cluster.stopImmediately()
        let crashed = ContinuousClock.now

        // While it is down: the ballots' failures are counted (scraping /metrics does not probe),
        // the process is alive but not ready, and what does not need the database serves.
        usleep(1_000_000)
        let failures = try server.metric("surveycharts_database_failures_total") ?? 0
        #expect(failures > 0, "the failed ballots were not counted in /metrics")
        #expect(Self.status(server, "/healthz") == 200)
        let notReady = try server.get("/readyz")
        #expect(notReady.status == 503 && notReady.text.contains("the database does not answer"), "\(notReady.text)")
        #expect(Self.status(server, "/surveys/1") == 200, "the cached results page stopped serving")
        #expect(Self.status(server, chart) == 200, "a chart on disk stopped serving")
        #expect(Self.status(server, "/static/style.css") == 200)
        // Longer than the page cache's lifetime (5 s): held pages and charts still serve.
        while ContinuousClock.now - crashed < .milliseconds(6_000) { usleep(100_000) }
        #expect(Self.status(server, "/surveys/1") == 200, "the results page stopped serving after its lifetime")
        #expect(Self.status(server, chart) == 200, "a chart on disk stopped serving after its lookup's lifetime")
        try cluster.start()

        // It recovers by itself within a few seconds, without a restart.
        let restarted = ContinuousClock.now
        #expect(
            Self.eventually(within: 10) { voters.since(restarted).contains { $0.status == 303 } },
            "no ballot was taken after PostgreSQL came back")
        let recovery = Self.seconds(ContinuousClock.now - restarted)
        #expect(recovery <= 5, "ballots were taken again only \(recovery) s after the restart")
        #expect(Self.eventually(within: 5) { Self.status(server, "/readyz") == 200 }, "/readyz stayed not ready")
        let duringTheCrash = voters.since(crashed).filter { $0.status != 303 }.count

        // Then it hangs (SIGSTOP) for twice the deadline: no ballot waits past its deadline.
        usleep(500_000)
        try cluster.freeze()
        let frozen = ContinuousClock.now
        usleep(UInt32(Self.deadline * 2_000_000))
        try cluster.thaw()
        let thawed = ContinuousClock.now
        #expect(
            Self.eventually(within: 10) { voters.since(thawed + .seconds(1)).contains { $0.status == 303 } },
            "no ballot was taken after the database thawed")
        let duringTheHang = voters.since(frozen).filter { $0.status != 303 }
        #expect(voters.stop(), "a voter hung")

        let all = voters.all
        let acknowledged = all.filter { $0.status == 303 }.count
        let failed = all.filter { $0.status != 303 }
        let unconfirmed = failed.filter(\.unconfirmed).count
        #expect(acknowledgedBeforeTheCrash > 0 && duringTheCrash > 0 && !duringTheHang.isEmpty)
        // Every answer is a 303 or a 503 with Retry-After, never later than the deadline (a little
        // slack for a loaded machine), and nothing hung or broke.
        #expect(failed.allSatisfy { $0.status == 503 && $0.retryAfter != nil }, "\(Set(failed.map(\.status)))")
        let slowest = all.map(\.seconds).max() ?? 0
        #expect(slowest <= Self.deadline + 1.5, "a ballot took \(slowest) s; the deadline is \(Self.deadline) s")
        #expect(!all.contains { $0.error != nil }, "\(all.compactMap(\.error).prefix(3))")
        // Every acknowledged ballot is in the database, whole; only unconfirmed ones may be there besides.
        let counted = try Self.recorded(cluster) - before.0
        #expect(try Self.recorded(cluster, answer: 11) - before.1 == counted, "a ballot was counted in part")
        #expect(counted >= acknowledged, "\(acknowledged) acknowledged, \(counted) recorded")
        #expect(
            counted <= acknowledged + unconfirmed,
            "\(acknowledged) acknowledged + \(unconfirmed) unconfirmed < \(counted) recorded")

        // Each refused ballot's page gave its form back, with the receipt it was sent with (or
        // said what happened, when the survey could not be read). Every form sent again counts
        // once in all: the voters' ballots are then all counted, each exactly once.
        let formsBack = failed.filter { $0.formReceipt != nil }
        #expect(!formsBack.isEmpty, "no refused ballot got its form back")
        for answer in formsBack { #expect(answer.body.hasSuffix("receipt=\(answer.formReceipt!)"), "\(answer.body)") }
        #expect(formsBack.allSatisfy { $0.chosenAsSent }, "a form came back without the answers sent")
        // One that may have counted above all: sent again under its receipt, it counts once, so
        // its answers go again as they were (other answers under it would be another ballot).
        #expect(
            failed.filter(\.unconfirmed).allSatisfy { $0.formReceipt != nil && $0.sentAsIs },
            "an unconfirmed ballot lost its form")
        #expect(!failed.contains { !$0.unconfirmed && $0.sentAsIs }, "an unrecorded ballot's answers were locked")
        // Sent again as a person would: after a 503, again once its Retry-After has passed.
        var sentAgain = 0
        for answer in failed {
            var status = 0
            for _ in 0..<5 where status != 303 {
                let again = try server.post("/surveys/2", body: answer.body)
                status = again.status
                sentAgain += 1
                if status == 503 { usleep(UInt32(min(Int(again.header("Retry-After") ?? "1") ?? 1, 2)) * 1_000_000) }
            }
            #expect(status == 303, "sent again: \(status)")
        }
        #expect(try Self.recorded(cluster) - before.0 == all.count, "\(all.count) ballots in all")
        #expect(try Self.recorded(cluster, answer: 11) - before.1 == all.count)

        // And counts are exact afterwards.
        let settled = try Self.recorded(cluster)
        for _ in 0..<10 { #expect(Self.vote(server).status == 303) }
        #expect(try Self.recorded(cluster) == settled + 10)
        print(
            "database faults: \(all.count) ballots, \(acknowledged) acknowledged, \(failed.count) failed "
                + "(\(duringTheCrash) in the crash, \(duringTheHang.count) in the hang, \(unconfirmed) unconfirmed), "
                + "\(formsBack.count) given their form back; all \(all.count) counted once after sending "
                + "\(sentAgain) times again; "
                + "slowest \(slowest) s, ballots again \(recovery) s after the restart")
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
        #expect(took >= 2 && took < 5, "gave up after \(took) s with --database-start-timeout 2")

        // A lasting refusal (no such database) is not waited for.
        let wrong = try Executable.start([
            "serve", "--port", "0", "--database", cluster.url.replacingOccurrences(of: "/postgres", with: "/missing"),
            "--charts-dir", directory.path + "/piecharts", "--database-start-timeout", "60",
        ])
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { try? cluster.start() }
        let missing = try wrong.finish(within: .seconds(20))
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("does not exist"), "\(missing.standardError)")
        try cluster.stopImmediately()

        // Down for a while: it waits, logging each try, and serves once the database is there.
        let starting = FailureLog()
        DispatchQueue.global().asyncAfter(deadline: .now() + 3) {
            do { try cluster.start() } catch { starting.add("\(error)") }
        }
        let server = try Self.serve(cluster, directory, ["--database-start-timeout", "60"])
        defer { server.stop() }
        #expect(starting.all.isEmpty, "\(starting.all)")
        #expect(server.logContains("not reachable yet"), "no retry was logged")
        #expect(try server.get("/readyz").status == 200)
        #expect(Self.vote(server).status == 303)
    }
}
