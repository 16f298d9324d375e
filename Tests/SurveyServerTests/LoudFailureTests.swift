import Foundation
import TestSupport
import Testing

/// Failures the client cannot fix are loud: a status with a body and a Content-Type, a log line
/// with the cause, and Retry-After where retrying helps.
@Suite("Loud failures", .serialized, .timeLimit(.minutes(2)))
struct LoudFailureTests {
    @Test func aChartThatCannotBeStoredIsA503PageWithALogLine() throws {
        // Create the database (and its cookie key) without limits and fold its log into it; then
        // serve where no file may grow past 40 kB: the 12-answer chart at 2x (about 47 kB) cannot
        // be written, as on a full disk, while the database (reads, a 32 kB shared-memory file) works.
        let site = try Self.siteWithItsDatabase()
        let server = try ServerProcess(
            [
                "--database", site.database, "--charts-dir", site.charts, "--static-dir", site.statics, "--today",
                ServerTests.today, "--no-prerender",
            ], wrapper: ["/usr/bin/prlimit", "--fsize=40000", "--"])
        defer { server.stop() }
        let json = try server.get("/surveys/4/results.json")
        let chart = try #require(
            ((try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])?["questions"]
                as? [[String: Any]])?.first?["chart"] as? [String: String])["2x"]!
        let response = try server.get(chart)
        #expect(response.status == 503)
        #expect(response.header("Content-Type") == "text/html; charset=utf-8")
        #expect(response.header("Retry-After") == "30")
        #expect(response.text.contains("cannot store charts"))
        #expect(server.logContains("cannot store a chart for GET \(chart)"))
        // The page names the request's id, and the failure's log line carries the same id.
        let reference = try #require(response.text.firstMatch(of: /Reference: ([0-9a-f]{16,32})\./)?.1)
        #expect(server.logContains("hb.request.id=\(reference)"))
        let line = try #require(server.log.split(separator: "\n").first { $0.contains("cannot store a chart for GET") })
        #expect(line.contains("hb.request.id=\(reference)"), "\(line)")
        // Nothing partial is left at the final name, and the server still answers.
        #expect(!FileManager.default.fileExists(atPath: site.charts + "/" + chart.dropFirst("/piecharts/".count)))
        #expect(try server.get("/healthz").status == 200)
    }

    /// A site whose database exists (with its cookie key) and whose write-ahead log is empty.
    static func siteWithItsDatabase() throws -> ServerTests.Site {
        let site = try ServerTests.Site()
        let setup = try site.serve()
        setup.stop()
        try checkpoint(site.database)
        return site
    }

    /// Folds the write-ahead log into the database file, so that the log starts empty.
    static func checkpoint(_ database: String) throws {
        let checkpoint = try Executable.start(
            program: "/usr/bin/env",
            [
                "python3", "-c",
                "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')",
                database,
            ]
        ).finish(within: .seconds(60))
        #expect(checkpoint.status == 0, "\(checkpoint.standardError)")
    }

    /// A database that fills up (no file may grow past 40 kB, as on a full disk): ballots that
    /// cannot be committed get a 503 page with Retry-After and a log line, every 303 is counted,
    /// and no ballot is counted that was not acknowledged.
    @Test func aFullDatabaseRefusesBallotsLoudlyAndLosesNone() throws {
        let site = try Self.siteWithItsDatabase()
        let server = try ServerProcess(
            [
                "--database", site.database, "--charts-dir", site.charts, "--static-dir", site.statics, "--today",
                ServerTests.today, "--no-prerender", "--ballots-per-browser", "any",
            ], wrapper: ["/usr/bin/prlimit", "--fsize=40000", "--"])
        var acknowledged = 0
        var refused: RawHTTPResponse?
        for _ in 0..<200 {
            let response = try server.post("/surveys/2", body: "q3=7&q4=12")
            if response.status == 303 {
                acknowledged += 1
            } else {
                refused = response
                break
            }
        }
        let response = try #require(refused, "200 ballots fit in 40 kB of log")
        #expect(response.status == 503)
        #expect(response.header("Content-Type") == "text/html; charset=utf-8")
        #expect(response.header("Retry-After") == "5")
        // The form again, filled in, saying nothing was recorded.
        #expect(response.text.contains("busy or unavailable, so your vote was not recorded"))
        #expect(
            response.text.contains("name=\"q3\" value=\"7\" checked")
                && response.text.contains("name=\"q4\" value=\"12\" checked"))
        #expect(server.logContains("database failure on POST /surveys/2"))
        #expect(try server.get("/healthz").status == 200)
        server.stop()
        let votes = try site.export().surveys[1].questions.map { $0.answers.map { $0.votes ?? 0 } }
        #expect(acknowledged > 0)
        #expect(votes == [[acknowledged, 0, 0, 0], [0, acknowledged, 0, 0]])
    }

    /// A database file this user may read but not write stops start-up with one line and exit
    /// status 73, instead of serving pages while every ballot fails.
    @Test func aDatabaseThisUserCannotWriteStopsStartUp() throws {
        let site = try Self.siteWithItsDatabase()
        let manager = FileManager.default
        // The directory stays writable (SQLite may create its -wal and -shm files there); only
        // the database file is not. Root may write anything, so root runs the server as nobody.
        try manager.setAttributes([.posixPermissions: 0o777], ofItemAtPath: site.directory.path)
        try manager.setAttributes([.posixPermissions: 0o777], ofItemAtPath: site.charts)
        try manager.setAttributes([.posixPermissions: getuid() == 0 ? 0o644 : 0o444], ofItemAtPath: site.database)
        for sidecar in ["-wal", "-shm"] { try? manager.removeItem(atPath: site.database + sidecar) }
        let refused = try Executable.refusedServe(
            ["--database", site.database, "--charts-dir", site.charts, "--static-dir", site.statics, "--no-prerender"],
            wrapper: getuid() == 0
                ? ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"] : [])
        let message = refused.standardError
        #expect(refused.status == 73, "\(message)")
        #expect(message.split(separator: "\n").count == 1, "\(message)")
        #expect(message.contains("cannot open the database \(site.database)"), "\(message)")
        #expect(message.contains("readonly database"), "\(message)")
        #expect(message.contains("check the path and that this user can write the file"), "\(message)")
        try? manager.setAttributes([.posixPermissions: 0o644], ofItemAtPath: site.database)
    }
}
