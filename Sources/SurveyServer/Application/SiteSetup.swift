import Foundation
import Logging
import Surveys

/// What a site needs in its store before it serves: the demo surveys and operator on a new
/// database, and the ballot-integrity secret every process of the site shares.
public struct SiteSetup: Sendable {
    /// The demo operator's password when this start created it (to print once), else nil.
    public let demoOperatorPassword: String?
    /// The secret ballot tokens and operator device cookies are signed with.
    let secret: [UInt8]

    /// Loads the demo into an empty store (`configuration.site.loadDemo`), creates the demo
    /// operator where there is none (`createDemoOperator`), and reads or creates the secret.
    /// - Parameter storeName: the store as logs may name it (a PostgreSQL URL without its password).
    /// - Throws: `StartupError` with the store's message.
    public static func prepare(
        _ store: any SurveyStore, configuration: ServerConfiguration, storeName: String, logger: Logger
    ) async throws -> SiteSetup {
        do {
            var demoPassword: String?
            if configuration.site.loadDemo, try await store.isEmpty() {
                do {
                    try await store.importDocument(DemoSurveys.document(today: configuration.today))
                    logger.info("loaded the demo surveys into \(storeName)")
                } catch let error as SurveyStoreError where error.code == .invalidImport {
                    // Another process sharing the database loaded them first.
                    guard try await !store.isEmpty() else { throw error }
                }
                if configuration.site.createDemoOperator, try await store.users().isEmpty {
                    let password = OperatorPasswords.random()
                    do {
                        try await store.addUser(
                            name: "demo", passwordHash: OperatorPasswords.hash(password), at: Date())
                        demoPassword = password
                    } catch let error as SurveyStoreError where error.code == .invalidEdit {
                        logger.info("another process created the demo operator first")
                    }
                }
            }
            let secret = try await store.secret(
                named: BallotIntegrity.secretName, candidate: BallotIntegrity.newSecret())
            return SiteSetup(demoOperatorPassword: demoPassword, secret: secret)
        } catch let error as SurveyStoreError {
            throw StartupError(error.message)
        }
    }
}

/// A start-up check failed: one line that says what to fix.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and what to do.
    public var message: String
    /// Where in our sources the check failed.
    public var location: String

    /// Creates an error; `location` defaults to the caller's file and line.
    public init(_ message: String, fileID: String = #fileID, line: Int = #line) {
        self.message = message
        self.location = "\(fileID):\(line)"
    }

    public var description: String { message }
}
