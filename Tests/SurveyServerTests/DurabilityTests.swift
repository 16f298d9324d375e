import Foundation
import TestSupport
import Testing

/// Issue 23: the durability the README and DESIGN promise, observed in the system calls of the real
/// `surveycharts` rather than assumed from its source. An LD_PRELOAD shim (Tests/Shims/fsync_shim.c,
/// built at run time with the system's C compiler) logs the calls that make a file durable, with
/// tickets that order them across threads, and can make fsync fail with EIO while a switch file exists.
@Suite("Durability, observed in system calls", .serialized, .timeLimit(.minutes(3)))
struct DurabilityTests {
    /// Survey 1 of the demo is completed on this day (its charts are served) and survey 2 is open.
    static let today = "2026-11-22"

    @Test func aChartIsWrittenSyncedRenamedAndItsDirectorySyncedBeforeAnyoneSeesIt() throws {
        let site = try ShimmedSite()
        let server = try site.serve()
        defer { server.stop() }
        let target = try #require(try server.results(1).questions.first?.chart["1x"])
        let name = String(target.dropFirst("/piecharts/".count))
        let response = try server.get(target)
        #expect(response.status == 200 && isPNG(response.body))
        let calls = try site.calls()
        let published = try expectPublishedInOrder(name, charts: site.charts, calls: calls, bytes: response.body.count)
        // A client may cache the chart for a year: it must not see one a power cut could take back.
        let answer = try #require(
            calls.first { $0.name == "respond" && $0.begin > published.create.end },
            "no response after the chart's create:\n\(Call.listing(calls))")
        #expect(answer.fields["status"] == "200")
        #expect(
            answer.begin > published.directorySync.end,
            "the chart was answered before its directory sync returned:\n\(Call.listing(calls))")
        server.stop()

        // `prerender` publishes through the same cache, several writers at once sharing directory syncs.
        let prerender = try site.run(
            ["prerender", "--survey", "1", "--jobs", "2", "--today", Self.today] + site.storageArguments,
            shimmed: true)
        #expect(prerender.status == 0, "\(prerender.error)")
        let prerenderCalls = try site.calls()
        let prerendered = prerenderCalls.filter { $0.name == "rename" && $0.result == 0 }.compactMap { call in
            call.fields["to"].map { URL(fileURLWithPath: $0).lastPathComponent }
        }
        // Survey 1 has two questions of four charts each (wide and narrow, 1x and 2x) and an SVG each,
        // a card and a report; one chart was served above.
        #expect(prerendered.count == 11, "prerender published \(prerendered)")
        for name in prerendered {
            try expectPublishedInOrder(name, charts: site.charts, calls: prerenderCalls)
        }
    }

    @Test func aBallotIsAcknowledgedOnlyAfterTheWriteAheadLogIsSynced() throws {
        let site = try ShimmedSite()
        let server = try site.serve()
        defer { server.stop() }
        // The journal mode is stored in the file: WAL sets the header's read and write versions to 2.
        let header = Array(try #require(FileHandle(forReadingAtPath: site.database)).readData(ofLength: 20))
        #expect(header.count == 20 && header[18] == 2 && header[19] == 2, "\(site.database) is not in WAL mode")
        let wal = site.database + "-wal"
        // Several ballots: without synchronous=FULL the log is still synced when it starts over, so
        // one ballot could meet that sync by chance; three cannot.
        for ballot in 1...3 {
            let before = try site.lastTicket()
            let response = try server.post("/surveys/2", body: "q3=7&q4=11")
            #expect(response.status == 303, "ballot \(ballot): \(response.status)")
            let calls = try site.calls().filter { $0.begin > before }
            let answer = try #require(
                calls.first { $0.name == "respond" && $0.fields["status"] == "303" },
                "ballot \(ballot): no 303 in the log:\n\(Call.listing(calls))")
            let beforeAnswer = calls.filter { $0.end < answer.begin }
            let sync = beforeAnswer.first { sync in
                sync.isSync && sync.path == wal && sync.result == 0
                    && beforeAnswer.contains {
                        $0.name == "write" && $0.path == wal && ($0.result ?? 0) > 0 && $0.end < sync.begin
                    }
            }
            #expect(
                sync != nil,
                """
                ballot \(ballot) was answered 303 without a sync of \(wal) after its frames were written \
                (WAL with synchronous=FULL syncs the log at every commit):
                \(Call.listing(calls))
                """)
        }
        server.stop()
        let votes = try site.votes(survey: 2)
        #expect(votes[7] == 3 && votes[11] == 3, "\(votes)")
    }

    @Test func aFailedSyncPublishesNoChartAndAcknowledgesNoBallot() throws {
        let site = try ShimmedSite()
        let server = try site.serve()
        defer { server.stop() }
        let target = try #require(try server.results(1).questions.last?.chart["2x"])
        let name = String(target.dropFirst("/piecharts/".count))
        let final = site.charts + "/" + name
        let pending = site.charts + "/." + name + ".pending"
        let wal = site.database + "-wal"
        let before = try site.votes(survey: 2)

        try site.failSyncs(true)
        let mark = try site.lastTicket()
        let chart = try server.get(target)
        let ballot = try server.post("/surveys/2", body: "q3=7&q4=11")
        try site.failSyncs(false)
        let calls = try site.calls().filter { $0.begin > mark }

        // The fault was met (not some other failure), and nothing was published past it.
        #expect(
            calls.contains { $0.isSync && $0.injected && $0.path == pending },
            "the chart's fsync was never failed:\n\(Call.listing(calls))")
        #expect((500...599).contains(chart.status), "a chart whose fsync failed was answered \(chart.status)")
        #expect(!calls.contains { $0.name == "rename" && $0.fields["to"] == final }, "\(Call.listing(calls))")
        #expect(!FileManager.default.fileExists(atPath: final), "\(final) was published although its fsync failed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: site.charts).filter { $0.contains(name) }
        #expect(leftovers.isEmpty, "left in the chart directory: \(leftovers)")

        #expect(ballot.status != 303, "a ballot whose commit could not be synced was acknowledged")
        #expect((500...599).contains(ballot.status), "\(ballot.status)")
        #expect(
            calls.contains { $0.isSync && $0.injected && $0.path == wal },
            "the ballot's commit never synced \(wal), so the fault could not reach it:\n\(Call.listing(calls))")
        // Read by another process, without the shim, while the server still runs.
        #expect(try site.votes(survey: 2) == before, "the ballot that met the fault was counted")

        // With the fault gone the same server publishes and records again: the failures were not
        // stored, and the refused ballot does not come back with the next commit or the shutdown.
        let again = try server.get(target)
        #expect(again.status == 200 && isPNG(again.body))
        #expect(FileManager.default.contents(atPath: final).map { Array($0) } == again.body)
        #expect(try server.post("/surveys/2", body: "q3=8&q4=12").status == 303)
        server.stop()
        var expected = before
        expected[8, default: 0] += 1
        expected[12, default: 0] += 1
        #expect(try site.votes(survey: 2) == expected)
    }
}

extension DurabilityTests {
    /// The chart's own fsync succeeds but the chart directory's fails: the rename may not survive a
    /// crash, so the chart is not published (5xx, no file at its name) until a sync succeeds.
    @Test func aFailedDirectorySyncUnpublishesTheChart() throws {
        let site = try ShimmedSite()
        let server = try site.serve(failing: "/piecharts$")
        defer { server.stop() }
        let target = try #require(try server.results(1).questions.first?.chart["1x"])
        let final = site.charts + "/" + String(target.dropFirst("/piecharts/".count))
        try site.failSyncs(true)
        let mark = try site.lastTicket()
        let chart = try server.get(target)
        try site.failSyncs(false)
        let calls = try site.calls().filter { $0.begin > mark }
        #expect(
            calls.contains { $0.isSync && $0.injected && $0.path == site.charts },
            "the directory's fsync was never failed:\n\(Call.listing(calls))")
        #expect(
            !calls.contains { $0.isSync && $0.injected && $0.path != site.charts },
            "a sync other than the directory's was failed:\n\(Call.listing(calls))")
        #expect((500...599).contains(chart.status), "a chart whose directory sync failed was answered \(chart.status)")
        #expect(!FileManager.default.fileExists(atPath: final), "\(final) stayed published")
        let again = try server.get(target)
        #expect(again.status == 200 && isPNG(again.body))
        #expect(FileManager.default.contents(atPath: final).map { Array($0) } == again.body)
    }
}

/// The calls of one published chart, for further checks.
private struct Publication {
    var create: Call
    var directorySync: Call
}

/// Checks the writer of chart `name` in `calls`: an O_EXCL create of its pending file, its bytes
/// written, an fsync, the rename to the final name, and an fsync of the directory, each begun only
/// after the one before returned (tickets, not line order, so threads cannot blur it).
@discardableResult
private func expectPublishedInOrder(
    _ name: String, charts: String, calls: [Call], bytes: Int? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> Publication {
    let pending = charts + "/." + name + ".pending"
    let final = charts + "/" + name
    let listing = Call.listing(calls.filter { $0.path.contains(name) || $0.path == charts })
    let create = try #require(
        calls.first {
            $0.name == "open" && $0.path == pending && $0.fields["excl"] == "1" && $0.fields["creat"] == "1"
                && ($0.result ?? -1) >= 0
        }, "no O_EXCL create of \(pending):\n\(listing)", sourceLocation: sourceLocation)
    let descriptor = try #require(create.fd)
    let closed = calls.first { $0.name == "close" && $0.fd == descriptor && $0.begin > create.end }
    let ofFile = calls.filter {
        $0.fd == descriptor && $0.begin > create.end && $0.end < (closed?.begin ?? Int.max)
            && ($0.name == "write" || $0.isSync)
    }
    let writes = ofFile.filter { $0.name == "write" }
    #expect(!writes.isEmpty, "nothing written to \(pending):\n\(listing)", sourceLocation: sourceLocation)
    #expect(writes.allSatisfy { ($0.result ?? -1) >= 0 }, "\(listing)", sourceLocation: sourceLocation)
    if let bytes {
        let written = writes.compactMap(\.result).reduce(0, +)
        #expect(written == bytes, "\(written) bytes written, \(bytes) served", sourceLocation: sourceLocation)
    }
    let fileSync = try #require(
        ofFile.first { $0.isSync && $0.result == 0 }, "\(pending) was never synced:\n\(listing)",
        sourceLocation: sourceLocation)
    #expect(
        writes.allSatisfy { $0.end < fileSync.begin }, "a write after the fsync:\n\(listing)",
        sourceLocation: sourceLocation)
    let renames = calls.filter { $0.name == "rename" && $0.fields["to"] == final }
    #expect(
        renames.count == 1, "\(final) was renamed into \(renames.count) times:\n\(listing)",
        sourceLocation: sourceLocation)
    let rename = try #require(
        renames.first { $0.path == pending && $0.result == 0 }, "\(pending) was never renamed to \(final):\n\(listing)",
        sourceLocation: sourceLocation)
    #expect(
        fileSync.end < rename.begin, "renamed before its fsync returned:\n\(listing)", sourceLocation: sourceLocation)
    // Writers share directory syncs: any that begins after the rename makes it durable.
    let directorySync = try #require(
        calls.first {
            $0.isSync && $0.path == charts && $0.fields["kind"] == "dir" && $0.result == 0 && $0.begin > rename.end
        }, "the chart directory was not synced after the rename of \(name):\n\(listing)",
        sourceLocation: sourceLocation)
    if let closed {
        #expect(
            directorySync.end < closed.begin, "the writer finished before its directory sync returned:\n\(listing)",
            sourceLocation: sourceLocation)
    }
    return Publication(create: create, directorySync: directorySync)
}

/// One line of the shim's log: begin and end tickets, thread, call, then `key=value` fields.
private struct Call: CustomStringConvertible {
    var begin: Int
    var end: Int
    var name: String
    var fields: [String: String]
    var description: String

    init?(_ line: Substring) {
        let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard parts.count >= 4, let begin = Int(parts[0]), let end = Int(parts[1]) else { return nil }
        self.begin = begin
        self.end = end
        name = String(parts[3])
        var fields: [String: String] = [:]
        for part in parts.dropFirst(4) {
            guard let equals = part.firstIndex(of: "=") else { continue }
            fields[String(part[..<equals])] = String(part[part.index(after: equals)...])
        }
        self.fields = fields
        description = String(line)
    }

    var path: String { fields["path"] ?? "" }
    var fd: Int? { fields["fd"].flatMap { Int($0) } }
    var result: Int? { fields["ret"].flatMap { Int($0) } }
    var isSync: Bool { name == "fsync" || name == "fdatasync" }
    var injected: Bool { fields["injected"] == "1" }

    /// For failure messages: the log says more than any summary.
    static func listing(_ calls: [Call]) -> String {
        calls.suffix(200).map(\.description).joined(separator: "\n")
    }
}

/// The harness itself failed (no compiler, a command that hung): the test fails and says why.
private struct HarnessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A site (SQLite database, chart and static directories) in a scratch directory, with the shim built
/// beside it. Always SQLite, whatever SURVEYCHARTS_TEST_STORE says: these tests watch SQLite's files.
private final class ShimmedSite {
    let scratch: TemporaryDirectory
    /// The scratch directory with symbolic links resolved: the shim compares the paths the kernel
    /// reports for descriptors, which are resolved.
    let root: String
    /// The directory the shim watches; its log and switch live outside it, so they are never watched.
    var site: String { root + "/site" }
    var database: String { site + "/surveys.sqlite3" }
    var charts: String { site + "/piecharts" }
    var statics: String { site + "/static" }
    var log: String { root + "/shim.log" }
    /// While this file exists, fsync and fdatasync of watched files fail with EIO.
    var faultSwitch: String { root + "/fail-syncs" }
    let shim: String

    init() throws {
        scratch = try TemporaryDirectory()
        root = try canonicalPath(scratch.path)
        try FileManager.default.createDirectory(atPath: root + "/site/static", withIntermediateDirectories: true)
        shim = try buildShim(into: root)
    }

    var storageArguments: [String] { ["--database", database, "--charts-dir", charts] }

    /// `NAME=VALUE` settings that load the shim, with a fresh log; with `failing`, only the syncs of
    /// paths matching that extended regex fail while the switch is on.
    func shimSettings(failing pattern: String? = nil) -> [String] {
        try? FileManager.default.removeItem(atPath: log)
        return [
            "LD_PRELOAD=\(shim)", "DURABILITY_SHIM_LOG=\(log)", "DURABILITY_SHIM_WATCH=\(site)/",
            "DURABILITY_SHIM_FAIL_WHILE=\(faultSwitch)",
        ] + (pattern.map { ["DURABILITY_SHIM_FAIL_REGEX=\($0)"] } ?? [])
    }

    /// A server on this site under the shim (through `env`, as ServerProcess sets no environment); the
    /// pre-render scheduler is off, so the charts rendered are the test's own.
    func serve(failing pattern: String? = nil) throws -> ServerProcess {
        let server = try ServerProcess(
            storageArguments + [
                "--static-dir", statics, "--today", DurabilityTests.today, "--no-prerender", "--ballots-per-browser",
                "any",
            ], wrapper: ["/usr/bin/env"] + shimSettings(failing: pattern))
        // A shim that did not load would make every check below fail for a reason it does not name.
        guard try calls().contains(where: { $0.path.hasPrefix(site + "/") }) else {
            throw HarnessFailure("the shim logged nothing in \(log): LD_PRELOAD=\(shim) did not take effect")
        }
        return server
    }

    /// Runs a `surveycharts` command to its end, within a minute; under the shim (fresh log) if `shimmed`.
    func run(_ arguments: [String], shimmed: Bool) throws -> BoundedResult {
        var environment = cleanEnvironment
        if shimmed {
            for setting in shimSettings() {
                let equals = setting.firstIndex(of: "=")!
                environment[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
            }
        }
        return try runBounded(
            Executable.url("surveycharts").path, arguments, environment: environment, in: root, seconds: 60)
    }

    /// The shim's log so far; a line still being written is left out.
    func calls() throws -> [Call] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // empty after the final newline, or a partial line
        return lines.compactMap(Call.init)
    }

    /// The latest end ticket in the log: calls that begin after it happened after this moment.
    func lastTicket() throws -> Int { try calls().map(\.end).max() ?? 0 }

    func failSyncs(_ failing: Bool) throws {
        if failing {
            guard FileManager.default.createFile(atPath: faultSwitch, contents: nil) else {
                throw HarnessFailure("cannot create \(faultSwitch)")
            }
        } else {
            try FileManager.default.removeItem(atPath: faultSwitch)
        }
    }

    /// Votes by answer id of survey `id`, read by `surveycharts export` (another process, no shim).
    func votes(survey id: Int64) throws -> [Int64: Int] {
        let result = try run(["export", "--database", database], shimmed: false)
        guard result.status == 0 else { throw HarnessFailure("export failed: \(result.error)") }
        let document = try JSONDecoder().decode(Exported.self, from: Data(result.output.utf8))
        let survey = try #require(document.surveys.first { $0.id == id })
        var votes: [Int64: Int] = [:]
        for question in survey.questions {
            for answer in question.answers { votes[answer.id] = answer.votes ?? 0 }
        }
        return votes
    }
}

/// What the tests read of `surveycharts export`.
private struct Exported: Decodable {
    struct Survey: Decodable {
        var id: Int64
        var questions: [Question]
    }
    struct Question: Decodable { var answers: [Answer] }
    struct Answer: Decodable {
        var id: Int64
        var votes: Int?
    }
    var surveys: [Survey]
}

private func canonicalPath(_ path: String) throws -> String {
    guard let resolved = realpath(path, nil) else { throw HarnessFailure("cannot resolve \(path): errno \(errno)") }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// Builds Tests/Shims/fsync_shim.c into `directory`. A missing compiler fails the test: skipping would
/// leave durability assumed again.
private func buildShim(into directory: String) throws -> String {
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Shims/fsync_shim.c").path
    guard FileManager.default.fileExists(atPath: source) else {
        throw HarnessFailure("the shim's source \(source) is missing")
    }
    let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let candidates = ["cc", "clang", "gcc"].flatMap { name in searchPath.split(separator: ":").map { "\($0)/\(name)" } }
    guard let compiler = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw HarnessFailure(
            """
            no C compiler (cc, clang or gcc) on PATH (\(searchPath)): the durability tests build their LD_PRELOAD \
            shim with one. Swift's toolchain ships clang; put its bin directory on PATH, or install gcc.
            """)
    }
    let library = directory + "/fsync_shim.so"
    let result = try runBounded(
        compiler, ["-shared", "-fPIC", "-O1", "-o", library, source, "-ldl"], environment: cleanEnvironment,
        in: directory, seconds: 120)
    guard result.status == 0 else { throw HarnessFailure("\(compiler) could not build \(source):\n\(result.error)") }
    return library
}

private struct BoundedResult {
    var status: Int32
    var output: String
    var error: String
}

/// Runs `executable` to its end, killing it after `seconds`. Its output goes to files in `directory`
/// (removed after): a pipe nobody reads while we wait could fill and stall it.
private func runBounded(
    _ executable: String, _ arguments: [String], environment: [String: String], in directory: String,
    seconds: Double
) throws -> BoundedResult {
    let stem = directory + "/run-" + UUID().uuidString
    let outputPath = stem + ".out"
    let errorPath = stem + ".err"
    defer {
        try? FileManager.default.removeItem(atPath: outputPath)
        try? FileManager.default.removeItem(atPath: errorPath)
    }
    guard FileManager.default.createFile(atPath: outputPath, contents: nil),
        FileManager.default.createFile(atPath: errorPath, contents: nil),
        let output = FileHandle(forWritingAtPath: outputPath), let error = FileHandle(forWritingAtPath: errorPath)
    else { throw HarnessFailure("cannot create output files in \(directory)") }
    defer {
        try? output.close()
        try? error.close()
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw HarnessFailure("\(executable) \(arguments.joined(separator: " ")) ran past \(Int(seconds)) s; killed it")
    }
    process.waitUntilExit()
    return BoundedResult(
        status: process.terminationStatus, output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
        error: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
}
