import Foundation
import TestSupport
import Testing

@testable import SurveyServer

/// A server with the demo surveys and its demo operator, and a signed-in session.
final class AdminSite {
    let site: ServerTests.Site
    let server: ServerProcess
    let password: String

    init(_ extra: [String] = []) throws {
        site = try ServerTests.Site()
        // A server whose output is not a terminal makes no demo operator: the site's operator is
        // added as an operator would add one.
        password = "demo-password-\(UUID().uuidString.prefix(8))"
        try site.addOperator("demo", password: password)
        server = try site.serve(extra)
    }

    deinit { server.stop() }

    /// Signs in and returns the session cookie (`name=value`) and the CSRF token.
    func signIn(name: String = "demo", password: String? = nil) throws -> (cookie: String, csrf: String) {
        let response = try server.post(
            "/admin/login", body: "name=\(name)&password=\(password ?? self.password)")
        #expect(response.status == 303, "\(response.status) \(response.text.prefix(300))")
        let setCookie = try #require(response.header("Set-Cookie"))
        let cookie = String(setCookie.split(separator: ";")[0])
        return (cookie, try csrf(cookie))
    }

    func csrf(_ cookie: String) throws -> String {
        let page = try server.get("/admin", headers: ["Cookie": cookie]).text
        return try #require(AdminSite.field("csrf", in: page))
    }

    func get(_ path: String, cookie: String?, accept: String? = nil) throws -> RawHTTPResponse {
        var headers: [String: String] = [:]
        if let cookie { headers["Cookie"] = cookie }
        if let accept { headers["Accept"] = accept }
        return try server.get(path, headers: headers)
    }

    func post(
        _ path: String, _ body: String, cookie: String?, origin: String? = nil, accept: String? = nil
    ) throws
        -> RawHTTPResponse
    {
        var headers: [String: String] = [:]
        if let cookie { headers["Cookie"] = cookie }
        if let origin { headers["Origin"] = origin }
        if let accept { headers["Accept"] = accept }
        return try server.post(path, body: body, headers: headers)
    }

    /// Every survey with its votes, to prove that a refused request changed nothing.
    func snapshot() throws -> String {
        try get("/surveys/1/results.json", cookie: nil).text + (try site.exportText())
    }

    /// The value of the hidden or text field `name` in `page`.
    static func field(_ name: String, in page: String) -> String? {
        guard let range = page.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }

    /// `value` encoded for a form body.
    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed)!
    }
}

@Suite("Admin: sign-in, sessions and the auth table", .serialized, .timeLimit(.minutes(3)))
struct AdminAuthTests {
    /// Every admin route × (no session, expired session, wrong CSRF token, another origin): a
    /// browser is sent to sign in, a program gets 401, a forged form gets 403, and nothing changes.
    @Test func everyAdminRouteNeedsASessionAndEveryPostItsToken() throws {
        let admin = try AdminSite()
        let (cookie, csrf) = try admin.signIn()
        let (expiring, _) = try admin.signIn()
        try admin.site.sql(
            "UPDATE admin_session SET last_seen = last_seen - 13 * 3600 WHERE id_hash = '\(AdminAuthentication.hash(String(expiring.split(separator: "=")[1])))'"
        )
        let before = try admin.snapshot()
        #expect(AdminRoutes.operatorRoutes.count == 13)
        for (method, pattern) in AdminRoutes.operatorRoutes {
            let path = pattern.replacingOccurrences(of: ":id", with: "2")
            let body = "csrf=\(csrf)&confirm=Weekend+Viewing&title=Changed&opens=2026-11-01&closes=2026-11-02"
            for (label, session) in [("no session", nil), ("expired session", expiring)] as [(String, String?)] {
                let program =
                    method == .get ? try admin.get(path, cookie: session) : try admin.post(path, body, cookie: session)
                #expect(program.status == 401, "\(label): \(method) \(path)")
                #expect(program.header("Content-Type") == "application/json", "\(label): \(method) \(path)")
                #expect(program.text.contains("\"login_required\""), "\(label): \(method) \(path)")
                let browser =
                    method == .get
                    ? try admin.get(path, cookie: session, accept: "text/html")
                    : try admin.post(path, body, cookie: session, accept: "text/html")
                #expect(browser.status == 303, "\(label): \(method) \(path)")
                #expect(browser.header("Location")?.hasPrefix("/admin/login?next=") == true, "\(label): \(path)")
            }
            if method == .post {
                let forged = body.replacingOccurrences(of: "csrf=\(csrf)", with: "csrf=\(String(csrf.reversed()))")
                let wrongToken = try admin.post(path, forged, cookie: cookie)
                #expect(wrongToken.status == 403, "wrong CSRF: \(path)")
                let noToken = try admin.post(path, "title=x", cookie: cookie)
                #expect(noToken.status == 403, "no CSRF: \(path)")
                let otherSite = try admin.post(path, body, cookie: cookie, origin: "https://evil.example")
                #expect(otherSite.status == 403, "another origin: \(path)")
            } else {
                #expect(try admin.get(path, cookie: cookie).status == 200, "signed in: GET \(path)")
            }
        }
        #expect(try admin.snapshot() == before)
        // The expired session is gone for good, even if its clock were put back.
        #expect(try admin.site.sqlCount("SELECT COUNT(*) FROM admin_session") == 1)
    }

    @Test func signInSetsAStrictHttpOnlyCookieAndSignOutEndsTheSession() throws {
        let admin = try AdminSite(["--trusted-proxy", "127.0.0.1"])
        let login = try admin.server.post(
            "/admin/login", body: "name=demo&password=\(admin.password)&next=%2Fadmin%2Fsurveys%2F2")
        #expect(login.status == 303)
        #expect(login.header("Location") == "/admin/surveys/2")
        let setCookie = try #require(login.header("Set-Cookie"))
        #expect(setCookie.contains("; Path=/admin; HttpOnly; SameSite=Strict"))
        #expect(!setCookie.contains("Secure"))
        let value = String(setCookie.split(separator: ";")[0].split(separator: "=")[1])
        #expect(
            Data(
                base64Encoded: value.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
                    + "=")?.count == 32)
        // Behind a trusted proxy that says HTTPS, the cookie is Secure.
        let https = try admin.server.post(
            "/admin/login", body: "name=demo&password=\(admin.password)", headers: ["X-Forwarded-Proto": "https"])
        #expect(https.header("Set-Cookie")?.contains("; Secure") == true)
        // The store keeps a hash of the session id, never the id.
        #expect(try admin.site.sqlCount("SELECT COUNT(*) FROM admin_session WHERE id_hash = '\(value)'") == 0)
        #expect(
            try admin.site.sqlCount(
                "SELECT COUNT(*) FROM admin_session WHERE id_hash = '\(AdminAuthentication.hash(value))'") == 1)
        // Only local admin paths may follow a sign-in.
        for next in ["https%3A%2F%2Fevil.example", "%2F%2Fevil.example", "%2Fsurveys%2F1"] {
            let away = try admin.server.post("/admin/login", body: "name=demo&password=\(admin.password)&next=\(next)")
            #expect(away.header("Location") == "/admin", "\(next)")
        }
        let cookie = "surveycharts_session=\(value)"
        let csrf = try admin.csrf(cookie)
        let out = try admin.post("/admin/logout", "csrf=\(csrf)", cookie: cookie)
        #expect(out.status == 303 && out.header("Location") == "/admin/login")
        #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(try admin.get("/admin", cookie: cookie).status == 401)
        #expect(admin.server.logContains("admin sign-in: demo from 127.0.0.1"))
        #expect(admin.server.logContains("admin sign-out: demo from 127.0.0.1"))
    }

    @Test func failedSignInsAreThrottledPerAccountAndPerAddress() throws {
        let admin = try AdminSite()
        // Five wrong passwords for one account, from 127.0.0.2: the sixth try, even with the right
        // password and from another address, waits.
        for attempt in 1...5 {
            let wrong = try admin.server.post(
                "/admin/login", body: "name=demo&password=wrong-password-\(attempt)", source: "127.0.0.2")
            #expect(wrong.status == 401, "attempt \(attempt)")
            #expect(wrong.text.contains("do not match"))
        }
        let account = try admin.server.post("/admin/login", body: "name=demo&password=\(admin.password)")
        #expect(account.status == 429)
        let wait = try #require(account.header("Retry-After").flatMap(Int.init))
        #expect(wait > 500 && wait <= 600)
        #expect(account.header("Set-Cookie") == nil)
        #expect(account.text.contains("Too many failed sign-ins"))
        // Five different names from one address: that address waits, for every name.
        for attempt in 1...5 {
            let wrong = try admin.server.post(
                "/admin/login", body: "name=guess\(attempt)&password=whatever-it-is", source: "127.0.0.3")
            #expect(wrong.status == 401)
        }
        let address = try admin.server.post(
            "/admin/login", body: "name=someone&password=whatever-it-is", source: "127.0.0.3")
        #expect(address.status == 429)
        // Another address and another account are not affected.
        try admin.site.addOperator("ops", password: "another long password")
        let other = try admin.server.post(
            "/admin/login", body: "name=ops&password=another+long+password", source: "127.0.0.4")
        #expect(other.status == 303)
        #expect(admin.server.logContains("admin sign-in failed for demo from 127.0.0.2"))
        #expect(admin.server.logContains("admin sign-in throttled for demo from 127.0.0.1"))
    }
}

extension AdminAuthTests {
    /// `count` copies of one request, all on the wire before any answer is read, so that the
    /// server really has them at once; returns the statuses.
    static func burst(
        port: Int, count: Int, target: String = "/admin/login", body: String, headers: [String: String] = [:],
        source: String? = nil, bodies: [String] = [], sources: [String] = []
    ) throws -> [Int] {
        var head = "POST \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        var descriptors: [Int32] = []
        defer { for descriptor in descriptors { close(descriptor) } }
        for index in 0..<count {
            let from = sources.isEmpty ? source : sources[index % sources.count]
            descriptors.append(try RawHTTP.connect(port: port, readTimeoutSeconds: 60, source: from))
        }
        for (index, descriptor) in descriptors.enumerated() {
            let text = bodies.isEmpty ? body : bodies[index % bodies.count]
            let request = Array(
                (head.replacingOccurrences(
                    of: "Content-Length: \(body.utf8.count)", with: "Content-Length: \(text.utf8.count)")
                    + "\r\n" + text).utf8)
            let written = request.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            #expect(written == request.count)
        }
        return descriptors.map { descriptor in
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let read = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if read < 0 && errno == EINTR { continue }
                if read <= 0 { break }
                received += buffer[0..<read]
            }
            return (try? RawHTTP.parse(received, isHead: false).status) ?? -1
        }
    }

    @Test func aBurstOfWrongPasswordsRunsAtMostFiveChecksAndNeverLocksOutAKnownDevice() throws {
        let admin = try AdminSite()
        // The operator has signed in from this browser before: it holds a device cookie.
        let first = try admin.server.post("/admin/login", body: "name=demo&password=\(admin.password)")
        let device = try #require(
            first.headers.first { $0.name.lowercased() == "set-cookie" && $0.value.hasPrefix("surveycharts_device=") })
        #expect(device.value.contains("Path=/admin/login; HttpOnly; SameSite=Strict; Max-Age=31536000"))
        let deviceCookie = String(device.value.split(separator: ";")[0])

        let statuses = try Self.burst(
            port: admin.server.port, count: 200, body: "name=demo&password=wrong-password", source: "127.0.0.2")
        // Exactly five attempts reached bcrypt. The rest waited (429), or found the password
        // budget full before anything was written (503).
        #expect(statuses.filter { $0 == 401 }.count == 5, "\(statuses.filter { $0 == 401 }.count) checks")
        #expect(statuses.filter { $0 == 429 || $0 == 503 }.count == 195, "\(Set(statuses))")
        #expect(statuses.contains(429))

        // The account is slowed down for clients it does not know...
        let unknown = try admin.server.post(
            "/admin/login", body: "name=demo&password=\(admin.password)", source: "127.0.0.3")
        #expect(unknown.status == 429)
        // (The log is written in order: once this line is there, every failure before it is too.)
        #expect(admin.server.logContains("admin sign-in throttled for demo from 127.0.0.3"))
        #expect(admin.server.log.components(separatedBy: "admin sign-in failed for demo").count - 1 == 5)
        // A device cookie is signed and bound to its account: altered, it is an unknown client's.
        let forged = deviceCookie.dropLast(3) + (deviceCookie.hasSuffix("AAA") ? "BBB" : "AAA")
        let other = try admin.server.post(
            "/admin/login", body: "name=demo&password=\(admin.password)", headers: ["Cookie": String(forged)],
            source: "127.0.0.4")
        #expect(other.status == 429)
        // ...and it is bound to its account: demo's device cookie is an unknown client's for ops.
        try admin.site.addOperator("ops", password: "ops-password-1")
        let reused = try admin.server.post(
            "/admin/login", body: "name=ops&password=wrong-password", headers: ["Cookie": deviceCookie],
            source: "127.0.0.2")
        #expect(reused.status == 429, "the attacker's address is still throttled: the cookie gave it nothing")
        // ...but its operator, on a device that signed in before, is let in at once.
        let known = try admin.server.post(
            "/admin/login", body: "name=demo&password=\(admin.password)", headers: ["Cookie": deviceCookie],
            source: "127.0.0.3")
        #expect(known.status == 303, "\(known.status) \(known.text.prefix(200))")
        // Removing the operator forgets its devices: re-created, the same cookie is an unknown client's.
        let removed = try Executable.run(["user", "remove", "demo", "--database", admin.site.database])
        #expect(removed.status == 0)
        try admin.site.addOperator("demo", password: admin.password)
        let stale = try admin.server.post(
            "/admin/login", body: "name=demo&password=\(admin.password)", headers: ["Cookie": deviceCookie],
            source: "127.0.0.3")
        // (The account's failures were cleared by the sign-in above, so it is let in, as a new device.)
        #expect(stale.status == 303)
        func deviceValue(_ response: RawHTTPResponse) -> String? {
            response.headers.first {
                $0.name.lowercased() == "set-cookie" && $0.value.hasPrefix("surveycharts_device=")
            }
            .map { String($0.value.split(separator: ";")[0]) }
        }
        #expect(deviceValue(known) == deviceCookie, "a known device keeps its id")
        #expect(
            deviceValue(stale) != nil && deviceValue(stale) != deviceCookie,
            "a removed operator's device is still known")
    }

    /// More sign-ins at once than password checks may run: the rest get 503 at once, and static
    /// files and pages are answered meanwhile.
    @Test func passwordChecksHaveABudgetOfTheirOwn() throws {
        let admin = try AdminSite()
        let sources = (2...9).map { "127.0.0.\($0)" }
        let bodies = (0..<40).map { "name=guess\($0)&password=wrong-password" }
        // Meanwhile, a reader fetches static files and a results page.
        let others = FailureLog()
        let reader = DispatchGroup()
        reader.enter()
        Thread.detachNewThread { [port = admin.server.port] in
            for _ in 0..<10 {
                for target in ["/static/css/site.css", "/surveys/1"] {
                    let status = (try? RawHTTP.send(port: port, target: target).status) ?? -1
                    if status != 200 { others.add("\(target): \(status)") }
                }
            }
            reader.leave()
        }
        let statuses = try Self.burst(
            port: admin.server.port, count: 40, body: bodies[0], bodies: bodies, sources: sources)
        #expect(reader.wait(timeout: .now() + 120) == .success)
        #expect(others.all.isEmpty, "\(others.all)")
        #expect(statuses.allSatisfy { [401, 503].contains($0) }, "\(Set(statuses))")
        #expect(statuses.contains(503), "40 checks at once all ran: \(statuses)")
        #expect(statuses.filter { $0 == 401 }.count >= 10, "fewer than the budget ran: \(statuses)")
        // A check that never ran gave its reservation back: each address still has tries left.
        let after = try admin.server.post(
            "/admin/login", body: "name=demo&password=\(admin.password)", source: "127.0.0.2")
        #expect(after.status == 303 || statuses.filter { $0 == 401 }.count == 40)
    }

    @Test func anOperatorUnlocksAnAccountFromTheCommandLine() throws {
        let admin = try AdminSite()
        for attempt in 1...5 {
            #expect(
                try admin.server.post("/admin/login", body: "name=demo&password=wrong-\(attempt)", source: "127.0.0.2")
                    .status == 401)
        }
        #expect(
            try admin.server.post("/admin/login", body: "name=demo&password=\(admin.password)", source: "127.0.0.3")
                .status == 429)
        let unlocked = try Executable.run(["user", "unlock", "demo", "--database", admin.site.database])
        #expect(unlocked.status == 0, "\(unlocked.standardError)")
        #expect(
            try admin.server.post("/admin/login", body: "name=demo&password=\(admin.password)", source: "127.0.0.3")
                .status == 303)
        // The attacker's address still waits.
        #expect(
            try admin.server.post("/admin/login", body: "name=demo&password=wrong-6", source: "127.0.0.2").status == 429
        )
        let nobody = try Executable.run(["user", "unlock", "nobody", "--database", admin.site.database])
        #expect(nobody.status != 0 && nobody.standardError.contains("no operator called nobody"))
    }

    @Test func theThrottleHoldsAcrossProcesses() throws {
        let admin = try AdminSite()
        let second = try admin.site.serve(["--no-demo"])
        defer { second.stop() }
        var refused = 0
        for attempt in 0..<12 {
            let server = attempt % 2 == 0 ? admin.server : second
            let response = try server.post(
                "/admin/login", body: "name=demo&password=wrong-\(attempt)", source: "127.0.0.5")
            if response.status == 401 { refused += 1 }
        }
        #expect(refused == 5, "two processes gave \(refused) tries")
    }
}

extension ServerTests.Site {
    /// Runs SQL on the site's database, as an outside process would (Python's sqlite3, or psql).
    func sql(_ statement: String) throws {
        if onPostgres {
            try TestPostgres.psql(database, statement)
            return
        }
        let result = try Executable.start(
            program: "/usr/bin/env",
            [
                "python3", "-c",
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
                database, statement,
            ]
        ).finish(within: .seconds(60))
        #expect(result.status == 0, "\(statement): \(result.standardError)")
    }

    /// The single number `query` returns.
    func sqlCount(_ query: String) throws -> Int {
        if onPostgres {
            return Int(try TestPostgres.psql(database, query).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let result = try Executable.start(
            program: "/usr/bin/env",
            [
                "python3", "-c",
                "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])",
                database, query,
            ]
        ).finish(within: .seconds(60))
        return Int(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// `surveycharts export` of the site's database.
    func exportText() throws -> String {
        try Executable.run(["export", "--database", database]).standardOutput
    }

    /// Adds an operator through the command line, as a person would.
    func addOperator(_ name: String, password: String) throws {
        let running = try Executable.start(["user", "add", name, "--password-stdin", "--database", database])
        running.input(password + "\n")
        let result = try running.finish()
        #expect(result.status == 0, "\(result.standardError)")
    }
}
