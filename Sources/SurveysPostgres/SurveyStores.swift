import Foundation
import Logging
import ServiceLifecycle
import Surveys

/// Opens the store a `--database` value names: a `postgres://` URL selects PostgreSQL, anything
/// else is a SQLite file.
public enum SurveyStores {
    /// Settings both stores understand.
    public struct Options: Sendable {
        /// How long a ballot may take before it is given up with nothing recorded.
        public var ballotDeadline: Duration = .seconds(5)
        /// SQLite only: `synchronous=FULL` (durable ballots). PostgreSQL commits durably by default.
        public var durableBallots = true
        /// PostgreSQL only: most connections open at once.
        public var poolSize = 8
        /// PostgreSQL only: how long to keep trying, at start, a database that cannot be reached yet.
        public var startTimeout: Duration = .seconds(30)

        /// The defaults.
        public init() {}
    }

    /// The store's name for logs: a PostgreSQL URL without its password.
    public static func displayName(_ database: String) -> String {
        isPostgres(database) ? PostgresSurveyStore.redacted(database) : database
    }

    /// Whether `database` names a PostgreSQL database rather than a SQLite file.
    public static func isPostgres(_ database: String) -> Bool {
        database.hasPrefix("postgres://") || database.hasPrefix("postgresql://")
    }

    /// Opens (and migrates) the store.
    /// - Throws: `SurveyStoreError` (`database`) with a message that says what to fix.
    public static func open(
        _ database: String, options: Options = Options(), logger: Logger = Logger(label: "surveycharts.store")
    ) async throws -> any SurveyStore {
        if isPostgres(database) {
            return try await PostgresSurveyStore(configuration: postgres(database, options), logger: logger)
        }
        return try SQLiteSurveyStore(configuration: sqlite(database, options))
    }

    /// A store for a long-running server: the store, the service that runs its connections (nil
    /// for SQLite, whose threads are its own), and the preparation (connect, migrate) to await once
    /// that service runs.
    public struct Serving: Sendable {
        public var store: any SurveyStore
        public var service: (any Service)?
        public var prepare: @Sendable () async throws -> Void
    }

    /// Opens the store for `serve`: PostgreSQL's client is left to the caller's service group.
    /// - Throws: `SurveyStoreError` (`database`) with a message that says what to fix.
    public static func openForServing(
        _ database: String, options: Options = Options(), logger: Logger = Logger(label: "surveycharts.store")
    ) throws -> Serving {
        if isPostgres(database) {
            let store = try PostgresSurveyStore(unstarted: postgres(database, options), logger: logger)
            return Serving(store: store, service: store.service, prepare: { try await store.prepare() })
        }
        return Serving(
            store: try SQLiteSurveyStore(configuration: sqlite(database, options)), service: nil, prepare: {})
    }

    private static func postgres(_ database: String, _ options: Options) -> PostgresSurveyStore.Configuration {
        var configuration = PostgresSurveyStore.Configuration(url: database)
        configuration.ballotDeadline = options.ballotDeadline
        configuration.poolSize = options.poolSize
        configuration.startTimeout = options.startTimeout
        return configuration
    }

    private static func sqlite(_ database: String, _ options: Options) -> SQLiteSurveyStore.Configuration {
        var configuration = SQLiteSurveyStore.Configuration(path: database, ballotDeadline: options.ballotDeadline)
        configuration.synchronousFull = options.durableBallots
        return configuration
    }
}
