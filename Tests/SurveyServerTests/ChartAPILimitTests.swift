import Foundation
import Synchronization
import TestSupport
import Testing

/// The public chart API is bounded: pixels, renders at once, requests per client, keys, and
/// the disk its charts take (least recently used removed first, question charts never).
@Suite("Chart API limits", .serialized, .timeLimit(.minutes(3)))
struct ChartAPILimitTests {
    static func spec(_ label: String, width: Int = 640, height: Int = 400, scale: Int = 1) -> String {
        """
        {"title": "\(label)", "slices": [{"label": "Yes \(label)", "value": 3}, {"label": "No", "value": 2}],
         "width": \(width), "height": \(height), "scale": \(scale)}
        """
    }

    static func post(_ server: ServerProcess, _ body: String, headers: [String: String] = [:]) throws -> RawHTTPResponse
    {
        try RawHTTP.send(
            port: server.port, method: "POST", target: "/api/charts/pie",
            headers: headers.merging(["Content-Type": "application/json"]) { $1 }, body: Array(body.utf8))
    }

    static func apiCharts(_ site: ServerTests.Site) throws -> [String: Int] {
        var sizes: [String: Int] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: site.charts) where name.hasPrefix("c-") {
            let attributes = try FileManager.default.attributesOfItem(atPath: site.charts + "/" + name)
            sizes[name] = attributes[.size] as? Int ?? 0
        }
        return sizes
    }

    @Test func tooManyPixelsIsABadSpec() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        for (width, height, scale) in [(4096, 4096, 1), (2048, 1024, 2), (1400, 1400, 2)] {
            let response = try Self.post(server, Self.spec("big", width: width, height: height, scale: scale))
            #expect(response.status == 400, "\(width)×\(height)@\(scale)")
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String]
            #expect(object?["error"] == "too_many_pixels" && object?["field"] == "width", "\(response.text)")
        }
        #expect(try Self.post(server, Self.spec("edge", width: 1024, height: 1024, scale: 2)).status == 200)
        #expect(try Self.apiCharts(site).count == 1)
    }

    /// One answer of the saturation test.
    struct LimitAnswer: Sendable {
        var status: Int
        /// The JSON error's `error` and `message` (nil and "" for a chart).
        var error: String?
        var message: String
        var retryAfter: String?
    }

    /// Far more huge renders asked for at once than may run at once: the limiter makes the rest
    /// wait, refuses those whose turn does not come within the chart deadline (503 with
    /// Retry-After), and memory stays bounded.
    @Test func renderingManyHugeChartsAtOnceStaysWithinMemory() throws {
        let site = try ServerTests.Site()
        // The server lets as many API renders run at once as it has cores (`rendersInFlight`).
        // A turn holds its permit for a whole 2048×2048 render, milliseconds at least, so within
        // the time the requests take to arrive plus a 0.25 s deadline each permit serves a few
        // dozen turns at most: a hundred requests per permit, all at once, must see refusals.
        let permits = max(1, ProcessInfo.processInfo.activeProcessorCount)
        // At most 400 threads, whatever the machine: beyond that the listen backlog, not the
        // limiter, would refuse.
        let clients = min(100 * permits, 400)
        // A rate limit far above the burst, so that only the renders limiter can refuse.
        let server = try site.serve(["--api-rate", "100000", "--chart-deadline", "0.25"])
        defer { server.stop() }
        let answers = Mutex<[LimitAnswer]>([])
        // One thread per request (not `concurrentPerform`, which runs only as many as there
        // are cores, and so never more requests at once than the limiter allows).
        DeploymentTests.together(clients) { index in
            let response = try? Self.post(server, Self.spec("huge \(index)", width: 2048, height: 2048))
            let object = (response?.status == 200 ? nil : response).flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any]
            }
            let answer = LimitAnswer(
                status: response?.status ?? -1, error: object?["error"] as? String,
                message: object?["message"] as? String ?? "", retryAfter: response?.header("Retry-After"))
            answers.withLock { $0.append(answer) }
        }
        let all = answers.withLock { $0 }
        let tally = Dictionary(grouping: all, by: \.status).mapValues(\.count)
        #expect(all.count == clients)
        #expect(all.allSatisfy { $0.status == 200 || $0.status == 503 }, "\(tally)")
        #expect(all.contains { $0.status == 200 }, "\(tally)")
        // Saturated: requests waited for a turn until the deadline and the limiter refused them
        // (its own 503; a 503 from the chart cache's deadline would not show the limiter at work).
        let refusedByLimiter = all.filter { $0.status == 503 && $0.message.contains("too many charts are being drawn") }
        #expect(!refusedByLimiter.isEmpty, "\(clients) requests at once, none refused by the limiter: \(tally)")
        // Every refusal is back-pressure: "busy", with when to try again.
        for refusal in all where refusal.status == 503 {
            #expect(refusal.error == "busy" && refusal.retryAfter == "1", "\(refusal)")
        }
        let status = try String(contentsOfFile: "/proc/\(server.process.processIdentifier)/status", encoding: .utf8)
        let peakKB =
            status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap {
                Int($0.split(separator: " ", omittingEmptySubsequences: true)[1])
            } ?? 0
        #expect(
            peakKB > 0 && peakKB < 300 * 1024,
            "peak RSS \(peakKB / 1024) MB with \(clients) huge renders asked for at once")
    }

    @Test func oneClientIsRateLimitedWith429() throws {
        let site = try ServerTests.Site()
        let server = try site.serve(["--api-rate", "2"])
        defer { server.stop() }
        var statuses: [Int] = []
        var retryAfter: String?
        for index in 0..<12 {
            let response = try Self.post(server, Self.spec("rate \(index % 3)"))
            statuses.append(response.status)
            if response.status == 429 { retryAfter = response.header("Retry-After") }
        }
        #expect(statuses.prefix(4).allSatisfy { $0 == 200 }, "the burst passes: \(statuses)")
        #expect(statuses.contains(429), "\(statuses)")
        #expect(retryAfter.flatMap(Int.init) ?? 0 >= 1)
        // Pages and ballots are not limited.
        #expect(try server.get("/").status == 200)
        #expect(try server.post("/surveys/2", body: "q3=7&q4=11").status == 303)
    }

    @Test func withKeysConfiguredRequestsNeedOne() throws {
        let site = try ServerTests.Site()
        let keys = try site.directory.write("keys.txt", "# chart API keys\nalpha-123\n\nbeta-456\n")
        let server = try site.serve(["--api-keys", keys])
        defer { server.stop() }
        let none = try Self.post(server, Self.spec("k"))
        #expect(none.status == 401 && none.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(none.header("Content-Type") == "application/json")
        #expect(try Self.post(server, Self.spec("k"), headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try Self.post(server, Self.spec("k"), headers: ["Authorization": "Bearer alpha-123"]).status == 200)
        #expect(try Self.post(server, Self.spec("k"), headers: ["X-API-Key": "beta-456"]).status == 200)
        let empty = try site.directory.write("empty.txt", "# nothing\n")
        let refused = try Executable.refusedServe(["--api-keys", empty] + site.scratchArguments)
        #expect(refused.status == 65 && refused.standardError.contains("holds no key"))
    }

    /// A render whose request gave up (its deadline passed) still publishes its chart: the
    /// writer counts it against the budget, so charts nobody waited for cannot fill the disk.
    @Test func rendersThatOutliveTheirRequestStayWithinTheBudget() throws {
        let site = try ServerTests.Site()
        let server = try site.serve([
            "--api-cache-max-bytes", "60000", "--api-rate", "1000", "--chart-deadline", "0.001",
        ])
        defer { server.stop() }
        var statuses: [Int] = []
        for index in 0..<10 {
            statuses.append(try Self.post(server, Self.spec("late \(index)", width: 2000, height: 2000)).status)
        }
        #expect(statuses.contains(503), "every render beat a 1 ms deadline: \(statuses)")
        // Wait (bounded) until the renders left behind have all been published.
        let deadline = Date().addingTimeInterval(60)
        var previous = -1
        var charts = try Self.apiCharts(site)
        while Date() < deadline {
            usleep(500_000)
            charts = try Self.apiCharts(site)
            let pending = try FileManager.default.contentsOfDirectory(atPath: site.charts).filter {
                $0.hasSuffix(".pending")
            }
            if charts.count == previous && pending.isEmpty { break }
            previous = charts.count
        }
        let total = charts.values.reduce(0, +)
        #expect(total <= 60000 || charts.count == 1, "\(charts.count) API charts, \(total) bytes")
        #expect(!charts.isEmpty)
    }

    @Test func apiChartsStayWithinTheirBudgetAndQuestionChartsAreNeverEvicted() throws {
        let site = try ServerTests.Site()
        let server = try site.serve(["--api-cache-max-bytes", "60000", "--api-rate", "1000"])
        defer { server.stop() }
        // A question chart and a writer's pending file: neither is API traffic's to remove.
        let json = try server.get("/surveys/1/results.json")
        let chart = try #require(
            ((try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])?["questions"]
                as? [[String: Any]])?.first?["chart"] as? [String: String])["1x"]!
        #expect(try server.get(chart).status == 200)
        let pending = try site.directory.write("piecharts/.c-00000000000000aa.png.pending", "being written")
        var names: [String] = []
        for index in 0..<12 {
            let response = try Self.post(server, Self.spec("budget \(index)"))
            #expect(response.status == 200)
            names.append(String(response.header("Content-Location")!.dropFirst("/piecharts/".count)))
            // Using the first chart all along keeps it recent: it survives the charts after it.
            let again = try server.get("/piecharts/" + names[0])
            #expect(again.status == 200, "\(names[0]): \(again.status)")
        }
        let left = try Self.apiCharts(site)
        #expect(left.values.reduce(0, +) <= 60000, "\(left)")
        #expect(left.count >= 2 && left.count < 12)
        #expect(left[names[11]] != nil, "the newest chart stays")
        #expect(left[names[0]] != nil, "a recently used chart stays")
        #expect(left[names[1]] == nil, "the least recently used goes")
        #expect(FileManager.default.fileExists(atPath: site.charts + "/" + chart.dropFirst("/piecharts/".count)))
        #expect(FileManager.default.fileExists(atPath: pending))
        // An evicted chart is simply drawn again when asked for.
        #expect(try Self.post(server, Self.spec("budget 1")).status == 200)
    }

    /// Two processes on one chart directory: each reads the directory again every 2 s, so the
    /// charts the other wrote count against the budget too, and the directory stays within it.
    // Async, sleeping with `Task.sleep`: its seconds of waiting must not hold a cooperative thread.
    @Test func processesSharingADirectoryKeepItWithinOneBudget() async throws {
        let site = try ServerTests.Site()
        let options = ["--api-cache-max-bytes", "60000", "--api-rate", "1000"]
        let first = try site.serve(options)
        defer { first.stop() }
        let second = try ServerProcess(
            ["--database", site.database, "--charts-dir", site.charts, "--no-demo", "--no-prerender"] + options)
        defer { second.stop() }
        for index in 0..<24 {
            #expect(try Self.post(index % 2 == 0 ? first : second, Self.spec("shared \(index)")).status == 200)
            try await Task.sleep(for: .milliseconds(250))
        }
        // One more from each after a rescan interval: both have read the directory since the last chart.
        try await Task.sleep(for: .milliseconds(2_200))
        #expect(try Self.post(first, Self.spec("shared last 1")).status == 200)
        try await Task.sleep(for: .milliseconds(2_200))
        #expect(try Self.post(second, Self.spec("shared last 2")).status == 200)
        let left = try Self.apiCharts(site)
        let total = left.values.reduce(0, +)
        #expect(total <= 60000, "\(left.count) API charts, \(total) bytes, in one directory of two processes")
        #expect(left.count >= 2)
    }
}
