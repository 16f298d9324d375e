import Foundation
import SurveyCharts
import Surveys
import Synchronization
import TestSupport
import Testing

@testable import SurveyServer
@testable import Surveys

/// End-to-end tests over real HTTP against the real `surveycharts serve` on an ephemeral port.
@Suite("Survey service over HTTP", .serialized, .timeLimit(.minutes(5)))
struct ServerTests {
    static let today = "2026-11-22"

    /// A chart directory, database and static directory in a temporary folder, with a secret
    /// file beside (outside) the static root and a symlink to it inside.
    ///
    /// With `SURVEYCHARTS_TEST_STORE=postgres` (as `make test` sets for its PostgreSQL pass), the
    /// database is a fresh PostgreSQL database instead of a SQLite file, so the same HTTP tests
    /// run against a server on PostgreSQL.
    final class Site {
        let directory: TemporaryDirectory
        let database: String
        /// Whether the database is PostgreSQL.
        var onPostgres: Bool { database.hasPrefix("postgres://") }
        var charts: String { directory.path + "/piecharts" }
        var statics: String { directory.path + "/static" }

        init() throws {
            directory = try TemporaryDirectory()
            if ProcessInfo.processInfo.environment["SURVEYCHARTS_TEST_STORE"] == "postgres" {
                let cluster = try #require(TestPostgres.clusterURL, Comment(rawValue: TestPostgres.missing))
                database = try TestPostgres.freshDatabase(cluster)
            } else {
                database = directory.path + "/surveys.sqlite3"
            }
            try FileManager.default.createDirectory(atPath: statics + "/css", withIntermediateDirectories: true)
            try directory.write("secret.txt", "TOP-SECRET")
            try directory.write("static/hello.txt", String(repeating: "0123456789", count: 100))
            try directory.write("static/a..b.png", "not really a png")
            try directory.write("static/.env", "TOP-SECRET")
            try directory.write("static/css/site.css", "body { color: red }")
            try FileManager.default.createSymbolicLink(
                atPath: statics + "/leak.txt", withDestinationPath: directory.path + "/secret.txt")
            try FileManager.default.createSymbolicLink(atPath: statics + "/up", withDestinationPath: directory.path)
        }

        /// Starts a server; the pre-render scheduler is off unless asked for, so tests that count
        /// renders see only their own requests.
        func serve(_ extra: [String] = [], prerender: Bool = false) throws -> ServerProcess {
            try ServerProcess(
                ["--database", database, "--charts-dir", charts, "--static-dir", statics, "--today", ServerTests.today]
                    + (prerender ? [] : ["--no-prerender"]) + extra)
        }

        /// Where a `serve` that should never start would keep its data: inside this site.
        var scratchArguments: [String] {
            ["--database", database, "--charts-dir", charts, "--static-dir", statics, "--no-prerender"]
        }

        func importSurveys(_ json: String) throws {
            let file = try directory.write("import-\(UUID().uuidString).json", json)
            let result = try Executable.run(["import", file, "--database", database])
            guard result.status == 0 else { throw RawHTTP.Failure(description: result.standardError) }
        }

        func export() throws -> SurveyDocument {
            let result = try Executable.run(["export", "--database", database])
            return try SurveyDocument(json: Data(result.standardOutput.utf8))
        }
    }

    @Test func demoPagesShowResultsWithChartsAndAFormThatVotes() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        let home = try server.get("/")
        #expect(home.status == 200)
        #expect(home.text.contains("Television Trends") && home.text.contains("Weekend Viewing"))
        #expect(home.text.contains("电视节目调查"))
        let results = try server.get("/surveys/1")
        #expect(results.status == 200)
        #expect(results.text.contains("Winners: <strong><bdi>Comedy</bdi>, <bdi>Drama</bdi></strong>"))
        #expect(results.text.contains("alt=\"Comedy: 40%, Drama: 40%, Reality: 20%\""))
        #expect(
            results.text.contains("<td class=\"number\">63%</td>")
                && results.text.contains("<td class=\"number\">12%</td>"))
        let etag = try #require(results.header("ETag"))
        #expect(try server.get("/surveys/1", headers: ["If-None-Match": etag]).status == 304)
        let json = try server.get("/surveys/1/results.json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])
        let questions = try #require(object["questions"] as? [[String: Any]])
        #expect(questions.count == 2)
        #expect(questions[0]["winners"] as? [Int] == [1, 2])
        let chart = try #require(questions[1]["chart"] as? [String: String])
        #expect(results.text.contains("srcset=\"\(chart["1x"]!) 1x, \(chart["2x"]!) 2x\""))
        for (target, width) in [(chart["1x"]!, 640), (chart["2x"]!, 1280)] {
            let png = try server.get(target)
            #expect(png.status == 200)
            #expect(png.header("Content-Type") == "image/png")
            #expect(png.header("Cache-Control") == "public, max-age=31536000, immutable")
            #expect(isPNG(png.body))
            #expect(png.body[16..<20].reduce(0) { $0 << 8 | Int($1) } == width)
            let again = try server.get(target, headers: ["If-None-Match": png.header("ETag")!])
            #expect(again.status == 304)
        }
        #expect(try server.metric("surveycharts_chart_renders_total") == 2)
        #expect(
            try server.metric(
                "surveycharts_http_requests_total", matching: "{route=\"chart\",method=\"GET\",status=\"200\"}")
                == 2)
        #expect(try server.get("/healthz").text == "ok\n")
        // The open survey's form records a ballot.
        let form = try server.get("/surveys/2")
        #expect(form.text.contains("<form method=\"post\" action=\"/surveys/2\">"))
        let vote = try server.post("/surveys/2", body: "q3=7&q4=11")
        #expect(vote.status == 303 && vote.header("Location") == "/surveys/2/thanks")
        #expect(try server.get("/surveys/2/thanks").text.contains("Thank you"))
        let exported = try site.export()
        #expect(
            exported.surveys[1].questions.map { $0.answers.map { $0.votes ?? 0 } } == [[1, 0, 0, 0], [1, 0, 0, 0]])
    }

    /// The form as a browser gets it carries a receipt, new for every form served, and is never
    /// kept for "back"; the same filled-in form sent again is answered as recorded and counted once.
    @Test func theFormsReceiptMakesSendingItAgainSafe() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        func receipt(_ page: RawHTTPResponse) throws -> String {
            let marker = "<input type=\"hidden\" name=\"receipt\" value=\""
            let text = page.text
            let start = try #require(text.range(of: marker)?.upperBound, "the form has no receipt")
            return String(text[start...].prefix(while: { $0 != "\"" }))
        }
        let form = try server.get("/surveys/2")
        #expect(form.header("Cache-Control") == "no-store")
        let first = try receipt(form)
        #expect(BallotReceipt(first) != nil, "\(first)")
        #expect(try receipt(try server.get("/surveys/2")) != first, "each form its own receipt")
        for _ in 0..<3 {
            let vote = try server.post("/surveys/2", body: "q3=7&q4=11&receipt=\(first)")
            #expect(vote.status == 303 && vote.header("Location") == "/surveys/2/thanks")
        }
        // The browser was answered for that receipt: sent again with the cookie that says so, it
        // is the next person at a kiosk on a restored form, not a resend.
        let answered = try server.post("/surveys/2", body: "q3=7&q4=11&receipt=\(first)")
        let sent = try #require(
            answered.headers.first { $0.name.lowercased() == "set-cookie" && $0.value.hasPrefix("sent_2=") }?.value)
        #expect(sent.hasPrefix("sent_2=\(first);") && sent.contains("Path=/surveys/2") && sent.contains("HttpOnly"))
        let cookie = String(sent.prefix { $0 != ";" })
        #expect(
            try server.post("/surveys/2", body: "q3=7&q4=11&receipt=\(first)", headers: ["Cookie": cookie]).status
                == 303)
        // Other choices under that receipt: the person went back and changed an answer.
        #expect(try server.post("/surveys/2", body: "receipt=\(first)&q3=8&q4=11").status == 303)
        // A refused ballot keeps its receipt in the form shown again, and counted nothing under it.
        let refused = try server.post("/surveys/2", body: "q3=7&receipt=\(first.prefix(21))X")
        #expect(refused.status == 400 && refused.header("Cache-Control") == "no-store")
        #expect(try receipt(refused) == "\(first.prefix(21))X")
        #expect(try server.post("/surveys/2", body: "q3=7&q4=12&receipt=\(try receipt(refused))").status == 303)
        let exported = try site.export()
        #expect(
            exported.surveys[1].questions.map { $0.answers.map { $0.votes ?? 0 } } == [[3, 1, 0, 0], [3, 1, 0, 0]])
    }

    /// A ballot without a receipt that came through a trusted proxy is keyed by the proxy's
    /// request id, which nginx sends again when it resends the ballot: counted once. Short ids
    /// (a proxy that counts its requests) and ids from clients that are not proxies key nothing.
    @Test func aTrustedProxysRequestIdKeysABallotWithoutAReceipt() throws {
        let site = try Site()
        let proxied = try site.serve(["--trusted-proxy", "127.0.0.1"])
        defer { proxied.stop() }
        let id = String(repeating: "0123456789abcdef", count: 2)
        for _ in 0..<2 {
            #expect(try proxied.post("/surveys/2", body: "q3=7&q4=11", headers: ["X-Request-Id": id]).status == 303)
        }
        #expect(
            try proxied.post("/surveys/2", body: "q3=7&q4=11", headers: ["X-Request-Id": "f" + id.dropFirst()]).status
                == 303)
        for _ in 0..<2 {
            #expect(
                try proxied.post("/surveys/2", body: "q3=7&q4=11", headers: ["X-Request-Id": "short-7"]).status == 303)
        }
        proxied.stop()
        let direct = try site.serve()
        defer { direct.stop() }
        for _ in 0..<2 {
            #expect(try direct.post("/surveys/2", body: "q3=7&q4=11", headers: ["X-Request-Id": id]).status == 303)
        }
        let exported = try site.export()
        #expect(
            exported.surveys[1].questions.map { $0.answers.map { $0.votes ?? 0 } } == [[6, 0, 0, 0], [6, 0, 0, 0]])
    }

    @Test func resultsAndChartsOfOpenOrFutureSurveysStayHidden() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        // Imported beside the running server, which loaded the demo into the empty database.
        try site.importSurveys(
            #"{"surveys": [{"id": 50, "title": "Future", "opens": "2026-12-01", "closes": "2026-12-05", "questions": [{"id": 500, "text": "Q", "answers": [{"id": 5000, "text": "A", "votes": 3}, {"id": 5001, "text": "B"}]}]}]}"#
        )
        let exported = try site.export()
        let open = try #require(exported.surveys.first { $0.title == "Weekend Viewing" })
        let page = try server.get("/surveys/\(open.id!)")
        #expect(page.status == 200 && !page.text.contains("Winner") && page.text.contains("<form"))
        #expect(try server.get("/surveys/\(open.id!)/results.json").status == 404)
        #expect(try server.get("/surveys/50").status == 404)
        // Before it opens, a survey is not public: not even its title or its date.
        #expect(!(try server.get("/surveys/50").text.contains("Future")))
        #expect(try server.get("/surveys/50").body == (try server.get("/surveys/999").body))
        #expect(try server.get("/surveys/50/results.json").status == 404)
        #expect(try server.get("/surveys/999").status == 404)
        // The current chart names of open and future questions are never rendered or served.
        let questions = try site.export().surveys.filter { $0.id == open.id || $0.id == 50 }.flatMap(\.questions)
        for question in questions {
            let model = Question(
                id: question.id!, text: question.text,
                answers: question.answers.map { Answer(id: $0.id!, text: $0.text, votes: $0.votes ?? 0) })
            let names = try QuestionCharts.names(for: model, in: .english)
            #expect(try server.get("/piecharts/\(names.file(.wide, scale: 1)!.name.fileName)").status == 404)
            #expect(try server.get("/piecharts/\(names.file(.wide, scale: 2)!.name.fileName)").status == 404)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: site.charts).filter { !$0.hasPrefix(".") }.isEmpty)
    }

    @Test func theSeedsLoadTestLosesNoVotesAcrossTwoServers() throws {
        let site = try Site()
        let first = try site.serve()
        let second = try site.serve()
        defer {
            first.stop()
            second.stop()
        }
        let failures = FailureLog()
        func hammer(clients: Int, ballots: Int) {
            // One thread per client, all at once, as the seed's siege run did.
            let done = DispatchGroup()
            for client in 0..<clients {
                done.enter()
                Thread.detachNewThread {
                    let server = client.isMultiple(of: 2) ? first : second
                    for _ in 0..<ballots {
                        do {
                            let response = try server.post("/surveys/2", body: "q3=7&q4=12")
                            if response.status != 303 { failures.add("status \(response.status)") }
                        } catch {
                            failures.add("\(error)")
                        }
                    }
                    done.leave()
                }
            }
            done.wait()
        }
        hammer(clients: 15, ballots: 5)
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        var votes = try site.export().surveys[1].questions.map { $0.answers.map { $0.votes ?? 0 } }
        #expect(votes == [[75, 0, 0, 0], [0, 75, 0, 0]])
        hammer(clients: 64, ballots: 50)
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        votes = try site.export().surveys[1].questions.map { $0.answers.map { $0.votes ?? 0 } }
        #expect(votes == [[3275, 0, 0, 0], [0, 3275, 0, 0]])
    }

    @Test func badBallotsGet4xxAndRecordNothing() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        let bodies: [(String, Int)] = [
            ("", 400), ("q3=7", 400), ("q3=7&q4=7", 400), ("q3=7&q4=11&q99=1", 400), ("q3=7&q3=8&q4=11", 400),
            ("q3=abc&q4=11", 400), ("x=1", 400), ("q3=7&q4=11&q4=11", 400), ("q3=%zz&q4=11", 400),
            ("q3=-7&q4=11", 400), ("q3=7&q4=11&receipt=short", 400),
            ("q3=7&q4=11&receipt=AAAAAAAAAAAAAAAAAAAAA%2B", 400),
            ("q3=7&q4=11&receipt=AAAAAAAAAAAAAAAAAAAAAA&receipt=BAAAAAAAAAAAAAAAAAAAAA", 400),
        ]
        for (body, status) in bodies {
            let response = try server.post("/surveys/2", body: body)
            #expect(response.status == status, "\(body)")
            #expect(response.text.contains("role=\"alert\""), "\(body)")
        }
        #expect(try server.post("/surveys/1", body: "q1=1&q2=4").status == 409)
        #expect(try server.post("/surveys/999", body: "q1=1").status == 404)
        let tooBig = try server.post("/surveys/2", body: "q3=7&pad=" + String(repeating: "x", count: 70_000))
        #expect(tooBig.status == 413)
        let exported = try site.export()
        #expect(exported.surveys[1].questions.allSatisfy { $0.answers.allSatisfy { ($0.votes ?? 0) == 0 } })
        #expect(exported.surveys[0].questions[0].answers.map { $0.votes ?? 0 } == [2, 2, 1])
    }

    @Test func pagesEscapeHostileSurveyText() throws {
        let site = try Site()
        try site.importSurveys(
            #"{"surveys": [{"title": "<script>alert('t')</script>", "opens": "2026-11-01", "closes": "2026-11-10", "questions": [{"text": "\"><img src=x onerror=alert(1)>", "answers": [{"text": "<b>bold</b> & co", "votes": 2}, {"text": "{{mustache}}", "votes": 1}]}]}, {"title": "<i>open</i>", "opens": "2026-11-20", "closes": "2026-11-30", "questions": [{"text": "<q>", "answers": [{"text": "</label><script>x()</script>"}, {"text": "B"}]}]}]}"#
        )
        let server = try site.serve(["--no-demo"])
        defer { server.stop() }
        let home = try server.get("/").text
        #expect(!home.contains("<script>alert") && home.contains("&lt;script&gt;alert("))
        let results = try server.get("/surveys/1").text
        #expect(!results.contains("<script>") && !results.contains("<img src=x") && !results.contains("<b>bold"))
        #expect(results.contains("&lt;b&gt;bold&lt;/b&gt; &amp; co") && results.contains("{{mustache}}"))
        let form = try server.get("/surveys/2").text
        #expect(!form.contains("<script>x()") && form.contains("&lt;/label&gt;&lt;script&gt;"))
        let json = try server.get("/surveys/1/results.json")
        #expect(json.header("Content-Type") == "application/json")
    }

    @Test func traversalAttacksNeverEscapeTheRoot() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        let attacks = [
            "/static/../secret.txt", "/static/..%2fsecret.txt", "/static/..%2Fsecret.txt", "/static/%2e%2e/secret.txt",
            "/static/%2e%2e%2fsecret.txt", "/static/.%2e/secret.txt", "/static/%2e./secret.txt",
            "/static/..%5csecret.txt", "/static/..\\secret.txt", "/static/%252e%252e/secret.txt",
            "/static/css/../../secret.txt", "/static/css/%2e%2e/%2e%2e/secret.txt", "/static/./hello.txt",
            "/static//secret.txt", "/static/leak.txt", "/static/up/secret.txt", "/static/%2e%2e%2f%2e%2e%2fsecret.txt",
            "/static/.env", "/static/%2eenv", "/static/css/", "/static/", "/static", "/static/hello.txt%00.png",
            "/static/hello.txt%00", "/static/%00", "/static/%", "/static/%zz", "/static/%c0%ae%c0%ae/secret.txt",
            "/static/..%c0%af/secret.txt", "/static/%u002e%u002e/secret.txt", "/piecharts/../secret.txt",
            "/piecharts/..%2fsecret.txt", "/piecharts/.q1.png.pending", "/piecharts/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/static/hello.txt/", "/static/css/site.css/..", "/static/" + String(repeating: "a/", count: 300) + "x",
            "/static/..;/secret.txt", "/static/..%00/secret.txt", "/piecharts/q1-0000000000000000.png/../x",
        ]
        #expect(attacks.count >= 30)
        for attack in attacks {
            let response = try server.get(attack)
            #expect([400, 404].contains(response.status), "\(attack) → \(response.status)")
            #expect(!response.text.contains("TOP-SECRET"), "\(attack) leaked")
        }
        #expect(try server.get("/static/a..b.png").status == 200)
        #expect(try server.get("/static/hello%2etxt").status == 200)
        #expect(try server.get("/static/css/site.css").text == "body { color: red }")
    }

    @Test func conditionalAndRangeRequestsOverHTTP() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        let whole = try server.get("/static/hello.txt")
        #expect(whole.status == 200 && whole.body.count == 1000)
        #expect(whole.header("X-Content-Type-Options") == "nosniff")
        #expect(whole.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(whole.header("Accept-Ranges") == "bytes")
        let etag = try #require(whole.header("ETag"))
        #expect(etag.hasPrefix("\"") && !etag.hasPrefix("W/"))
        let modified = try #require(whole.header("Last-Modified"))
        #expect(try server.get("/static/hello.txt", headers: ["If-None-Match": etag]).status == 304)
        #expect(try server.get("/static/hello.txt", headers: ["If-None-Match": "\"nope\", W/\(etag)"]).status == 304)
        #expect(try server.get("/static/hello.txt", headers: ["If-None-Match": "*"]).status == 304)
        #expect(try server.get("/static/hello.txt", headers: ["If-Modified-Since": modified]).status == 304)
        #expect(
            try server.get("/static/hello.txt", headers: ["If-None-Match": "\"nope\"", "If-Modified-Since": modified])
                .status == 200)
        let suffix = try server.get("/static/hello.txt", headers: ["Range": "bytes=-10"])
        #expect(
            suffix.status == 206 && suffix.text == "0123456789"
                && suffix.header("Content-Range") == "bytes 990-999/1000")
        let middle = try server.get("/static/hello.txt", headers: ["Range": "bytes=5-14"])
        #expect(middle.status == 206 && middle.text == "5678901234")
        let bad = try server.get("/static/hello.txt", headers: ["Range": "bytes=5000-"])
        #expect(bad.status == 416 && bad.header("Content-Range") == "bytes */1000")
        #expect(try server.get("/static/hello.txt", headers: ["Range": "bytes=0-1,3-4,0-999"]).body.count == 1000)
        #expect(
            try server.get("/static/hello.txt", headers: ["Range": "bytes=0-9", "If-Range": "\"stale\""]).status == 200)
        #expect(try server.get("/static/hello.txt", headers: ["Range": "bytes=0-9", "If-Range": etag]).status == 206)
        let head = try RawHTTP.send(port: server.port, method: "HEAD", target: "/static/hello.txt")
        #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == "1000")
        for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
            let response = try RawHTTP.send(port: server.port, method: method, target: "/static/hello.txt")
            #expect(response.status == 405 && response.header("Allow") == "GET, HEAD", "\(method)")
        }
        // A changed file gets a new ETag; memory never serves stale content.
        try site.directory.write("static/hello.txt", "changed")
        let changed = try server.get("/static/hello.txt")
        #expect(changed.text == "changed" && changed.header("ETag") != etag)
    }

    @Test func warmChartsFollowTheSameRulesAsColdOnes() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        let json = try server.get("/surveys/1/results.json")
        let object = try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any]
        let chart = try #require(((object?["questions"] as? [[String: Any]])?[0]["chart"] as? [String: String])?["1x"])
        let cold = try server.get(chart)
        #expect(cold.status == 200)
        // Now it is answered from memory, with the same headers.
        let warm = try server.get(chart)
        #expect(warm.body == cold.body && warm.header("ETag") == cold.header("ETag"))
        #expect(warm.header("Cache-Control") == "public, max-age=31536000, immutable")
        #expect(warm.header("X-Content-Type-Options") == "nosniff" && warm.header("Date") != nil)
        #expect(try server.get(chart, headers: ["If-None-Match": cold.header("ETag")!]).status == 304)
        let tail = try server.get(chart, headers: ["Range": "bytes=-12"])
        #expect(tail.status == 206 && tail.body == Array(cold.body.suffix(12)))
        #expect(try server.get(chart, headers: ["Range": "bytes=999999-"]).status == 416)
        let head = try RawHTTP.send(port: server.port, method: "HEAD", target: chart)
        #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == String(cold.body.count))
        let post = try RawHTTP.send(port: server.port, method: "POST", target: chart)
        #expect(post.status == 405)
        // Several requests on one connection, answered in order, then closed on request. The first
        // is a chart never rendered; the warm chart behind it is ready at once, but must wait its turn.
        let other = try #require(
            ((object?["questions"] as? [[String: Any]])?[1]["chart"] as? [String: String])?["2x"])
        let request =
            "GET \(other) HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET \(chart) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let raw = try RawHTTP.exchange(port: server.port, Array(request.utf8))
        // Split the stream into responses by their Content-Length, in the order they came.
        var responses: [RawHTTPResponse] = []
        var rest = raw[...]
        while !rest.isEmpty, let length = RawHTTP.completeResponseLength(Array(rest)) {
            responses.append(try RawHTTP.parse(Array(rest.prefix(length)), isHead: false))
            rest = rest.dropFirst(length)
        }
        #expect(responses.map(\.status) == [200, 200, 200])
        #expect(responses.map { $0.header("Content-Type") ?? "" } == ["image/png", "text/plain", "image/png"])
        #expect(responses.count == 3 && responses[0].body.count != cold.body.count, "the cold chart came first")
        #expect(responses.count == 3 && responses[1].text == "ok\n" && responses[2].body == cold.body)
    }

    @Test func chartAPIRendersValidSpecsAndRefusesBadOnes() throws {
        let site = try Site()
        let server = try site.serve()
        defer { server.stop() }
        let hostile: [(String, String)] = [
            (#"{"slices": [{"label": "A", "value": -1}]}"#, "slices[0].value"),
            (#"{"slices": [{"label": "A", "value": 1}], "width": 99999}"#, "width"),
            (#"{"slices": [{"label": "A", "value": 1}], "width": 4096, "height": 4096, "scale": 3}"#, "scale"),
            (#"{"slices": []}"#, "slices"),
            (#"{"slices": [{"label": "\#(String(repeating: "x", count: 400))", "value": 1}]}"#, "slices[0].label"),
            (#"{"slices": [{"label": "A", "value": 1}], "extra": true}"#, "extra"),
            ("not json", "$"),
            ("[]", "$"),
        ]
        for (body, field) in hostile {
            let response = try server.post("/api/charts/pie", body: body, contentType: "application/json")
            #expect(response.status == 400, "\(body)")
            #expect(response.header("Content-Type") == "application/json")
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String]
            #expect(object?["field"] == field, "\(body): \(response.text)")
        }
        let huge = try server.post(
            "/api/charts/pie", body: #"{"title": "\#(String(repeating: "x", count: 100_000))"}"#,
            contentType: "application/json")
        #expect(huge.status == 413 && huge.header("Content-Type") == "application/json")
        let tooLarge = try JSONSerialization.jsonObject(with: Data(huge.body)) as? [String: String]
        #expect(
            tooLarge?["error"] == "too_large" && tooLarge?["message"]?.contains("65536 bytes") == true, "\(huge.text)")
        let spec =
            #"{"title": "Favourite?", "slices": [{"label": "Comedy", "value": 2}, {"label": "Drama", "value": 3}], "scale": 2}"#
        let chart = try server.post("/api/charts/pie", body: spec, contentType: "application/json")
        #expect(chart.status == 200 && chart.header("Content-Type") == "image/png")
        let location = try #require(chart.header("Content-Location"))
        #expect(location.hasPrefix("/piecharts/c-") && location.hasSuffix("@2x.png"))
        #expect(try server.get(location).body == chart.body)
        let again = try server.post("/api/charts/pie", body: spec, contentType: "application/json")
        #expect(again.body == chart.body)
        #expect(try server.metric("surveycharts_chart_renders_total") == 1)
    }

    @Test func threeServersShareOneChartDirectoryAndRenderOnce() throws {
        let site = try Site()
        let servers = try (0..<3).map { _ in try site.serve() }
        defer { for server in servers { server.stop() } }
        let json = try servers[0].get("/surveys/1/results.json")
        let object = try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any]
        let questions = object?["questions"] as? [[String: Any]] ?? []
        let targets = questions.compactMap { ($0["chart"] as? [String: String])?["1x"] }
        #expect(targets.count == 2)
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 60) { index in
            let response = try? servers[index % 3].get(targets[index % 2])
            statuses.withLock { $0.append(response?.status ?? -1) }
        }
        #expect(statuses.withLock { $0 }.allSatisfy { $0 == 200 })
        var renders = 0
        for server in servers {
            renders += Int(try server.metric("surveycharts_chart_renders_total") ?? -100)
        }
        #expect(renders == 2)
    }

    @Test func startupChecksFailWithOneLine() throws {
        let site = try Site()
        let blocker = try site.directory.write("not-a-directory", "x")
        let cases: [([String], String)] = [
            (["--charts-dir", blocker + "/charts"], "chart directory"),
            (["--static-dir", site.directory.path + "/missing"], "static directory"),
            (["--database", blocker + "/db.sqlite3"], "cannot open the database"),
        ]
        for (arguments, message) in cases {
            let result = try Executable.refusedServe(
                ["--database", site.database, "--charts-dir", site.charts, "--static-dir", site.statics] + arguments)
            #expect(result.status == 73, "\(arguments): \(result.standardError)")
            let lines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("surveycharts:") }
            #expect(lines.count == 1 && lines[0].contains(message), "\(result.standardError)")
        }
    }

    @Test func aStalledLogPipeNeverStopsTheServer() throws {
        let site = try Site()
        // Standard error is a pipe nobody reads: 64 KB of request logs would fill it.
        let running = try Executable.start(
            [
                "serve", "--port", "0", "--exit-with-parent", "--no-prerender", "--database", site.database,
                "--charts-dir", site.charts, "--static-dir", site.statics,
            ])
        defer {
            kill(running.pid, SIGKILL)
            running.process.waitUntilExit()
        }
        let seen = try running.waitForOutput("listening on http://")
        let port = Int(seen.split(separator: "\n").first { $0.contains("listening") }!.split(separator: ":").last!)!
        var statuses: [Int: Int] = [:]
        for _ in 0..<2000 {
            let status = (try? RawHTTP.send(port: port, target: "/static/hello.txt", timeoutSeconds: 5).status) ?? -1
            statuses[status, default: 0] += 1
            if status == -1 { break }  // blocked: one timeout is enough to know
        }
        #expect(statuses == [200: 2000])
    }

    @Test func sigtermStopsGracefully() throws {
        let site = try Site()
        let server = try site.serve()
        #expect(try server.get("/healthz").status == 200)
        #expect(server.stop() == 0)
    }

    /// `--exit-with-parent` follows the parent *process*: a server outlives the thread that started
    /// it (a test's cooperative thread can be retired while the test sleeps), and stops once the
    /// process that started it is gone.
    @Test func exitWithParentFollowsTheParentProcessNotItsThread() throws {
        let site = try Site()
        // Started from a thread that ends at once.
        let started = Mutex<Result<ServerProcess, any Error>?>(nil)
        let arguments = ["--database", site.database, "--charts-dir", site.charts, "--no-prerender", "--no-demo"]
        let thread = Thread { started.withLock { $0 = Result { try ServerProcess(arguments) } } }
        thread.start()
        let deadline = ContinuousClock.now + .seconds(60)
        while started.withLock({ $0 == nil }) && ContinuousClock.now < deadline { usleep(10_000) }
        let server = try #require(try started.withLock { try $0?.get() })
        usleep(1_500_000)  // the thread has long ended
        #expect(try server.get("/healthz").status == 200)
        #expect(server.process.isRunning)

        // Started by a shell that is then killed: the server stops within a few seconds.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        let command =
            [Executable.url("surveycharts").path, "serve", "--port", "0", "--exit-with-parent"]
            + ["--no-prerender", "--no-demo", "--database", site.database, "--charts-dir", site.charts]
        shell.arguments = ["-c", command.joined(separator: " ") + " >/dev/null 2>&1 & echo $!; wait"]
        let output = Pipe()
        shell.standardOutput = output
        try shell.run()
        let read = ChildProcess.read([output.fileHandleForReading.fileDescriptor], until: .now + .seconds(20)) {
            $0[0].last == UInt8(ascii: "\n")
        }
        let line = String(decoding: read.bytes[0], as: UTF8.self)
        let child = try #require(
            pid_t(line.trimmingCharacters(in: .whitespacesAndNewlines)), "the shell printed \(line)")
        defer { kill(child, SIGKILL) }
        usleep(500_000)
        kill(shell.processIdentifier, SIGKILL)
        // Reaped here, bounded: Foundation's `waitUntilExit` was seen to hang on a shell killed so.
        let reapedBy = ContinuousClock.now + .seconds(10)
        var status: Int32 = 0
        while waitpid(shell.processIdentifier, &status, WNOHANG) == 0 && ContinuousClock.now < reapedBy {
            usleep(20_000)
        }
        // Gone, or a zombie waiting for whoever adopted it.
        func alive() -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8) else { return false }
            return !stat.split(separator: ")").last!.hasPrefix(" Z")
        }
        let stopBy = ContinuousClock.now + .seconds(10)
        while alive() && ContinuousClock.now < stopBy { usleep(50_000) }
        #expect(!alive(), "the server outlived the process that started it")
    }
}

/// Failures collected from many threads.
final class FailureLog: Sendable {
    private let entries = Mutex<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}
