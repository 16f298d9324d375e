import ArgumentParser
import ChartCache
import Foundation
import PieChart
import SurveyCharts
import Surveys
import SurveysPostgres

/// `surveycharts prune [--dry-run]`
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove chart files that no current question names.",
        discussion: """
            A question's chart gets a new name whenever its votes or labels change, so old files pile up. Prune \
            keeps every current question chart, and every other chart younger than the grace period (recent API \
            charts, and charts rendered for votes that changed a moment ago). It never touches hidden files: \
            pending charts being written, and lock files.
            """
    )

    @Flag(help: "List what would be removed, and remove nothing.")
    var dryRun = false

    @Option(help: "Keep charts younger than this many minutes (at most 525600, a year), whatever they are.")
    var graceMinutes = 60

    /// The longest grace period, a year: no site needs longer, and the bound keeps
    /// `graceMinutes * 60` from overflowing (it trapped for a huge flag).
    static let maximumGraceMinutes = 525_600

    @OptionGroup var storage: DatabaseOption

    @OptionGroup var charts: ChartsDirectoryOption

    func validate() throws {
        guard (0...Self.maximumGraceMinutes).contains(graceMinutes) else {
            throw ValidationError(
                "--grace-minutes must be 0...\(Self.maximumGraceMinutes) (at most a year), got \(graceMinutes)")
        }
    }

    func run() async throws {
        storage.requireExisting()
        let current: Set<ChartName>
        do {
            let store = try await storage.open()
            var surveys: [Survey] = []
            for summary in try await store.exportDocument().surveys {
                // Exports always carry ids; a survey deleted meanwhile simply has no charts to keep.
                guard let id = summary.id else { continue }
                if let survey = try await store.survey(id: id) { surveys.append(survey) }
            }
            current = try QuestionCharts.currentNames(of: surveys)
        } catch let error as SurveyStoreError {
            CommandFailure(error.description, exitCode: .software).exit()
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: charts.chartsDir, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            CommandFailure("cannot list \(charts.chartsDir): no such directory; check --charts-dir", exitCode: .noInput)
                .exit()
        }
        let cache: ChartCache
        do {
            cache = try ChartCache(
                configuration: .init(directory: charts.chartsDir, blockingThreads: 1, sweepOnStart: false))
        } catch let error as ChartCacheError {
            CommandFailure(error.message, exitCode: .noInput).exit()
        }
        defer { cache.shutdown() }
        let report: ChartCache.PruneReport
        do {
            report = try await cache.prune(
                keeping: current, olderThan: Date().addingTimeInterval(-Double(graceMinutes * 60)), dryRun: dryRun)
        } catch let error as ChartCacheError {
            CommandFailure(error.message, exitCode: .noInput).exit()
        }
        for (name, bytes) in report.removed {
            print("\(dryRun ? "would remove" : "removed") \(name) (\(ChartText.grouped(bytes)) bytes)")
        }
        for failure in report.failures {
            FileHandle.standardError.write(Data("surveycharts: \(failure)\n".utf8))
        }
        let removedBytes = report.removed.reduce(0) { $0 + $1.bytes }
        print(
            "prune: \(dryRun ? "would remove" : "removed") \(report.removed.count) files, "
                + "\(ChartText.grouped(removedBytes)) bytes; kept \(report.kept)")
    }
}
