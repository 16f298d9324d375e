import ArgumentParser
import ChartCache
import Foundation
import PieChart
import SurveyServer
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

    @Option(help: "Keep charts younger than this many minutes, whatever they are.")
    var graceMinutes = 60

    @OptionGroup var storage: DatabaseOption

    @OptionGroup var charts: ChartsDirectoryOption

    func validate() throws {
        guard graceMinutes >= 0 else { throw ValidationError("--grace-minutes must not be negative") }
    }

    func run() async throws {
        storage.requireExisting()
        var current = Set<String>()
        do {
            let store = try await storage.open()
            for survey in try await store.exportDocument().surveys {
                for question in survey.questions {
                    let model = Question(
                        id: question.id ?? 0, text: question.text,
                        answers: question.answers.map { Answer(id: $0.id ?? 0, text: $0.text, votes: $0.votes ?? 0) })
                    let names = try ChartService.names(for: model)
                    current.formUnion(names.all.map(\.name.fileName))
                }
            }
        } catch let error as SurveyStoreError {
            CommandFailure(error.description, exitCode: .software).exit()
        }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: charts.chartsDir).sorted()
        } catch {
            CommandFailure("cannot list \(charts.chartsDir): \(error.localizedDescription)", exitCode: .noInput).exit()
        }
        let cutoff = Date().timeIntervalSince1970 - Double(graceMinutes * 60)
        var removed = 0, removedBytes = 0, kept = 0
        for entry in entries {
            // Hidden files are pending charts and locks: never ours to touch.
            guard !entry.hasPrefix("."), entry.hasSuffix(".png") else { continue }
            let path = charts.chartsDir + "/" + entry
            var status = stat()
            guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { continue }
            if current.contains(entry) || Double(status.st_mtim.tv_sec) > cutoff {
                kept += 1
                continue
            }
            if !dryRun && unlink(path) != 0 {
                FileHandle.standardError.write(
                    Data("surveycharts: cannot remove \(path): \(String(cString: strerror(errno)))\n".utf8))
                continue
            }
            removed += 1
            removedBytes += Int(status.st_size)
            print("\(dryRun ? "would remove" : "removed") \(entry) (\(ChartText.grouped(Int(status.st_size))) bytes)")
        }
        print(
            "prune: \(dryRun ? "would remove" : "removed") \(removed) files, \(ChartText.grouped(removedBytes)) bytes; "
                + "kept \(kept)")
    }
}
