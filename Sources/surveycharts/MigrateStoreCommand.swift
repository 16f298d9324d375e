import ArgumentParser
import Foundation
import Surveys
import SurveysPostgres

/// `surveycharts migrate-store --from FILE.sqlite3 --to postgres://…`
struct MigrateStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy a whole site (surveys, votes, operators, the cookie key) into an empty store.",
        discussion: """
            Ids are kept, so links and chart names stay valid, and the cookie key moves too, so voters who \
            already voted stay marked. The copy is one transaction on the target: it is complete or absent. \
            Stop the servers that write to the source first; sessions are not copied (operators sign in again).
            """
    )

    @Option(help: "The store to copy: a SQLite file or a postgres:// URL.")
    var from: String

    @Option(help: "The empty store to fill: a postgres:// URL or a SQLite file.")
    var to: String

    func run() async throws {
        guard SurveyStores.isPostgres(from) || FileManager.default.fileExists(atPath: from) else {
            CommandFailure(
                "--from \(from) does not exist; pass the site's SQLite file or a postgres:// URL", exitCode: .noInput
            )
            .exit()
        }
        do {
            let source = try await SurveyStores.open(from)
            let target = try await SurveyStores.open(to)
            let snapshot = try await source.exportSite()
            try await target.importSite(snapshot)
            let answers = snapshot.document.surveys.reduce(0) { $0 + $1.questions.reduce(0) { $0 + $1.answers.count } }
            print(
                "copied \(snapshot.document.surveys.count) surveys (\(answers) answers with their votes), "
                    + "\(snapshot.users.count) operators and \(snapshot.secrets.count) secrets into "
                    + PostgresSurveyStore.redacted(to))
        } catch let error as SurveyStoreError {
            CommandFailure(
                error.description, exitCode: error.code == .database ? .cantCreate : .dataError
            ).exit()
        }
    }
}
