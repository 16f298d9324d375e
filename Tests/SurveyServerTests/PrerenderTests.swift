import ChartCache
import Foundation
import Logging
import SurveyCharts
import Synchronization
import TestSupport
import Testing

@testable import SurveyServer
@testable import Surveys

/// A clock the test moves by hand.
final class ManualClock: SchedulerClock, Sendable {
    private let state = Mutex<(now: Date, sleepers: [(until: Date, wake: CheckedContinuation<Void, Never>)])>(
        (Date(), []))

    init(_ start: Date) { state.withLock { $0.now = start } }

    func now() -> Date { state.withLock { $0.now } }

    func sleep(until instant: Date) async throws {
        await withCheckedContinuation { continuation in
            let wakeNow = state.withLock { state -> Bool in
                if instant <= state.now { return true }
                state.sleepers.append((instant, continuation))
                return false
            }
            if wakeNow { continuation.resume() }
        }
        try Task.checkCancellation()
    }

    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    func advance(to instant: Date) {
        let due = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.now = instant
            let due = state.sleepers.filter { $0.until <= instant }.map(\.wake)
            state.sleepers.removeAll { $0.until <= instant }
            return due
        }
        for sleeper in due { sleeper.resume() }
    }

    func wakeEveryone() {
        let all = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.sleepers.removeAll() }
            return state.sleepers.map(\.wake)
        }
        for sleeper in all { sleeper.resume() }
    }
}

@Suite("Pre-rendering and pruning", .serialized, .timeLimit(.minutes(5)))
struct PrerenderTests {
    static func closedSurveys(count: Int, questionsEach: Int, closes: String = "2026-11-20", idBase: Int = 1) -> String
    {
        let surveys = (0..<count).map { s -> String in
            let questions = (0..<questionsEach).map { q -> String in
                let answers = (0..<4).map { a in
                    #"{"text": "Answer \#(a) of \#(s).\#(q)", "votes": \#((s + q + a) % 7)}"#
                }
                return #"{"text": "Question \#(q) of survey \#(s)?", "answers": [\#(answers.joined(separator: ", "))]}"#
            }
            return
                #"{"title": "Closed \#(s + idBase)", "opens": "2026-10-01", "closes": "\#(closes)", "questions": [\#(questions.joined(separator: ", "))]}"#
        }
        return #"{"surveys": [\#(surveys.joined(separator: ", "))]}"#
    }

    func prerender(_ site: ServerTests.Site, _ arguments: [String]) throws -> Executable.Result {
        try Executable.run(
            ["prerender", "--database", site.database, "--charts-dir", site.charts, "--today", ServerTests.today]
                + arguments)
    }

    static func counts(_ output: String) -> (rendered: Int, skipped: Int, failed: Int)? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("prerender:") }) else { return nil }
        func number(after word: String) -> Int? {
            guard let range = line.range(of: word + " ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        guard let rendered = number(after: "rendered"), let skipped = number(after: "skipped"),
            let failed = number(after: "failed")
        else { return nil }
        return (rendered, skipped, failed)
    }

    static func isPNG(_ path: String, width: Int) -> Bool {
        guard let data = FileManager.default.contents(atPath: path), data.count > 40 else { return false }
        let bytes = Array(data)
        return TestSupport.isPNG(bytes)
            && bytes[16..<20].reduce(0, { $0 << 8 | Int($1) }) == width
            && Array(bytes.suffix(8).prefix(4)) == Array("IEND".utf8)
    }

    @Test func prerenderDrawsEveryChartOnceThenSkips() throws {
        let site = try ServerTests.Site()
        try site.importSurveys(Self.closedSurveys(count: 3, questionsEach: 4))
        let first = try prerender(site, ["--all", "--jobs", "2"])
        #expect(first.status == 0, "\(first.standardError)")
        // 12 questions: 4 PNGs and an SVG each; 3 surveys: a card and a report each.
        #expect(Self.counts(first.standardOutput)! == (66, 0, 0))
        let document = try site.export()
        for survey in document.surveys {
            for question in survey.questions {
                let model = Question(
                    id: question.id!, text: question.text,
                    answers: question.answers.map { Answer(id: $0.id!, text: $0.text, votes: $0.votes!) })
                let names = try QuestionCharts.names(for: model, in: .english)
                #expect(Self.isPNG(site.charts + "/" + names.file(.wide, scale: 1)!.name.fileName, width: 640))
                #expect(Self.isPNG(site.charts + "/" + names.file(.wide, scale: 2)!.name.fileName, width: 1280))
                #expect(Self.isPNG(site.charts + "/" + names.file(.narrow, scale: 1)!.name.fileName, width: 340))
                #expect(Self.isPNG(site.charts + "/" + names.file(.narrow, scale: 2)!.name.fileName, width: 680))
                let svg = try SurveyDocuments.svgName(for: model, in: .english).fileName
                #expect(
                    FileManager.default.contents(atPath: site.charts + "/" + svg).map {
                        $0.starts(with: Array("<?xml".utf8))
                    } == true)
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: site.charts)
        for survey in document.surveys {
            #expect(
                files.contains { $0.hasPrefix("s\(survey.id!)-") && $0.hasSuffix(".png") }, "a card for \(survey.id!)")
            #expect(
                files.contains { $0.hasPrefix("r\(survey.id!)-") && $0.hasSuffix(".pdf") }, "a report for \(survey.id!)"
            )
        }
        let second = try prerender(site, ["--all"])
        #expect(second.status == 0)
        #expect(Self.counts(second.standardOutput)! == (0, 66, 0))
        // Without a terminal, progress comes as plain lines on standard error.
        #expect(first.standardError.contains("prerender: 66/66 charts"))
    }

    @Test func openAndUnknownSurveysAreRefused() throws {
        let site = try ServerTests.Site()
        try site.importSurveys(Self.closedSurveys(count: 1, questionsEach: 1, closes: "2026-11-30"))
        let open = try prerender(site, ["--survey", "1"])
        #expect(open.status == 65 && open.standardError.contains("is still open until 2026-11-30"))
        let missing = try prerender(site, ["--survey", "77"])
        #expect(missing.status == 65 && missing.standardError.contains("survey 77 does not exist"))
        let both = try prerender(site, ["--survey", "1", "--all"])
        #expect(both.status != 0 && both.standardError.contains("exactly one of --survey ID and --all"))
        let charts = (try? FileManager.default.contentsOfDirectory(atPath: site.charts)) ?? []
        #expect(charts.filter { $0.hasSuffix(".png") }.isEmpty)
    }

    @Test func twoPrerendersAndAServerStampedeRenderEachChartOnce() throws {
        let site = try ServerTests.Site()
        try site.importSurveys(Self.closedSurveys(count: 4, questionsEach: 5))
        let server = try site.serve(["--no-demo"], prerender: true)
        defer { server.stop() }
        let targets = try (1...4).flatMap { id -> [String] in
            let json = try server.get("/surveys/\(id)/results.json")
            let object = try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any]
            return (object?["questions"] as? [[String: Any]] ?? []).flatMap {
                ($0["chart"] as? [String: String]).map { [$0["1x"]!, $0["2x"]!] } ?? []
            }
        }
        #expect(targets.count == 40)
        let first = try Executable.start(
            [
                "prerender", "--all", "--database", site.database, "--charts-dir", site.charts, "--today",
                ServerTests.today,
            ])
        let second = try Executable.start(
            [
                "prerender", "--all", "--database", site.database, "--charts-dir", site.charts, "--today",
                ServerTests.today,
            ])
        let failures = FailureLog()
        DispatchQueue.concurrentPerform(iterations: 80) { index in
            let status = (try? server.get(targets[index % targets.count]).status) ?? -1
            if status != 200 { failures.add("\(targets[index % targets.count]): \(status)") }
        }
        let reports = [try first.finish(), try second.finish()]
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(reports.allSatisfy { $0.status == 0 }, "\(reports.map(\.standardError))")
        let prerendered = reports.compactMap { Self.counts($0.standardOutput)?.rendered }.reduce(0, +)
        let served = Int(try server.metric("surveycharts_chart_renders_total") ?? -1000)
        // 20 questions of 4 charts (wide and narrow, 1x and 2x) and an SVG each, and 4 surveys with a card
        // and a report each; the stampede asked for the wide ones.
        #expect(prerendered + served == 108, "prerender \(prerendered) + server \(served)")
    }

    @Test func schedulerRendersASurveyWhenItsClosingDayEnds() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteSurveyStore(configuration: .init(path: directory.path + "/s.sqlite3"))
        // Closed yesterday (caught up at start) and closing today (rendered at midnight).
        try await store.importDocument(
            SurveyDocument(json: Data(Self.closedSurveys(count: 1, questionsEach: 2, closes: "2026-11-21").utf8)))
        try await store.importDocument(
            SurveyDocument(
                json: Data(Self.closedSurveys(count: 1, questionsEach: 3, closes: "2026-11-22", idBase: 2).utf8)))
        let cache = try ChartCache(configuration: .init(directory: directory.path + "/charts"))
        defer { cache.shutdown() }
        let utc = TimeZone(identifier: "UTC")!
        let clock = ManualClock(CalendarDay("2026-11-22")!.start(in: utc).addingTimeInterval(23 * 3600 + 59 * 60))
        let scheduler = PrerenderScheduler(
            configuration: .init(chartsDirectory: directory.path + "/charts", timeZone: utc), store: store,
            cache: cache,
            clock: clock, logger: Logger(label: "test"))
        let running = Task { try await scheduler.run() }
        defer { running.cancel() }
        while scheduler.passes < 1 || clock.sleeperCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(scheduler.isLeader)
        // Yesterday's survey: 2 questions × (wide, narrow × 1x, 2x, and an SVG), its card and its report.
        #expect(scheduler.rendered == 12)
        // The boundary passes: the survey that closed today is now completed.
        clock.advance(to: CalendarDay("2026-11-23")!.start(in: utc).addingTimeInterval(1))
        while scheduler.passes < 2 || clock.sleeperCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(scheduler.rendered == 12 + 17)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/charts")
        #expect(files.filter { $0.hasSuffix(".png") }.count == 20 + 2, "20 charts and 2 cards")
        #expect(files.filter { $0.hasSuffix(".svg") }.count == 5 && files.filter { $0.hasSuffix(".pdf") }.count == 2)
        running.cancel()
        clock.wakeEveryone()
        try await running.value
    }

    @Test func leadershipMovesWhenTheLeaderDies() throws {
        let site = try ServerTests.Site()
        let first = try site.serve(["--prerender-retry-ms", "100"], prerender: true)
        func leads(_ server: ServerProcess) throws -> Bool {
            try server.metric("surveycharts_prerender_leader") == 1
        }
        func waitUntil(_ condition: () throws -> Bool) throws -> Bool {
            for _ in 0..<200 {
                if try condition() { return true }
                usleep(50_000)
            }
            return false
        }
        #expect(try waitUntil { try leads(first) })
        let second = try site.serve(["--prerender-retry-ms", "100"], prerender: true)
        defer { second.stop() }
        usleep(300_000)
        #expect(try !leads(second))
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        #expect(try waitUntil { try leads(second) })
    }

    @Test func pruneKeepsCurrentChartsAndRemovesStaleOnes() throws {
        let site = try ServerTests.Site()
        try site.importSurveys(Self.closedSurveys(count: 1, questionsEach: 2))
        #expect(try prerender(site, ["--all"]).status == 0)
        let current = try FileManager.default.contentsOfDirectory(atPath: site.charts)
        // 2 questions × (wide, narrow × 1x, 2x, and an SVG), the card and the report.
        #expect(current.count == 12)
        let old = Date().addingTimeInterval(-3 * 3600)
        for (name, date) in [
            ("q1-00000000000000aa.png", old), ("c-00000000000000bb@2x.png", old), ("c-00000000000000cc.png", Date()),
            ("q1-00000000000000ee.svg", old), ("r1-00000000000000ff.pdf", old),
            (".q1-00000000000000dd.png.pending", old), ("notes.txt", old),
        ] {
            let path = try site.directory.write("piecharts/" + name, String(repeating: "x", count: 100))
            try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
        }
        for name in current {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: site.charts + "/" + name)
        }
        let arguments = ["prune", "--database", site.database, "--charts-dir", site.charts]
        let dry = try Executable.run(arguments + ["--dry-run"])
        #expect(dry.status == 0 && dry.standardOutput.contains("would remove 4 files, 400 bytes"))
        let listing = try FileManager.default.contentsOfDirectory(atPath: site.charts)
        #expect(listing.count == 19, "\(listing)")
        let pruned = try Executable.run(arguments)
        #expect(
            pruned.status == 0 && pruned.standardOutput.contains("removed 4 files, 400 bytes; kept 13"),
            "\(pruned.standardOutput)")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: site.charts))
        #expect(left == Set(current + ["c-00000000000000cc.png", ".q1-00000000000000dd.png.pending", "notes.txt"]))
    }
}
