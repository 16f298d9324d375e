import ContentEncoding
import Foundation
import Surveys
import Synchronization
import TestSupport
import Testing

/// The multi-process deployment of `deploy/`, run for real: nginx (Debian's nginx-light) with
/// `deploy/nginx.conf` in front of two `surveycharts serve` processes on one PostgreSQL database,
/// sharing this node's chart directory.
@Suite("Deployment: nginx in front of two servers on PostgreSQL", .serialized, .timeLimit(.minutes(4)))
struct DeploymentTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// nginx, two apps, one database.
    final class Deployment: @unchecked Sendable {
        let directory: TemporaryDirectory
        let database: String
        private(set) var apps: [ServerProcess]
        let common: [String]
        let nginx = Process()
        let port: Int
        /// The password of the site's operator, `ops`.
        static let operatorPassword = "operator-password-1"
        var charts: String { directory.path + "/piecharts" }
        /// What nginx has logged as errors so far.
        var errorLog: String {
            (try? String(contentsOfFile: directory.path + "/error.log", encoding: .utf8)) ?? ""
        }

        /// With `firstUpstream`, nginx's first upstream line names that port instead of the first
        /// app's (which still runs, and shares the database).
        init(firstUpstream: Int? = nil) throws {
            let cluster = try #require(TestPostgres.clusterURL, Comment(rawValue: TestPostgres.missing))
            let nginxPath = try #require(
                ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) },
                "nginx is missing: `make test` installs nginx-light")
            directory = try TemporaryDirectory()
            // nginx's workers run as an unprivileged user: they must be able to reach the charts.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
            database = try TestPostgres.freshDatabase(cluster)
            let adding = try Executable.start(["user", "add", "ops", "--password-stdin", "--database", database])
            adding.input(Deployment.operatorPassword + "\n")
            #expect(try adding.finish().status == 0)
            common = [
                "--database", database, "--charts-dir", directory.path + "/piecharts", "--static-dir",
                DeploymentTests.packageRoot + "/static", "--today", ServerTests.today, "--no-prerender",
                "--trusted-proxy", "127.0.0.1", "--no-access-log",
            ]
            // The first loads the demo surveys into the empty database; the second finds them.
            let first = try ServerProcess(common)
            apps = [first, try ServerProcess(common + ["--no-demo"])]
            port = try BrowserSession.freePort()
            let configuration = try Self.configuration(
                directory: directory.path, port: port, apps: [firstUpstream ?? apps[0].port, apps[1].port],
                static: DeploymentTests.packageRoot)
            let configurationPath = directory.path + "/nginx.conf"
            try configuration.write(toFile: configurationPath, atomically: true, encoding: .utf8)
            nginx.executableURL = URL(fileURLWithPath: nginxPath)
            nginx.arguments = ["-c", configurationPath, "-p", directory.path, "-g", "daemon off;"]
            nginx.standardOutput = FileHandle.nullDevice
            nginx.standardError = FileHandle.nullDevice
            try nginx.run()
            let deadline = Date().addingTimeInterval(10)
            while (try? RawHTTP.send(port: port, target: "/healthz", stopAfterOneResponse: true).status) != 200 {
                guard Date() < deadline, nginx.isRunning else {
                    let log = (try? String(contentsOfFile: directory.path + "/error.log", encoding: .utf8)) ?? ""
                    throw RawHTTP.Failure(description: "nginx did not start: \(log)")
                }
                usleep(50_000)
            }
        }

        deinit {
            if nginx.isRunning {
                // nginx unblocks the signals it handles: SIGTERM stops the master and its workers
                // (SIGKILL would leave the workers behind).
                kill(nginx.processIdentifier, SIGTERM)
                let deadline = Date().addingTimeInterval(5)
                while nginx.isRunning && Date() < deadline { usleep(20_000) }
                if nginx.isRunning { kill(nginx.processIdentifier, SIGKILL) }
                nginx.waitUntilExit()
            }
            for app in apps { app.stop() }
        }

        /// `deploy/nginx.conf` with the lines marked "deployment test:" pointed at this test's
        /// directories and ports; everything else is the file as committed.
        static func configuration(directory: String, port: Int, apps: [Int], static root: String) throws -> String {
            let text = try String(contentsOfFile: root + "/deploy/nginx.conf", encoding: .utf8)
            var appLines = apps.makeIterator()
            var replaced = 0
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                guard let marker = line.range(of: "# deployment test: ") else { return String(line) }
                replaced += 1
                let indent = String(line.prefix { $0 == " " })
                switch line[marker.upperBound...] {
                case "pid": return indent + "pid \(directory)/nginx.pid;"
                case "error_log": return indent + "error_log \(directory)/error.log;"
                case "access_log": return indent + "access_log \(directory)/access.log combined buffer=64k flush=1s;"
                case "listen": return indent + "listen 127.0.0.1:\(port);"
                case "charts root": return indent + "root \(directory);"
                case "static": return indent + "alias \(root)/static/;"
                default:
                    guard let app = appLines.next() else { return "" }
                    return indent + "server 127.0.0.1:\(app) max_fails=1 fail_timeout=1s;"
                }
            }
            #expect(replaced == 8, "deploy/nginx.conf lost a line the deployment test replaces")
            // nginx's temporary files go to the test's directory too.
            return lines.joined(separator: "\n").replacingOccurrences(
                of: "    server_tokens off;",
                with: "    server_tokens off;\n    client_body_temp_path \(directory)/body;\n"
                    + "    proxy_temp_path \(directory)/proxy;")
        }

        /// Stops app `index` (SIGTERM: it drains) and starts a new one on its port; how long the
        /// stop took, and its exit status.
        func restart(_ index: Int) throws -> (seconds: Double, status: Int32) {
            let port = apps[index].port
            let started = ContinuousClock.now
            let status = apps[index].stop()
            let took = ContinuousClock.now - started
            apps[index] = try ServerProcess(common + ["--no-demo"], port: port)
            return (Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18, status)
        }

        /// A request through nginx. The client does not half-close its side (nginx takes that for
        /// a client that went away, 499), so it reads exactly one response.
        func get(_ target: String, headers: [String: String] = [:]) throws -> RawHTTPResponse {
            try RawHTTP.send(port: port, target: target, headers: headers, stopAfterOneResponse: true)
        }

        /// One ballot through nginx; with a `receipt` as the vote form sends it, or without (as
        /// the seed's load test did).
        func vote(receipt: BallotReceipt? = nil) throws -> Int {
            let fields = "q3=7&q4=12" + (receipt.map { "&receipt=\($0.text)" } ?? "")
            return try RawHTTP.send(
                port: port, method: "POST", target: "/surveys/2",
                headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Array(fields.utf8),
                stopAfterOneResponse: true
            ).status
        }

        func votes() throws -> [[Int]] {
            let result = try Executable.run(["export", "--database", database])
            let document = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
            let survey = (document?["surveys"] as? [[String: Any]])?.first { $0["id"] as? Int == 2 }
            return (survey?["questions"] as? [[String: Any]] ?? []).map { question in
                (question["answers"] as? [[String: Any]] ?? []).map { $0["votes"] as? Int ?? 0 }
            }
        }

        /// A counter from one app's /metrics, summed over its label sets.
        static func counter(_ app: ServerProcess, _ name: String, matching: String = "") throws -> Int {
            Int(try app.metric(name, matching: matching) ?? 0)
        }
    }

    /// Runs `body` on `threads` threads at once and waits for all.
    static func together(_ threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchGroup()
        for thread in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                body(thread)
                done.leave()
            }
        }
        done.wait()
    }

    @Test func ballotsChartsAndAProcessKilledMidLoad() throws {
        let site = try Deployment()

        // The seed's load test through nginx: 15 clients × 5 ballots, every one counted.
        let failures = FailureLog()
        Self.together(15) { _ in
            for _ in 0..<5 {
                do {
                    let status = try site.vote()
                    if status != 303 { failures.add("status \(status)") }
                } catch { failures.add("\(error)") }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        #expect(try site.votes() == [[75, 0, 0, 0], [0, 75, 0, 0]])
        // Both processes took ballots.
        for app in site.apps {
            #expect(try Deployment.counter(app, "surveycharts_http_requests_total", matching: "method=\"POST\"") > 0)
        }

        // A cold chart, requested 200 times at once through nginx: drawn once, never partial.
        let json = try site.get("/surveys/1/results.json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])
        let chart = try #require(
            ((document["questions"] as? [[String: Any]])?.first?["chart"] as? [String: String])?["2x"])
        #expect(!FileManager.default.fileExists(atPath: site.directory.path + chart))
        let bodies = Mutex<[[UInt8]]>([])
        let statuses = Mutex<[Int]>([])
        Self.together(200) { _ in
            let response = try? site.get(chart)
            statuses.withLock { $0.append(response?.status ?? -1) }
            bodies.withLock { $0.append(response?.body ?? []) }
        }
        #expect(statuses.withLock { $0 }.allSatisfy { $0 == 200 }, "\(statuses.withLock { Set($0) })")
        let onDisk = try Array(Data(contentsOf: URL(fileURLWithPath: site.directory.path + chart)))
        #expect(bodies.withLock { $0 }.allSatisfy { $0 == onDisk }, "a response differed from the published file")
        #expect(Array(onDisk.suffix(8)) == [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82], "the PNG is complete")
        let renders = try site.apps.reduce(0) { $0 + (try Deployment.counter($1, "surveycharts_chart_renders_total")) }
        let cacheLines = try site.apps.map {
            try RawHTTP.send(port: $0.metricsPort, target: "/metrics").text.split(separator: "\n").filter {
                $0.contains("chart_") && !$0.hasPrefix("#")
            }
        }
        #expect(renders == 1, "the chart was drawn \(renders) times: \(cacheLines)")

        // Afterwards nginx serves it from disk with our headers; the apps do not see it.
        let chartRequests = try site.apps.reduce(0) {
            $0 + (try Deployment.counter($1, "surveycharts_http_requests_total", matching: "route=\"chart\""))
        }
        let served = try site.get(chart)
        #expect(served.status == 200 && served.body == onDisk)
        #expect(served.header("Cache-Control") == "public, max-age=31536000, immutable")
        #expect(served.header("X-Content-Type-Options") == "nosniff")
        #expect(served.header("Content-Type") == "image/png")
        let etag = try #require(served.header("ETag"))
        #expect(!etag.hasPrefix("W/"), "a strong validator")
        let revalidated = try site.get(chart, headers: ["If-None-Match": etag])
        #expect(revalidated.status == 304)
        let chartRequestsAfter = try site.apps.reduce(0) {
            $0 + (try Deployment.counter($1, "surveycharts_http_requests_total", matching: "route=\"chart\""))
        }
        #expect(chartRequestsAfter == chartRequests, "nginx passed a chart it has on disk to the app")
        #expect(try site.get("/piecharts/" + ".\(chart.split(separator: "/").last!).pending").status == 404)
        let css = try site.get("/static/style.css")
        #expect(css.status == 200 && css.header("Cache-Control") == "public, max-age=86400")
        // Compressed for clients that take gzip: the CSS from its shipped .gz file (the very
        // bytes), the pages by the app, passed on as they are.
        let gzipped = try site.get("/static/style.css", headers: ["Accept-Encoding": "gzip, br"])
        let shipped = try Data(contentsOf: URL(fileURLWithPath: DeploymentTests.packageRoot + "/static/style.css.gz"))
        #expect(gzipped.header("Content-Encoding") == "gzip" && gzipped.body == Array(shipped))
        #expect(Gzip.decompress(gzipped.body, limit: 1 << 20) == css.body)
        let page = try site.get("/surveys/1", headers: ["Accept-Encoding": "gzip"])
        #expect(page.status == 200 && page.header("Content-Encoding") == "gzip")
        #expect(
            Gzip.decompress(page.body, limit: 1 << 20).map { String(decoding: $0, as: UTF8.self) }?
                .contains("Television Trends") == true)

        // Stable addresses through nginx: the app answers the 307, nginx serves the file; an SVG
        // keeps its own CSP whoever serves it.
        let stable = try site.get("/surveys/1/charts/1@2x.png")
        #expect(stable.status == 307 && stable.header("Location") == chart)
        #expect(stable.header("Cache-Control") == "public, max-age=60")
        let vector = try site.get("/surveys/1/charts/1.svg")
        let vectorFile = try #require(vector.header("Location"))
        for _ in 0..<2 {  // drawn by the app the first time, from disk by nginx the second
            let svg = try site.get(vectorFile)
            #expect(svg.status == 200 && svg.header("Content-Type") == "image/svg+xml")
            #expect(svg.header("Content-Security-Policy") == "default-src 'none'; style-src 'unsafe-inline'")
            #expect(svg.header("X-Content-Type-Options") == "nosniff")
            let compressed = try site.get(vectorFile, headers: ["Accept-Encoding": "gzip"])
            #expect(compressed.header("Content-Encoding") == "gzip")
            #expect(compressed.header("Vary")?.contains("Accept-Encoding") == true)
            #expect(Gzip.decompress(compressed.body, limit: 1 << 22) == svg.body)
        }
        let report = try site.get(try #require(try site.get("/surveys/1/report.pdf").header("Location")))
        #expect(report.status == 200 && report.header("Content-Type") == "application/pdf")

        // One process killed in the middle of the load: no ballot fails, none is lost, none counts
        // twice. nginx sends the ballots the victim took unanswered to the process that is left,
        // whose store knows each receipt it had committed. The kill waits until this load's
        // ballots are being acknowledged and the victim has answered some of them, and every
        // voter goes on until it has sent ballots after the victim is gone, so the kill lands
        // mid-load however fast or slow the machine is; the timestamps below prove it did.
        let before = try site.votes()
        let victimApp = site.apps[0]
        let survivor = site.apps[1]
        let victim = victimApp.process.processIdentifier
        @Sendable func ballotsAnswered(by app: ServerProcess) throws -> Int {
            try Deployment.counter(app, "surveycharts_http_requests_total", matching: "method=\"POST\"")
        }
        let victimBallotsBefore = try ballotsAnswered(by: victimApp)
        let survivorBallotsBefore = try ballotsAnswered(by: survivor)
        let record = KillRecord()
        Self.together(9) { thread in
            if thread == 8 {
                let giveUp = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < giveUp {
                    let victimBallots = (try? ballotsAnswered(by: victimApp)) ?? 0
                    if record.acknowledged >= 40 && victimBallots > victimBallotsBefore { break }
                    usleep(5_000)
                }
                record.killed(at: ContinuousClock.now)
                kill(victim, SIGKILL)
                // Gone means reaped: no thread of it can take or commit a ballot any more.
                _ = ChildProcess.waitForExit(victimApp.process, until: ContinuousClock.now + .seconds(10))
                record.gone(at: ContinuousClock.now)
                return
            }
            // At least 60 ballots each, and 10 sent after the victim is gone; never more than 400.
            var sent = 0
            var sentAfterGone = 0
            while sent < 400 && (sent < 60 || sentAfterGone < 10) {
                let started = ContinuousClock.now
                let status = (try? site.vote(receipt: .random())) ?? -1
                record.add(TimedBallot(started: started, ended: ContinuousClock.now, status: status))
                sent += 1
                if let gone = record.goneAt, started > gone { sentAfterGone += 1 }
            }
        }
        let after = try site.votes()
        let counted = after[0][0] - before[0][0]
        let killedAt = try #require(record.killedAt)
        let goneAt = try #require(record.goneAt)
        let ballots = record.ballots
        let acknowledged = ballots.filter { $0.status == 303 }
        let failed = ballots.filter { $0.status != 303 }
        let acknowledgedBeforeKill = acknowledged.filter { $0.ended < killedAt }.count
        let acknowledgedAfterGone = acknowledged.filter { $0.started > goneAt }.count
        let failedBeforeKill = failed.filter { $0.ended < killedAt }.count
        let failedAfterGone = failed.filter { $0.started > goneAt }.count
        // Only these can have reached the victim and been committed without an answer.
        let failedInFlight = failed.filter { $0.started <= goneAt && $0.ended >= killedAt }.count
        let survivorBallots = try ballotsAnswered(by: survivor) - survivorBallotsBefore
        let summary =
            "\(ballots.count) ballots: \(acknowledged.count) acknowledged (\(acknowledgedBeforeKill) before the kill, "
            + "\(acknowledgedAfterGone) sent after the victim was gone), \(failed.count) failed (\(failedBeforeKill) "
            + "before the kill, \(failedInFlight) in flight, \(failedAfterGone) after); \(counted) counted; process "
            + "\(victim) killed after \(record.acknowledgedAtKill) acknowledgements"
        print("deployment: " + summary)
        // The kill landed mid-load: ballots were acknowledged before it, and ballots sent after the
        // victim was gone were acknowledged too, by the process that is left.
        #expect(acknowledgedBeforeKill > 0, "the kill came before the load: \(summary)")
        #expect(acknowledgedAfterGone > 0, "nothing sent after the kill was acknowledged: \(summary)")
        #expect(survivorBallots >= acknowledgedAfterGone, "the survivor answered \(survivorBallots): \(summary)")
        // Every ballot is acknowledged and counted exactly once, both of its choices.
        #expect(failed.isEmpty, "ballots failed: \(summary); nginx: \(site.errorLog.suffix(1500))")
        #expect(counted == acknowledged.count, "acknowledged ballots were lost or counted twice: \(summary)")
        #expect(after[1][1] - before[1][1] == counted, "a ballot was counted in part: \(before) then \(after)")
        #expect(try site.vote() == 303)
    }

    /// One ballot of the kill test: when it was sent, when its answer came, and the answer.
    struct TimedBallot: Sendable {
        var started: ContinuousClock.Instant
        var ended: ContinuousClock.Instant
        var status: Int
    }

    /// The ballots of the kill test as its voters recorded them, and the instants of the kill.
    final class KillRecord: Sendable {
        private struct State {
            var ballots: [TimedBallot] = []
            var acknowledged = 0
            var acknowledgedAtKill = 0
            var killedAt: ContinuousClock.Instant?
            var goneAt: ContinuousClock.Instant?
        }
        private let state = Mutex(State())

        func add(_ ballot: TimedBallot) {
            state.withLock {
                $0.ballots.append(ballot)
                if ballot.status == 303 { $0.acknowledged += 1 }
            }
        }
        /// Just before the SIGKILL.
        func killed(at instant: ContinuousClock.Instant) {
            state.withLock {
                $0.killedAt = instant
                $0.acknowledgedAtKill = $0.acknowledged
            }
        }
        /// Once the victim has been reaped.
        func gone(at instant: ContinuousClock.Instant) { state.withLock { $0.goneAt = instant } }
        var ballots: [TimedBallot] { state.withLock { $0.ballots } }
        var acknowledged: Int { state.withLock { $0.acknowledged } }
        var acknowledgedAtKill: Int { state.withLock { $0.acknowledgedAtKill } }
        var killedAt: ContinuousClock.Instant? { state.withLock { $0.killedAt } }
        var goneAt: ContinuousClock.Instant? { state.withLock { $0.goneAt } }
    }

    /// Each app restarted in turn (SIGTERM, then a new process on its port) under pages, charts
    /// and ballots through nginx: no request fails, and every ballot is counted exactly once.
    ///
    /// A ballot can reach a stopping process and never be read: when a process closes its
    /// listener, connections the kernel had completed but the process not yet accepted are reset,
    /// and an idle keep-alive connection it closes may cross a ballot on its way. nginx sends such
    /// a ballot to the other process (`non_idempotent` on the ballot route), which the ballot's
    /// receipt makes safe. The test counts how often that happened.
    @Test func rollingRestartsFailNoRequestAndLoseNoBallot() throws {
        let site = try Deployment()
        let json = try site.get("/surveys/1/results.json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])
        let charts = (document["questions"] as? [[String: Any]] ?? []).compactMap {
            ($0["chart"] as? [String: String])?["1x"]
        }
        let targets = ["/", "/surveys/1", "/surveys/2", "/static/style.css", "/surveys/1/results.json"] + charts
        let before = try site.votes()[0][0]
        let running = Atomic<Bool>(true)
        let failures = FailureLog()
        let requests = Atomic<Int>(0)
        let acknowledged = Atomic<Int>(0)
        let clients = DispatchGroup()
        // Whatever happens below, no client outlives the test (they hold `site`, and so nginx).
        defer {
            running.store(false, ordering: .relaxed)
            _ = clients.wait(timeout: .now() + 30)
        }
        for client in 0..<6 {
            clients.enter()
            Thread.detachNewThread {
                var turn = client
                while running.load(ordering: .relaxed) {
                    turn += 1
                    do {
                        if client < 3 {
                            let target = targets[turn % targets.count]
                            let status = try site.get(target).status
                            if status != 200 { failures.add("GET \(target): \(status)") }
                        } else {
                            let status = try site.vote(receipt: .random())
                            if status == 303 {
                                acknowledged.add(1, ordering: .relaxed)
                            } else {
                                failures.add("POST /surveys/2: \(status)")
                            }
                        }
                    } catch {
                        failures.add("\(error)")
                    }
                    requests.add(1, ordering: .relaxed)
                }
                clients.leave()
            }
        }
        usleep(1_000_000)
        var stops: [(seconds: Double, status: Int32)] = []
        // As the README says to: the next process stops only once the last one is ready again and
        // nginx's fail_timeout (1 s) has passed, so it is back in rotation.
        for index in site.apps.indices {
            stops.append(try site.restart(index))
            #expect(try site.apps[index].get("/readyz").status == 200)
            // Back in rotation: nginx has sent it ballots again (within 10 s), then a second more.
            let back = Date().addingTimeInterval(10)
            while (try? Deployment.counter(
                site.apps[index], "surveycharts_http_requests_total", matching: "method=\"POST\"")) ?? 0 == 0,
                Date() < back
            {
                usleep(100_000)
            }
            usleep(1_000_000)
        }
        running.store(false, ordering: .relaxed)
        #expect(clients.wait(timeout: .now() + 30) == .success, "a client hung")

        let nginxErrors = site.errorLog
        #expect(
            failures.all.isEmpty,
            "\(failures.all.count) failed: \(failures.all.prefix(5)); nginx: \(nginxErrors.suffix(1500))")
        // The ballots nginx sent again: read by no process (reset, or closed unread) the first time.
        let sentAgain = nginxErrors.split(separator: "\n").filter {
            $0.contains("while reading response header from upstream") && $0.contains("request: \"POST /surveys/2 ")
        }.count
        #expect(stops.allSatisfy { $0.status == 0 && $0.seconds < 10 }, "\(stops)")
        let counted = try site.votes()[0][0] - before
        let answered = acknowledged.load(ordering: .relaxed)
        #expect(counted == answered, "\(answered) acknowledged, \(counted) counted")
        // The new processes took traffic from nginx (not only the test's own /readyz).
        for app in site.apps {
            #expect(try Deployment.counter(app, "surveycharts_http_requests_total", matching: "method=\"POST\"") > 0)
        }
        print(
            "rolling restarts: \(requests.load(ordering: .relaxed)) requests, \(counted) ballots counted, "
                + "\(sentAgain) ballots sent again to the other process, stops took \(stops.map(\.seconds))"
        )
    }

    /// A ballot that reached a process which never answered (it read the request and closed, as
    /// a process does that dies or stops listening) is resent by nginx to the other process, and
    /// counted once; a sign-in is never resent. The Origin check still holds behind nginx.
    @Test func aBallotNoProcessAnsweredIsResentAndASignInIsNot() throws {
        let silent = try SilentUpstream()
        defer { silent.stop() }
        let site = try Deployment(firstUpstream: silent.port)
        let before = try site.votes()[0][0]
        // nginx tries an upstream that failed again after its fail_timeout (1 s): a pause before
        // each request gives the silent one its turn.
        var ballots: [Int] = []
        for attempt in 0..<4 {
            usleep(1_100_000)
            ballots.append(try site.vote(receipt: attempt % 2 == 0 ? .random() : nil))
        }
        #expect(ballots == [303, 303, 303, 303])
        #expect(silent.requests.contains { $0.hasPrefix("POST /surveys/2 ") }, "\(silent.requests)")
        #expect(try site.votes()[0][0] - before == 4)
        var signIns: [(status: Int, reachedSilent: Bool)] = []
        for _ in 0..<6 where !signIns.contains(where: \.reachedSilent) {
            usleep(1_100_000)
            let seen = silent.requests.count
            let status = try RawHTTP.send(
                port: site.port, method: "POST", target: "/admin/login",
                headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: Array("name=ops&password=\(Deployment.operatorPassword)".utf8), stopAfterOneResponse: true
            ).status
            signIns.append((status, silent.requests.count > seen))
        }
        #expect(signIns.contains { $0.reachedSilent }, "no sign-in reached the silent upstream: \(signIns)")
        for signIn in signIns { #expect(signIn.status == (signIn.reachedSilent ? 502 : 303), "\(signIns)") }
        let sameOrigin = try RawHTTP.send(
            port: site.port, method: "POST", target: "/surveys/2",
            headers: [
                "Content-Type": "application/x-www-form-urlencoded", "Origin": "http://127.0.0.1:\(site.port)",
            ], body: Array("q3=7&q4=12".utf8), stopAfterOneResponse: true)
        #expect(sameOrigin.status == 303)
    }

    /// An upstream that reads each request and closes the connection without answering.
    final class SilentUpstream: @unchecked Sendable {
        let port: Int
        private let listener: Int32
        private let seen = Mutex<[String]>([])
        private let done = DispatchSemaphore(value: 0)

        /// The request lines it has read.
        var requests: [String] { seen.withLock { $0 } }

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, length) == 0 && listen(descriptor, 16) == 0
                        && getsockname(descriptor, $0, &length) == 0
                }
            }
            guard bound else {
                close(descriptor)
                throw RawHTTP.Failure(description: "the silent upstream cannot listen: errno \(errno)")
            }
            listener = descriptor
            port = Int(UInt16(bigEndian: address.sin_port))
            Thread.detachNewThread { [self] in
                while true {
                    let connection = accept(listener, nil, nil)
                    guard connection >= 0 else { break }  // the listener was shut down
                    var timeout = timeval(tv_sec: 5, tv_usec: 0)
                    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    let count = recv(connection, &buffer, buffer.count, 0)
                    if count > 0 {
                        let line = String(decoding: buffer[..<count], as: UTF8.self).prefix { $0 != "\r" }
                        seen.withLock { $0.append(String(line)) }
                    }
                    close(connection)
                }
                done.signal()
            }
        }

        /// Stops accepting and waits (at most 10 s) for the accepting thread to end.
        func stop() {
            shutdown(listener, Int32(SHUT_RDWR))
            _ = done.wait(timeout: .now() + 10)
            close(listener)
        }
    }

    /// Behind the shipped nginx, each client is itself: one client's burst of wrong passwords
    /// runs at most five password checks and locks no one else out.
    @Test func behindNginxEachClientHasItsOwnBudget() throws {
        let site = try Deployment()
        // The operator signs in once from their browser (127.0.0.3), which keeps a device cookie.
        @Sendable func signIn(password: String, source: String, cookie: String? = nil) throws -> RawHTTPResponse {
            var headers = ["Content-Type": "application/x-www-form-urlencoded"]
            if let cookie { headers["Cookie"] = cookie }
            return try RawHTTP.send(
                port: site.port, method: "POST", target: "/admin/login", headers: headers,
                body: Array("name=ops&password=\(password)".utf8), stopAfterOneResponse: true, source: source)
        }
        let first = try signIn(password: Deployment.operatorPassword, source: "127.0.0.3")
        #expect(first.status == 303)
        let device = try #require(
            first.headers.first { $0.name.lowercased() == "set-cookie" && $0.value.hasPrefix("surveycharts_device=") })
        let statuses = FailureLog()
        Self.together(200) { _ in
            let status = (try? signIn(password: "wrong-password", source: "127.0.0.2").status) ?? -1
            statuses.add(String(status))
        }
        #expect(statuses.all.count == 200)
        // Two processes behind nginx, one store: five checks in all, every other attempt waits.
        #expect(statuses.all.filter { $0 == "401" }.count == 5, "\(statuses.all.filter { $0 == "401" }.count) checks")
        #expect(
            statuses.all.filter { $0 == "429" || $0 == "503" }.count == 195, "\(Set(statuses.all))")
        #expect(statuses.all.contains("429"))
        let known = try signIn(
            password: Deployment.operatorPassword, source: "127.0.0.3",
            cookie: String(device.value.split(separator: ";")[0]))
        #expect(known.status == 303, "\(known.status) \(known.text.prefix(200))")
        // Another client is not the attacker: its own budget for its own account is whole.
        let adding = try Executable.start(["user", "add", "second", "--password-stdin", "--database", site.database])
        adding.input("second-password-1\n")
        #expect(try adding.finish().status == 0)
        let other = try RawHTTP.send(
            port: site.port, method: "POST", target: "/admin/login",
            headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Array("name=second&password=second-password-1".utf8), stopAfterOneResponse: true, source: "127.0.0.4")
        #expect(other.status == 303)
        // /metrics is never served through nginx: its own 404, not the app's page.
        let metrics = try site.get("/metrics")
        #expect(metrics.status == 404)
        #expect(metrics.header("Content-Security-Policy") == nil)
    }

    @Test func theSystemdUnitsVerify() throws {
        let analyze = "/usr/bin/systemd-analyze"
        // A machine without systemd must fail here, not pass with the units unverified.
        try #require(
            FileManager.default.isExecutableFile(atPath: analyze),
            "systemd-analyze is missing (\(analyze)), so the units cannot be verified: install Debian's systemd")
        let directory = try TemporaryDirectory()
        for unit in ["surveycharts.service", "surveycharts@.service"] {
            let text = try String(contentsOfFile: Self.packageRoot + "/deploy/" + unit, encoding: .utf8)
            // The unit names the installed binary; verify it against the one just built.
            try text.replacingOccurrences(of: "/usr/local/bin/surveycharts", with: Executable.url("surveycharts").path)
                .write(toFile: directory.path + "/" + unit, atomically: true, encoding: .utf8)
        }
        let verify = try Executable.start(
            program: analyze,
            ["verify", directory.path + "/surveycharts.service", directory.path + "/surveycharts@8081.service"],
            environment: ["SYSTEMD_LOG_LEVEL": "info", "PATH": "/usr/bin:/bin"]
        ).finish(within: .seconds(60))
        let text = verify.standardOutput + verify.standardError
        #expect(verify.status == 0, "\(text)")
        // Unknown keys are only warnings to systemd: any message at all is a failure here.
        #expect(text.isEmpty, "\(text)")
    }
}
