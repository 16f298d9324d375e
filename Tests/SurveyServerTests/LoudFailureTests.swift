import Foundation
import TestSupport
import Testing

/// Failures the client cannot fix are loud: a status with a body and a Content-Type, a log line
/// with the cause, and Retry-After where retrying helps.
@Suite("Loud failures", .serialized, .timeLimit(.minutes(2)))
struct LoudFailureTests {
    @Test func aChartThatCannotBeStoredIsA503PageWithALogLine() throws {
        let site = try ServerTests.Site()
        // Create the database (and its cookie key) without limits and fold its log into it; then
        // serve where no file may grow past 60 kB: the 12-answer chart at 2x (about 120 kB) cannot
        // be written, as on a full disk, while the database (reads, a 32 kB shared-memory file) works.
        do {
            let setup = try site.serve()
            setup.stop()
            let checkpoint = Process()
            checkpoint.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            checkpoint.arguments = [
                "python3", "-c",
                "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')",
                site.database,
            ]
            try checkpoint.run()
            checkpoint.waitUntilExit()
            #expect(checkpoint.terminationStatus == 0)
        }
        let server = try ServerProcess(
            [
                "--database", site.database, "--charts-dir", site.charts, "--static-dir", site.statics, "--today",
                ServerTests.today, "--no-prerender",
            ], wrapper: ["/usr/bin/prlimit", "--fsize=60000", "--"])
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
        // Nothing partial is left at the final name, and the server still answers.
        #expect(!FileManager.default.fileExists(atPath: site.charts + "/" + chart.dropFirst("/piecharts/".count)))
        #expect(try server.get("/healthz").status == 200)
    }
}
