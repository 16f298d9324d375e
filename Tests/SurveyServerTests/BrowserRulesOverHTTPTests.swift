import Foundation
import TestSupport
import Testing

@testable import Surveys

/// The HTTP rules browsers rely on (DESIGN "Pages and ballots, as browsers meet them"), checked
/// on the wire against the real binary: HEAD everywhere, HTML error pages, 405 with `Allow`,
/// security headers, cross-site ballots and the one-ballot-per-browser cookie.
@Suite("Browser rules over HTTP", .serialized, .timeLimit(.minutes(3)))
struct BrowserRulesOverHTTPTests {
    static func demo(_ extra: [String] = []) throws -> (ServerTests.Site, ServerProcess) {
        let site = try ServerTests.Site()
        let server = try ServerProcess(
            [
                "--database", site.database, "--charts-dir", site.charts, "--static-dir", site.statics, "--today",
                ServerTests.today, "--no-prerender",
            ] + extra)
        return (site, server)
    }

    static func votes(_ site: ServerTests.Site) throws -> [[Int]] {
        try site.export().surveys.first { $0.id == 2 }!.questions.map { $0.answers.map { $0.votes ?? 0 } }
    }

    @Test func headAnswersEveryGetRouteWithTheSameStatusAndHeadersAndNoBody() throws {
        let (_, server) = try Self.demo()
        defer { server.stop() }
        let chart = try #require(try server.results(1).questions.first?.chart["1x"])
        let targets = [
            "/", "/surveys/1", "/surveys/2", "/surveys/2/thanks", "/surveys/1/results.json", "/surveys/2/results.json",
            "/surveys/999", "/healthz", "/favicon.ico", "/static/css/site.css", chart, "/no/such/page",
        ]
        for target in targets {
            let get = try server.get(target)
            let head = try RawHTTP.send(port: server.port, method: "HEAD", target: target)
            #expect(head.status == get.status, "\(target)")
            #expect(head.body.isEmpty, "\(target)")
            func comparable(_ response: RawHTTPResponse) -> [String] {
                // A vote form's ballot token is random on each view: its name and attributes count.
                response.headers.filter { !["date", "etag", "last-modified"].contains($0.name.lowercased()) }
                    .map { field in
                        guard field.name.lowercased() == "set-cookie" else {
                            return "\(field.name.lowercased()): \(field.value)"
                        }
                        let name = field.value.split(separator: "=").first ?? ""
                        return "set-cookie: \(name); "
                            + field.value.split(separator: ";").dropFirst().joined(separator: ";")
                    }.sorted()
            }
            #expect(comparable(head) == comparable(get), "\(target)")
            #expect(head.header("Content-Length") == String(get.body.count), "\(target)")
        }
    }

    @Test func pageErrorsAreHTMLWithAWayBackAndJSONRoutesKeepJSON() throws {
        let (site, server) = try Self.demo()
        defer { server.stop() }
        for target in ["/no/such/page", "/surveys/999", "/surveys/abc"] {
            let page = try server.get(target)
            #expect(page.status == 404, "\(target)")
            #expect(page.header("Content-Type") == "text/html; charset=utf-8", "\(target)")
            #expect(page.text.contains("<a href=\"/\">Back to the surveys</a>"), "\(target)")
        }
        let json = try server.get("/surveys/2/results.json")
        #expect(json.status == 404 && json.header("Content-Type") == "application/json")
        #expect(json.header("X-Content-Type-Options") == "nosniff")
        let object = try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: String]
        #expect(object?["error"] == "not_completed")
        // 405 with Allow on pages (HTML) and on the API (JSON).
        for method in ["PUT", "DELETE", "PATCH"] {
            let response = try RawHTTP.send(port: server.port, method: method, target: "/surveys/2")
            #expect(response.status == 405, "\(method)")
            #expect(response.header("Allow") == "GET, POST, HEAD", "\(method)")
            #expect(response.header("Content-Type") == "text/html; charset=utf-8")
        }
        let home = try RawHTTP.send(port: server.port, method: "POST", target: "/")
        #expect(home.status == 405 && home.header("Allow") == "GET, HEAD")
        let api = try server.get("/api/charts/pie")
        #expect(api.status == 405 && api.header("Allow") == "POST" && api.header("Content-Type") == "application/json")
        // A ballot for a closed survey: 409, when it closed, and a link to its results.
        let closed = try server.post("/surveys/1", body: "q1=1&q2=4")
        #expect(closed.status == 409 && closed.header("Content-Type") == "text/html; charset=utf-8")
        #expect(closed.text.contains("closed on November 20, 2026") && closed.text.contains("<a href=\"/surveys/1\">"))
        // Too large a ballot: 413 as a page.
        let large = try server.post("/surveys/2", body: "q3=7&x=" + String(repeating: "a", count: 70_000))
        #expect(large.status == 413 && large.header("Content-Type") == "text/html; charset=utf-8")
        #expect(large.text.contains("Back to the surveys"))
        #expect(try Self.votes(site) == [[0, 0, 0, 0], [0, 0, 0, 0]])
        // The favicon exists.
        let icon = try server.get("/favicon.ico")
        #expect(icon.status == 200 && icon.header("Content-Type") == "image/svg+xml" && icon.text.hasPrefix("<svg"))
    }

    @Test func aChartHeldByAnotherWriterPastTheDeadlineIs503WithRetryAfter() throws {
        let (site, server) = try Self.demo(["--chart-deadline", "1"])
        defer { server.stop() }
        let chart = try #require(try server.results(1).questions.first?.chart["1x"])
        let fileName = try #require(chart.split(separator: "/").last.map(String.init))
        // Another process is drawing this chart: it created the pending file and holds its lock,
        // well past the deadline (1 s); then it gives up the way a failing writer does.
        let holder = try ScriptProcess(
            python: """
                import fcntl, os, sys, time
                fd = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
                print("locked", flush=True)
                time.sleep(6)
                os.unlink(sys.argv[1])
                """, arguments: [site.charts + "/.\(fileName).pending"])
        defer { holder.stop() }
        #expect(holder.firstLine.hasPrefix("locked"))
        let busy = try server.get(chart)
        // Answered while the other writer still holds the chart: the deadline ended the wait.
        #expect(holder.isRunning)
        #expect(busy.status == 503)
        #expect(busy.header("Retry-After") == "1")
        #expect(busy.header("Content-Type") == "text/html; charset=utf-8" && busy.text.contains("busy drawing charts"))
        #expect(try holder.waitUntilExit() == 0)
        // The writer gave up without publishing: the next request draws the chart.
        let drawn = try server.get(chart)
        #expect(drawn.status == 200 && drawn.header("Content-Type") == "image/png")
        #expect(isPNG(drawn.body))
    }

    /// Results pages are cached for 5 s (`resultsPageLifetime`); a change made behind the server's
    /// back (here, in the database) shows once that has passed.
    @Test func aCachedResultsPageExpires() throws {
        let (site, server) = try Self.demo()
        defer { server.stop() }
        let before = try server.get("/surveys/1")
        #expect(before.status == 200 && !before.text.contains("4,321"))
        try site.sql("UPDATE answer SET votes = 4321 WHERE id = 1")
        Thread.sleep(forTimeInterval: 5.5)
        let after = try server.get("/surveys/1")
        #expect(after.status == 200 && after.text.contains("4,321"))
        #expect(after.header("ETag") != before.header("ETag"))
    }

    @Test func aBallotPastItsDeadlineGetsA503PageAndIsNeverRecorded() throws {
        let (site, server) = try Self.demo(["--ballot-deadline", "1"])
        defer { server.stop() }
        // Another process holds the write lock well past the ballot deadline (1 s), then lets go.
        let holder = try ScriptProcess.holdingTheWriteLock(of: site.database)
        defer { holder.stop() }
        let ballot = try server.post("/surveys/2", body: "q3=7&q4=11")
        // Answered while the lock is still held: the deadline, not the lock, ended the wait.
        #expect(holder.isRunning)
        #expect(ballot.status == 503)
        #expect(ballot.header("Retry-After") == "2")
        #expect(ballot.header("Content-Type") == "text/html; charset=utf-8")
        // The form again, filled in: nothing was recorded, so it carries a new receipt.
        #expect(ballot.text.contains("your vote was not recorded") && ballot.text.contains("Reference: "))
        #expect(ballot.text.contains("name=\"q3\" value=\"7\" checked"))
        // A form's ballot gets its form again, filled in, with its own receipt.
        let receipt = "bUsYbUsYbUsYbUsY-_0123"
        let form = try server.post("/surveys/2", body: "q3=8&q4=11&receipt=\(receipt)")
        #expect(holder.isRunning)
        #expect(form.status == 503 && form.header("Retry-After") != nil && form.header("Cache-Control") == "no-store")
        #expect(form.text.contains("your vote was not recorded"))
        #expect(form.text.contains("<input type=\"hidden\" name=\"receipt\" value=\"\(receipt)\""))
        #expect(
            form.text.contains("name=\"q3\" value=\"8\" checked")
                && form.text.contains("name=\"q4\" value=\"11\" checked"))
        #expect(form.text.components(separatedBy: " checked").count == 3, "one answer chosen per question")
        // Nothing was recorded: the answers may still be changed.
        #expect(!form.text.contains(" disabled>") && !form.text.contains("<input type=\"hidden\" name=\"q3\""))
        // The lock is released: a ballot given up must not land late.
        holder.input("done\n")
        #expect(try holder.waitUntilExit() == 0)
        #expect(try Self.votes(site) == [[0, 0, 0, 0], [0, 0, 0, 0]])
        #expect(try server.post("/surveys/2", body: "q3=7&q4=11").status == 303)
        #expect(try Self.votes(site) == [[1, 0, 0, 0], [1, 0, 0, 0]])
        // The form sent again, twice (its answer lost once), counts once.
        for _ in 0..<2 { #expect(try server.post("/surveys/2", body: "q3=8&q4=11&receipt=\(receipt)").status == 303) }
        #expect(try Self.votes(site) == [[1, 1, 0, 0], [2, 0, 0, 0]])
        #expect(server.logContains("database busy on POST /surveys/2"))
    }

    @Test func aBallotBeforeTheSurveyOpensIs409AndRecordsNothing() throws {
        let site = try ServerTests.Site()
        try site.importSurveys(
            """
            {"surveys": [{"id": 50, "title": "Next month", "opens": "2026-12-01", "closes": "2026-12-31",
              "questions": [{"id": 500, "text": "Ready?", "answers": [{"id": 5000, "text": "Yes"}, {"id": 5001, "text": "No"}]}]}]}
            """)
        let server = try site.serve(["--no-demo"])
        defer { server.stop() }
        let ballot = try server.post("/surveys/50", body: "q500=5000")
        // 409 as DESIGN says, but naming neither its title nor its dates: it is not public yet.
        #expect(ballot.status == 409 && ballot.header("Content-Type") == "text/html; charset=utf-8")
        #expect(!ballot.text.contains("Next month") && !ballot.text.contains("2026-12-01"))
        let votes = try site.export().surveys.first { $0.id == 50 }!.questions[0].answers[0].votes ?? 0
        #expect(votes == 0)
    }

    @Test func everyHTMLResponseCarriesTheSecurityHeaders() throws {
        let (_, server) = try Self.demo()
        defer { server.stop() }
        let responses = [
            try server.get("/"), try server.get("/surveys/1"), try server.get("/surveys/2"),
            try server.get("/surveys/2/thanks"), try server.get("/surveys/999"), try server.get("/nope"),
            try server.post("/surveys/2", body: "q3=7"), try server.post("/surveys/1", body: "q1=1"),
        ]
        for response in responses {
            let policy = response.header("Content-Security-Policy") ?? ""
            #expect(policy.contains("default-src 'self'"), "\(response.status)")
            #expect(policy.contains("frame-ancestors 'none'") && policy.contains("form-action 'self'"))
            #expect(response.header("X-Content-Type-Options") == "nosniff")
            #expect(response.header("Referrer-Policy") == "same-origin")
        }
    }

    @Test func crossSiteBallotsAreRefusedAndSameSiteOnesCount() throws {
        let (site, server) = try Self.demo()
        defer { server.stop() }
        func post(_ headers: [String: String]) throws -> RawHTTPResponse {
            try RawHTTP.send(
                port: server.port, method: "POST", target: "/surveys/2",
                headers: headers.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 },
                body: Array("q3=7&q4=11".utf8))
        }
        let own = "http://127.0.0.1:\(server.port)"
        for headers in [
            ["Origin": "http://evil.example"], ["Origin": "null"], ["Origin": "http://127.0.0.1:\(server.port + 1)"],
            ["Origin": "https://127.0.0.1.evil.example"], ["Sec-Fetch-Site": "cross-site"],
            ["Origin": own, "Sec-Fetch-Site": "cross-site"],
        ] {
            let response = try post(headers)
            #expect(response.status == 403, "\(headers)")
            #expect(response.text.contains("Ballot refused"), "\(headers)")
        }
        #expect(try Self.votes(site) == [[0, 0, 0, 0], [0, 0, 0, 0]])
        #expect(try post(["Origin": own, "Sec-Fetch-Site": "same-origin"]).status == 303)
        #expect(try post([:]).status == 303)  // curl and load tests send no Origin
        #expect(try Self.votes(site) == [[2, 0, 0, 0], [2, 0, 0, 0]])
    }

    @Test func oneBallotPerBrowserThroughASignedCookie() throws {
        let (site, server) = try Self.demo()
        defer { server.stop() }
        let first = try server.post("/surveys/2", body: "q3=7&q4=11")
        #expect(first.status == 303)
        let setCookie = try #require(first.header("Set-Cookie"))
        #expect(setCookie.hasPrefix("voted_2="))
        #expect(
            setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax")
                && setCookie.contains("Path=/surveys/2"))
        let cookie = String(setCookie.split(separator: ";")[0])
        func ballot(cookie: String) throws -> RawHTTPResponse {
            try RawHTTP.send(
                port: server.port, method: "POST", target: "/surveys/2",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie],
                body: Array("q3=8&q4=12".utf8))
        }
        let second = try ballot(cookie: cookie)
        #expect(second.status == 409 && second.text.contains("You have already voted"))
        // The form itself tells a browser that has voted.
        #expect(try server.get("/surveys/2", headers: ["Cookie": cookie]).text.contains("Thank you"))
        // Tampered, forged, truncated or borrowed cookies count as none.
        let value = String(cookie.dropFirst("voted_2=".count))
        var tampered = Array(value)
        tampered[3] = tampered[3] == "A" ? "B" : "A"
        let forged = "voted_2=AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        for bad in [
            "voted_2=" + String(tampered), forged, "voted_2=" + value.prefix(20), "voted_2=", "voted_1=" + value,
        ] {
            #expect(try ballot(cookie: bad).status == 303, "\(bad)")
        }
        #expect(try Self.votes(site) == [[1, 5, 0, 0], [1, 5, 0, 0]])
        // Every process on the database shares the key: another server honours the cookie.
        let other = try site.serve(["--no-demo"])
        defer { other.stop() }
        let elsewhere = try RawHTTP.send(
            port: other.port, method: "POST", target: "/surveys/2",
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie],
            body: Array("q3=8&q4=12".utf8))
        #expect(elsewhere.status == 409)
        #expect(try Self.votes(site) == [[1, 5, 0, 0], [1, 5, 0, 0]])
    }

    @Test func operatorsCanAllowAnyNumberOfBallotsPerBrowser() throws {
        let (site, server) = try Self.demo(["--ballots-per-browser", "any"])
        defer { server.stop() }
        let first = try server.post("/surveys/2", body: "q3=7&q4=11")
        #expect(first.status == 303 && first.header("Set-Cookie") == nil)
        let again = try RawHTTP.send(
            port: server.port, method: "POST", target: "/surveys/2",
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "voted_2=whatever"],
            body: Array("q3=7&q4=11".utf8))
        #expect(again.status == 303)
        #expect(try Self.votes(site) == [[2, 0, 0, 0], [2, 0, 0, 0]])
        let refused = try Executable.refusedServe(["--ballots-per-browser", "two"] + site.scratchArguments)
        #expect(refused.status != 0 && refused.standardError.contains("--ballots-per-browser"))
    }

    @Test func tinySharesReadLessThanOnePercentOnTheResultsPage() throws {
        let (_, server) = try Self.demo()
        defer { server.stop() }
        let page = try server.get("/surveys/4")
        #expect(page.status == 200)
        #expect(
            page.text.contains(
                "<th scope=\"row\"><bdi>A service nobody else has heard of</bdi></th><td class=\"number\">1</td><td class=\"number\">&lt;1%</td>"
            ))
        #expect(page.text.contains("A service nobody else has heard of: &lt;1%"))
        // The question is the heading; the chart says no title of its own, and a phone gets the narrow chart.
        #expect(page.text.contains("<source media=\"(max-width: 679px)\""))
        let json = try server.get("/surveys/4/results.json")
        let object = try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any]
        let answers = ((object?["questions"] as? [[String: Any]])?.first?["answers"] as? [[String: Any]]) ?? []
        #expect(answers.last?["percent"] as? Int == 0 && answers.last?["votes"] as? Int == 1)
    }
}
