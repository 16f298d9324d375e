import Foundation
import TestSupport
import Testing

@testable import StaticFiles
@testable import SurveyServer

/// Running out of file descriptors: the server caps its connections below the limit, never spins
/// on `accept`, answers 503 (never 404) when a file cannot be opened, and serves again once the
/// flood is gone. The server runs under `prlimit --nofile=256`.
@Suite("File-descriptor exhaustion", .serialized, .timeLimit(.minutes(2)))
struct DescriptorLimitTests {
    typealias Client = RawConnection

    static func serve(_ site: ServerTests.Site, _ extra: [String]) throws -> ServerProcess {
        try ServerProcess(
            [
                "--database", site.database, "--charts-dir", site.charts, "--static-dir", site.statics, "--today",
                ServerTests.today, "--no-prerender", "--no-access-log",
            ] + extra, wrapper: ["/usr/bin/prlimit", "--nofile=256:256", "--"])
    }

    /// CPU time (user + system) the process has used, in clock ticks (1/100 s).
    static func cpuTicks(_ pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        return Int(fields[11])! + Int(fields[12])!  // utime and stime: fields 14 and 15 of the line
    }

    static func request(_ client: Client, _ target: String) -> String {
        client.send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return client.readSome()
    }

    @Test func connectionsBeyondTheCapWaitAndNothingSpins() throws {
        let site = try ServerTests.Site()
        let server = try Self.serve(site, [])
        defer { server.stop() }
        #expect(try server.get("/healthz").status == 200)
        #expect(server.logContains("connections: at most 192 at once (file descriptors: 256 of 256)"))
        let keeper = try Client(port: server.port, readTimeoutSeconds: 5)
        #expect(Self.request(keeper, "/healthz").hasPrefix("HTTP/1.1 200"))
        var flood = try (0..<300).map { _ in try Client(port: server.port, readTimeoutSeconds: 1) }
        let probe = flood.removeLast()
        let before = try Self.cpuTicks(server.process.processIdentifier)
        // Beyond the cap, a connection waits in the backlog: not answered, not refused.
        #expect(Self.request(probe, "/healthz").isEmpty)
        usleep(1_000_000)
        let spent = try Self.cpuTicks(server.process.processIdentifier) - before
        #expect(spent < 30, "the server used \(spent) ticks of CPU in 2 s while full")
        // Connections already open are still served.
        #expect(Self.request(keeper, "/static/css/site.css").hasPrefix("HTTP/1.1 200"))
        flood.removeAll()
        // Once the flood is gone, the waiting connection is served.
        probe.readTimeout(seconds: 10)
        #expect(probe.readSome().hasPrefix("HTTP/1.1 200"))
    }

    @Test func aCapAboveTheDescriptorLimitIsClampedAndFilesAreNeverMissing() throws {
        let site = try ServerTests.Site()
        // Asked for more connections than descriptors: accept would run out of descriptors and spin.
        let server = try Self.serve(site, ["--max-connections", "2000"])
        defer { server.stop() }
        let keeper = try Client(port: server.port, readTimeoutSeconds: 5)
        #expect(Self.request(keeper, "/healthz").hasPrefix("HTTP/1.1 200"))
        #expect(server.logContains("--max-connections 2000 is more than 256 file descriptors allow; using 192"))
        var flood = try (0..<320).map { _ in try Client(port: server.port, readTimeoutSeconds: 1) }
        usleep(500_000)
        let before = try Self.cpuTicks(server.process.processIdentifier)
        usleep(2_000_000)
        let spent = try Self.cpuTicks(server.process.processIdentifier) - before
        #expect(spent < 40, "accept spun: \(spent) ticks of CPU in 2 s")
        // A static file never read before is opened now: it is served, never a 404.
        let answer = Self.request(keeper, "/static/hello.txt")
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(80))")
        flood.removeAll()
        usleep(500_000)
        #expect(try server.get("/healthz").status == 200)
    }
}

extension DescriptorLimitTests {
    /// Descriptors that run out anyway (here the limit is lowered while the server runs, below
    /// its connection cap): no spin on `accept`, one log line per interval, waiting connections
    /// shed one a second, and served again once the flood is gone.
    @Test func descriptorsRunningOutAnywayShedConnectionsWithoutSpinning() throws {
        let site = try ServerTests.Site()
        let server = try Self.serve(site, [])
        defer { server.stop() }
        let keeper = try Client(port: server.port, readTimeoutSeconds: 5)
        #expect(Self.request(keeper, "/healthz").hasPrefix("HTTP/1.1 200"))
        let pid = server.process.processIdentifier
        let lower = try Executable.start(program: "/usr/bin/prlimit", ["--pid", String(pid), "--nofile=80:80"])
            .finish(within: .seconds(30))
        #expect(lower.status == 0, "\(lower.standardError)")
        var flood = try (0..<150).map { _ in try Client(port: server.port, readTimeoutSeconds: 1) }
        usleep(500_000)
        let before = try Self.cpuTicks(pid)
        usleep(2_000_000)
        let spent = try Self.cpuTicks(pid) - before
        // Before the reserve descriptor: 140 to 200 ticks (one core spinning on accept4 → EMFILE).
        #expect(spent < 30, "accept spun: \(spent) ticks of CPU in 2 s")
        #expect(server.logContains("accept: out of file descriptors"))
        let reports = server.log.components(separatedBy: "accept: out of file descriptors").count - 1
        #expect(reports == 1, "logged \(reports) times in under 10 s")
        flood.removeAll()
        usleep(300_000)
        let shed = try server.metric("surveycharts_connections_shed_total")
        #expect((shed ?? 0) >= 1, "\(shed.map { "\($0)" } ?? "no shed counter")")
        #expect(Self.request(keeper, "/static/css/site.css").hasPrefix("HTTP/1.1 200"))
    }
}

@Suite("Resource errors", .timeLimit(.minutes(2)))
struct ResourceErrorTests {
    @Test func runningOutOfDescriptorsIsAnErrorNotAMissingFile() {
        #expect(throws: StaticFileError.self) { try StaticFileStore.checkResources(EMFILE, "/x") }
        #expect(throws: StaticFileError.self) { try StaticFileStore.checkResources(ENFILE, "/x") }
        #expect(throws: Never.self) { try StaticFileStore.checkResources(ENOENT, "/x") }
        #expect(throws: Never.self) { try StaticFileStore.checkResources(EACCES, "/x") }
    }
}
