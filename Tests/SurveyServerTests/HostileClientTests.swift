import Foundation
import SurveysPostgres
import TestSupport
import Testing

@testable import ServerLogging
@testable import SurveyServer

/// The findings of the outside review (issue 19), each as what a hostile client sends to the real
/// binary and what it must not achieve.
@Suite("Hostile clients", .serialized, .timeLimit(.minutes(5)))
struct HostileClientTests {
    /// One request used to kill the process: an If-Modified-Since or If-Range date whose year
    /// overflowed the date arithmetic.
    @Test func extremeDatesInConditionalHeadersAreIgnoredNotFatal() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        let extremes = [
            "Sun, 06 Nov 99999999999999 08:49:37 GMT", "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT", "Sunday, 06-Nov-99999999999999 08:49:37 GMT",
            "Sun Nov  6 08:49:37 99999999999999",
        ]
        for date in extremes {
            let modified = try server.get("/static/css/site.css", headers: ["If-Modified-Since": date])
            #expect(modified.status == 200, "If-Modified-Since: \(date)")
            let ranged = try server.get("/static/hello.txt", headers: ["Range": "bytes=0-9", "If-Range": date])
            #expect(ranged.status == 200, "If-Range: \(date)")
            #expect(ranged.body.count == 1000)
        }
        #expect(server.process.isRunning)
        #expect(try server.get("/healthz").status == 200)
    }
}

extension HostileClientTests {
    /// A survey that opens tomorrow.
    static let upcomingSurvey = """
        {"surveys": [{"id": 40, "title": "Secret Launch Plans", "opens": "2026-11-23", "closes": "2026-11-30",
          "questions": [{"id": 400, "text": "Which?", "answers": [{"id": 4000, "text": "A"}, {"id": 4001, "text": "B"}]}]}]}
        """

    @Test func aSurveyThatHasNotOpenedIsAnsweredAsIfItDidNotExist() throws {
        let site = try ServerTests.Site()
        try site.importSurveys(Self.upcomingSurvey)
        let server = try site.serve()
        defer { server.stop() }
        let missing = try server.get("/surveys/999999")
        #expect(missing.status == 404)
        for target in ["/surveys/40", "/surveys/40/thanks", "/surveys/40/results.json"] {
            let response = try server.get(target)
            #expect(response.status == 404, "\(target)")
            #expect(!response.text.contains("Secret Launch"), "\(target)")
        }
        #expect(try server.get("/surveys/40").body == missing.body)
        let ballot = try server.post("/surveys/40", body: "q400=4000")
        #expect(ballot.status == 409)
        #expect(!ballot.text.contains("Secret Launch"))
    }

    @Test func aSurveyHasOneAddress() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        #expect(try server.get("/surveys/1").status == 200)
        for alias in ["/surveys/01", "/surveys/+1", "/surveys/001/results.json", "/surveys/02/thanks"] {
            #expect(try server.get(alias).status == 404, "\(alias)")
        }
        // A ballot under another spelling of the path is not counted.
        let before = try site.export()
        #expect(try server.post("/surveys/02", body: "q3=7&q4=12").status == 404)
        #expect(try site.export() == before)
    }

    @Test func aLoginNameCannotForgeALogLine() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        let response = try server.post(
            "/admin/login", body: "name=x%0AFORGED+line%0D%0Aanother&password=wrong-password")
        #expect(response.status == 401)
        // No operator can have that name: it is refused without being stored or logged.
        #expect(server.logContains("admin sign-in failed for a name no operator can have, from 127.0.0.1"))
        #expect(!server.log.contains("FORGED"))
        // Every other field is escaped where it is written, whatever it holds.
        #expect(
            BackgroundLogHandler.escapingControlCharacters("x\nFORGED\r\u{85}\u{2028}end")
                == "x\\x0AFORGED\\x0D\\x85\\u{2028}end")
        for line in server.log.split(separator: "\n") {
            #expect(!line.hasPrefix("FORGED") && !line.hasPrefix("another"), "\(line)")
        }
    }

    /// Forwarding headers count only from `--trusted-proxy`: from anyone else they are ignored.
    /// (Told apart by the sign-in throttle: five failures per client in ten minutes, whatever
    /// the clock does.)
    @Test func forwardedHeadersAreBelievedOnlyFromTrustedProxies() throws {
        let site = try ServerTests.Site()
        func failSignIn(
            _ server: ServerProcess, as client: String?, attempt: Int, requestID: String = "proxy-id-1"
        )
            throws -> Int
        {
            var headers = ["X-Forwarded-Proto": "https", "X-Request-Id": requestID]
            if let client { headers["X-Forwarded-For"] = client }
            return try server.post(
                "/admin/login", body: "name=nobody\(attempt)&password=wrong-password", headers: headers
            ).status
        }
        let direct = try site.serve()
        // Not trusted: every "client" is 127.0.0.1, which has one budget of five.
        let untrusted = try (1...6).map { try failSignIn(direct, as: "203.0.113.\($0)", attempt: $0) }
        #expect(untrusted == [401, 401, 401, 401, 401, 429], "\(untrusted)")
        #expect(direct.logContains("127.0.0.1 - - ["))
        #expect(!direct.log.contains("203.0.113."))
        #expect(!direct.log.contains("proxy-id-1"))
        let ballot = try direct.post("/surveys/2", body: "q3=7&q4=12", headers: ["X-Forwarded-Proto": "https"])
        #expect(ballot.header("Set-Cookie").map { !$0.contains("Secure") } == true)
        direct.stop()

        // Behind a trusted proxy, each forwarded client has its own budget; an IPv6 client is one
        // client per /64, and an IPv4-mapped address is its IPv4 address.
        // (A site of its own: the throttle's counts live in the store, for every process.)
        let proxiedSite = try ServerTests.Site()
        let proxied = try proxiedSite.serve(["--trusted-proxy", "127.0.0.0/8,::1"])
        defer { proxied.stop() }
        var attempt = 100
        func budget(_ first: String, then others: [String]) throws -> [Int] {
            var statuses: [Int] = []
            for _ in 1...5 {
                attempt += 1
                statuses.append(try failSignIn(proxied, as: first, attempt: attempt))
            }
            for other in others {
                attempt += 1
                statuses.append(try failSignIn(proxied, as: other, attempt: attempt))
            }
            return statuses
        }
        #expect(
            try budget("198.51.100.7", then: ["198.51.100.7", "198.51.100.8"]) == [401, 401, 401, 401, 401, 429, 401])
        #expect(
            try budget("2001:db8:0:1::1", then: ["2001:db8:0:1::ffff", "2001:db8:0:2::1"]) == [
                401, 401, 401, 401, 401, 429, 401,
            ])
        #expect(try budget("198.51.100.20", then: ["::ffff:198.51.100.20"]) == [401, 401, 401, 401, 401, 429])
        // The right-most untrusted address is the client, whatever the client wrote before it.
        #expect(try failSignIn(proxied, as: "203.0.113.9, 198.51.100.9", attempt: 900) == 401)
        #expect(proxied.logContains("198.51.100.9 - - ["))
        #expect(!proxied.log.contains("203.0.113.9 - - ["))
        #expect(proxied.logContains(" proxy-id-1\n"))
        // A proxy's request id that could break a log line is replaced by one made here.
        #expect(try failSignIn(proxied, as: "198.51.100.30", attempt: 901, requestID: "bad id \"quoted\"") == 401)
        #expect(proxied.logContains("198.51.100.30 - - ["))  // the access log is written a second later
        let line = try #require(proxied.log.split(separator: "\n").last { $0.hasPrefix("198.51.100.30 - - [") })
        #expect(line.range(of: #" [0-9a-f]{16,32}$"#, options: .regularExpression) != nil, "\(line)")
        // Without X-Forwarded-For, the trusted peer is the client.
        #expect(try failSignIn(proxied, as: nil, attempt: 902) == 401)
        #expect(proxied.logContains("127.0.0.1 - - ["))
        let secure = try proxied.post("/surveys/2", body: "q3=7&q4=12", headers: ["X-Forwarded-Proto": "https"])
        #expect(secure.status == 303)
        #expect(secure.header("Set-Cookie")?.contains("; Secure") == true)
        // A bad --trusted-proxy stops start-up with one line naming it.
        let refused = try Executable.refusedServe(["--trusted-proxy", "10.0.0.0/33"] + site.scratchArguments)
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("10.0.0.0/33"))
    }

    @Test func aDatabaseURLThatDoesNotParseIsNeverPrintedWithItsPassword() throws {
        for url in [
            "postgres://owner:hunter2-secret@[bad-host/db", "postgres://owner:hunter2-secret@host:notaport/db",
            "postgres://owner:hunter2-secret@/db",
        ] {
            let result = try Executable.run(["export", "--database", url])
            #expect(result.status != 0, "\(url)")
            #expect(!result.standardError.contains("hunter2"), "\(result.standardError)")
            #expect(!result.standardOutput.contains("hunter2"))
            #expect(result.standardError.contains("owner:***@"), "\(result.standardError)")
        }
    }

    @Test func urlsThatParseOddlyAreRedactedToo() {
        // A parser reads this as host "owner", port 2024, and no password at all.
        #expect(PostgresSurveyStore.redacted("postgres://owner:2024/hunter2@db/s") == "postgres://owner:***@db/s")
        #expect(PostgresSurveyStore.redacted("postgres://owner:pw@host:5432/db") == "postgres://owner:***@host:5432/db")
        #expect(PostgresSurveyStore.redacted("postgres://host/db") == "postgres://host/db")
        #expect(PostgresSurveyStore.redacted("postgres://owner@host/db") == "postgres://owner@host/db")
    }

    /// The demo operator's password is shown to a person at a terminal, never to a log.
    @Test func theDemoOperatorIsMadeOnlyForATerminal() throws {
        let site = try ServerTests.Site()
        let piped = try site.serve()
        #expect(!piped.startupOutput.contains("password"))
        piped.stop()
        #expect(!piped.log.contains("password"))
        let users = try Executable.run(["user", "list", "--database", site.database])
        #expect(!users.standardOutput.contains("demo"), "\(users.standardOutput)")
        // At a terminal (script(1) gives it one), the demo operator is made and its password shown there.
        let terminalSite = try ServerTests.Site()
        let command =
            ([
                Executable.url("surveycharts").path, "serve", "--port", "0", "--exit-with-parent", "--today",
                ServerTests.today,
            ]
            + terminalSite.scratchArguments).joined(separator: " ")
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        script.arguments = ["-q", "-e", "-c", command, "/dev/null"]
        let output = Pipe()
        script.standardOutput = output
        script.standardInput = Pipe()
        try script.run()
        let seen = FailureLog()
        let reading = DispatchGroup()
        reading.enter()
        Thread.detachNewThread {
            var text = ""
            while !text.contains("listening on") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            seen.add(text)
            reading.leave()
        }
        let finished = reading.wait(timeout: .now() + 60)
        ChildProcess.end(script)
        #expect(finished == .success, "serve under a terminal did not start")
        #expect(seen.all.joined().contains("created the demo operator"), "\(seen.all)")
        let terminalUsers = try Executable.run(["user", "list", "--database", terminalSite.database])
        #expect(terminalUsers.standardOutput.contains("demo"), "\(terminalUsers.standardOutput)")
        // The shipped units never load the demo.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        for unit in ["surveycharts.service", "surveycharts@.service"] {
            let text = try String(contentsOfFile: root + "/deploy/" + unit, encoding: .utf8)
            let exec = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
            #expect(exec.contains("--no-demo"), "\(unit): \(exec)")
        }
    }
}

extension HostileClientTests {
    /// Metrics are the operators': served on `--metrics-address` only, never on the site.
    @Test func metricsAreServedOnlyOnTheirOwnListener() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        #expect(try server.get("/metrics").status == 404)
        let metrics = try RawHTTP.send(port: server.metricsPort, target: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("surveycharts_"))
        // The metrics listener serves nothing else.
        #expect(try RawHTTP.send(port: server.metricsPort, target: "/surveys/1").status == 404)
        // A malformed address stops start-up with one line that names it.
        let refused = try Executable.refusedServe(["--metrics-address", "localhost"] + site.scratchArguments)
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("--metrics-address"))
    }
}

extension HostileClientTests {
    /// Every metric has its `# HELP` and `# TYPE`, and Prometheus's own checker finds nothing
    /// wrong, after traffic that makes every kind of collector (requests, charts, a timeout).
    @Test func theMetricsPassPromtool() throws {
        let promtool = "/usr/bin/promtool"
        try #require(
            FileManager.default.isExecutableFile(atPath: promtool),
            "promtool is missing: make test-deps installs Debian's prometheus, which has it")
        let site = try ServerTests.Site()
        let server = try site.serve(["--header-timeout", "0.5"])
        defer { server.stop() }
        #expect(try server.get("/").status == 200)
        #expect(try server.get("/surveys/1").status == 200)
        #expect(try server.get("/nowhere").status == 404)
        let page = try server.get("/surveys/1")
        for chart in page.text.matches(of: /src="(\/piecharts\/[^"]+)"/) {
            #expect(try server.get(String(chart.1)).status == 200)
        }
        // A connection that sends nothing is timed out: the timeout counter exists too.
        let idle = try RawConnection(port: server.port, readTimeoutSeconds: 10)
        #expect(idle.readUntilClosed().closed, "the idle connection was never timed out")
        let text = try RawHTTP.send(port: server.metricsPort, target: "/metrics").text
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        let helps = Set(
            text.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
        #expect(types.count >= 15, "\(types)")
        for name in types { #expect(helps.contains(name), "\(name) has no # HELP") }
        for name in [
            "surveycharts_http_requests_total", "surveycharts_chart_renders_total",
            "surveycharts_connections_timed_out_total",
        ] {
            #expect(types.contains(Substring(name)), "\(name) missing")
        }
        let check = try Executable.start(program: promtool, ["check", "metrics"])
        check.input(text)
        let result = try check.finish(within: .seconds(30))
        #expect(result.status == 0, "promtool: \(result.standardOutput)\(result.standardError)")
        #expect(
            result.standardOutput.isEmpty && result.standardError.isEmpty,
            "promtool: \(result.standardOutput)\(result.standardError)")
    }
}

extension HostileClientTests {
    /// Ballots posted at the same instant from one browser: the store counts one.
    @Test func simultaneousBallotsFromOneBrowserCountOnce() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        let form = try server.get("/surveys/2")
        let setCookie = try #require(form.header("Set-Cookie"))
        #expect(setCookie.hasPrefix("ballot_2=") && setCookie.contains("Path=/surveys/2; Max-Age=34560000; HttpOnly"))
        let token = String(setCookie.split(separator: ";")[0])
        // The browser keeps its token: a second form view (another tab) sets none.
        #expect(try server.get("/surveys/2", headers: ["Cookie": token]).header("Set-Cookie") == nil)
        let before = try site.export().surveys.first { $0.id == 2 }!.questions[0].answers.map { $0.votes ?? 0 }
        let statuses = try AdminAuthTests.burst(
            port: server.port, count: 20, target: "/surveys/2", body: "q3=7&q4=12", headers: ["Cookie": token])
        #expect(statuses.filter { $0 == 303 }.count == 1, "\(statuses)")
        #expect(statuses.filter { $0 == 409 }.count == 19, "\(statuses)")
        let after = try site.export().surveys.first { $0.id == 2 }!.questions[0].answers.map { $0.votes ?? 0 }
        #expect(after.reduce(0, +) == before.reduce(0, +) + 1)
        // A forged token is no token: that client is not limited, and not counted as this browser.
        let forged = token.dropLast(4) + "AAAA"
        #expect(try server.post("/surveys/2", body: "q3=7&q4=12", headers: ["Cookie": String(forged)]).status == 303)
    }
}

extension HostileClientTests {
    /// Crawling every results page of a large site keeps at most the cache's bound in memory.
    @Test func crawlingEveryResultsPageKeepsTheCacheBounded() throws {
        let site = try ServerTests.Site()
        let surveys = (1...700).map { index in
            """
            {"title": "Survey \(index)", "opens": "2026-10-01", "closes": "2026-10-31", "questions": [
              {"text": "Question \(index)?", "answers": [{"text": "Yes", "votes": \(index)}, {"text": "No", "votes": 1}]}]}
            """
        }
        try site.importSurveys(#"{"surveys": ["# + surveys.joined(separator: ",") + "]}")
        let server = try site.serve(["--no-demo"])
        defer { server.stop() }
        for id in 1...700 { #expect(try server.get("/surveys/\(id)").status == 200, "survey \(id)") }
        let cached = try #require(try server.metric("surveycharts_pages_cached"))
        #expect(cached >= 100 && cached <= 512, "\(cached) pages kept")
        let bytes = try #require(try server.metric("surveycharts_page_bytes_cached"))
        #expect(bytes > 0 && bytes <= Double(48 << 20))
    }
}

extension HostileClientTests {
    /// A grapheme cluster can hold a markup character: U+0600 (an Arabic prepended mark) joins the
    /// `<` after it into one `Character`, and U+0301 the `"` before it. Escaping by character would
    /// let `"\u{600}<a …>"` through as a tag; every page escapes by Unicode scalar.
    @Test func markupHiddenInAGraphemeClusterIsStillEscaped() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        // An unauthenticated query parameter that the 400 page repeats.
        let page = try server.get("/?open=%D8%80%3Ca%20href%3D//evil.example%20%D8%80%3Eclick")
        #expect(page.status == 400)
        #expect(!page.text.contains("<a href=//evil.example"))
        #expect(page.text.contains("\u{600}&lt;a href=//evil.example \u{600}&gt;click"))
        // A survey's own text, in its title, answers and the chart's alt attribute.
        try site.importSurveys(
            """
            {"surveys": [{"id": 60, "title": "\u{600}<b>Bold</b>", "language": "ar", "opens": "2026-11-10",
              "closes": "2026-11-20", "questions": [{"text": "\u{600}<i>Q</i>", "answers": [
                {"text": "\\"\u{301} onerror=x \\"\u{301}", "votes": 1}, {"text": "\u{600}<img src=x>", "votes": 2}]}]}]}
            """)
        let results = try server.get("/surveys/60").text
        for markup in ["<b>Bold", "<i>Q", "<img src=x", "\"\u{301} onerror"] {
            #expect(!results.contains(markup), "\(markup)")
        }
        #expect(results.contains("&lt;b&gt;Bold") && results.contains("&quot;\u{301} onerror=x"))
        let home = try server.get("/").text
        #expect(!home.contains("<b>Bold") && home.contains("\u{600}&lt;b&gt;Bold"))
    }
}
