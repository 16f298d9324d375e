import ArgumentParser
import ChartCache
import Foundation
import PieChart
import SurveyCharts
import Surveys
import SurveysPostgres

/// `surveycharts prerender [--survey ID | --all] [--jobs N]`
struct PrerenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prerender",
        abstract: "Render every chart (1x and 2x) of completed surveys before anyone asks.",
        discussion: """
            Charts go through the same cache as the server, so nothing is rendered twice, even beside running \
            servers and other prerenders. Existing charts count as skipped. Exits 1 when any chart failed.
            """
    )

    @Option(help: "The completed survey to pre-render.")
    var survey: Int64?

    @Flag(help: "Pre-render every completed survey.")
    var all = false

    // Twice the cores: each chart also waits for two disk syncs, and other charts render meanwhile
    // (8,000 charts on 2 cores: 773 charts/s with 4 jobs against 641 with 2).
    @Option(help: "Charts rendered at once (default: twice the number of cores, so renders overlap disk syncs).")
    var jobs: Int = 2 * ProcessInfo.processInfo.activeProcessorCount

    @OptionGroup var storage: DatabaseOption

    @OptionGroup var charts: ChartsDirectoryOption

    @OptionGroup var days: DayOptions

    func validate() throws {
        guard (survey == nil) != !all else { throw ValidationError("give exactly one of --survey ID and --all") }
        guard (1...256).contains(jobs) else { throw ValidationError("--jobs must be 1...256, got \(jobs)") }
    }

    func run() async throws {
        let day = days.currentDay
        storage.requireExisting()
        let surveys: [Survey]
        let cache: ChartCache
        do {
            let store = try await storage.open()
            surveys = try await selectSurveys(store, today: day)
            cache = try ChartCache(
                configuration: .init(
                    directory: charts.chartsDir, blockingThreads: jobs, threadStart: PieChartRenderer.prepareThread))
        } catch let error as SurveyStoreError {
            CommandFailure(error.description, exitCode: .software).exit()
        } catch let error as ChartCacheError {
            CommandFailure(error.message, exitCode: .cantCreate).exit()
        }
        defer { cache.shutdown() }
        let progress = ProgressReporter(interactive: isatty(STDERR_FILENO) == 1)
        let report = await Prerenderer(cache: cache).run(surveys: surveys) { done, total in
            progress.update(done: done, total: total)
        }
        progress.finish()
        for failure in report.failures {
            FileHandle.standardError.write(Data("surveycharts: prerender failed: \(failure)\n".utf8))
        }
        print("prerender: \(surveys.count) surveys, \(report.summary)")
        if !report.failures.isEmpty { throw ExitCode(1) }
    }

    private func selectSurveys(_ store: any SurveyStore, today: CalendarDay) async throws -> [Survey] {
        if let id = survey {
            guard let found = try await store.survey(id: id) else {
                CommandFailure("survey \(id) does not exist", exitCode: .dataError).exit()
            }
            switch found.state(on: today) {
            case .completed: return [found]
            case .open:
                CommandFailure(
                    "survey \(id) (\"\(found.title)\") is still open until \(found.closes); its charts are drawn after "
                        + "it closes", exitCode: .dataError
                ).exit()
            case .upcoming:
                CommandFailure(
                    "survey \(id) (\"\(found.title)\") has not opened yet (opens \(found.opens))", exitCode: .dataError
                ).exit()
            }
        }
        let summaries = try await store.surveys(closingIn: CalendarDay(ordinal: -1_000_000)...today.adding(days: -1))
        var surveys: [Survey] = []
        for summary in summaries {
            if let found = try await store.survey(id: summary.id) { surveys.append(found) }
        }
        return surveys
    }
}

/// A progress bar on a terminal (done/total, charts/s, ETA), a plain line now and then otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let interactive: Bool
    private let start = Date()
    private var lastPrint = Date.distantPast
    private var shown = false
    private let lock = NSLock()

    init(interactive: Bool) { self.interactive = interactive }

    func update(done: Int, total: Int) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        let interval = interactive ? 0.1 : 2.0
        guard now.timeIntervalSince(lastPrint) >= interval || done == total else { return }
        lastPrint = now
        let elapsed = max(now.timeIntervalSince(start), 0.001)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        if interactive {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let line = String(format: "\r%@ %d/%d  %.0f charts/s  ETA %.0fs ", bar, done, total, rate, eta)
            FileHandle.standardError.write(Data(line.utf8))
            shown = true
        } else {
            let line = String(format: "prerender: %d/%d charts, %.0f charts/s, ETA %.0f s\n", done, total, rate, eta)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func finish() {
        if interactive && shown { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
