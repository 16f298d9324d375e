import ArgumentParser
import Foundation
import Surveys
import SurveysPostgres

/// `surveycharts import FILE.json`
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import surveys from a JSON file, all or nothing.",
        discussion: """
            The format is {"surveys": [{"id", "title", "language", "opens", "closes", "questions": [{"id", \
            "text", "answers": [{"id", "text", "votes"}]}]}]}; ids and languages are optional (a survey \
            without one takes --default-language) and votes default to 0. An invalid file is rejected whole, \
            with the JSON path of the first error, and nothing is imported.
            """
    )

    @Argument(help: ArgumentHelp("The surveys to import (- for standard input).", valueName: "FILE.json"))
    var file: String

    @OptionGroup var storage: DatabaseOption

    @OptionGroup var language: DefaultLanguageOption

    func run() async throws {
        let data: Data
        do {
            data =
                file == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            CommandFailure("cannot read \(file): \(error.localizedDescription)", exitCode: .noInput).exit()
        }
        do {
            let document = try SurveyDocument(json: data).withDefaultLanguage(language.tag)
            let store = try await storage.open()
            let summary = try await store.importDocument(document)
            print(
                "imported \(summary.surveys) surveys, \(summary.questions) questions, \(summary.answers) answers "
                    + "into \(storage.database)")
        } catch let error as SurveyStoreError {
            CommandFailure(
                "\(file): \(error)", exitCode: error.code == .database ? .cantCreate : .dataError
            ).exit()
        }
    }
}

/// `surveycharts export`
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every survey, with its votes, in the import format to standard output."
    )

    @OptionGroup var storage: DatabaseOption

    func run() async throws {
        storage.requireExisting()
        do {
            let store = try await storage.open()
            let data = try await store.exportDocument().encoded()
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write(Data("\n".utf8))
        } catch let error as SurveyStoreError {
            CommandFailure(error.description, exitCode: .ioError).exit()
        }
    }
}
