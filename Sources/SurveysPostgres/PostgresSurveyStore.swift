import Foundation
import Localization
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Surveys
import Synchronization

/// The PostgreSQL store, on postgres-nio: for sites that run `serve` on several machines.
///
/// It keeps the SQLite store's rules and transactions: a ballot is one transaction that checks
/// the survey and its answers and then runs `UPDATE answer SET votes = votes + 1`, an edit is one
/// transaction, and an import is all or nothing. postgres-nio is non-blocking, so no thread waits
/// on the database; the connection pool is sized by `Configuration.poolSize`.
public final class PostgresSurveyStore: SurveyStore {
    /// Where the database is and how to use it.
    public struct Configuration: Sendable {
        /// `postgres://user:password@host:port/database` (`?sslmode=disable|prefer|require`).
        public var url: String
        /// Most connections open at once.
        public var poolSize = 8
        /// How long a ballot may take, waiting for locks included, before it is given up (503).
        public var ballotDeadline: Duration = .seconds(5)
        /// Connections of their own, outside the pool, that commit batches of ballots: two, so
        /// one batch's round trip overlaps another's WAL flush (measured: more made smaller
        /// batches and fewer ballots a second).
        public var ballotConnections = 2
        /// How long `prepare()` keeps trying a database that cannot be reached yet.
        public var startTimeout: Duration = .seconds(30)

        /// A configuration with the defaults.
        public init(url: String) { self.url = url }
    }

    public let configuration: Configuration
    let client: PostgresClient
    let logger: Logger
    /// Group commit of ballots.
    let ballotCommits: PostgresBallotCommits
    /// The client's own task, when this store runs it (`init(configuration:logger:)`).
    private let running = Mutex<Task<Void, Never>?>(nil)

    /// Connects, and migrates the schema (one process at a time, under an advisory lock), running
    /// the client in a task of its own: for commands that use the store briefly.
    /// - Throws: `SurveyStoreError` (`database`) with a message that says what to fix.
    public convenience init(
        configuration: Configuration, logger: Logger = Logger(label: "surveycharts.postgres")
    ) async throws {
        try self.init(unstarted: configuration, logger: logger)
        let client = client
        let service = StoreService(client: client, ballotCommits: ballotCommits)
        running.withLock { $0 = Task { await service.run() } }
        do {
            try await prepare()
        } catch {
            running.withLock { $0?.cancel() }
            throw error
        }
    }

    /// A store whose client runs where its caller runs `service`: in `serve`'s service group,
    /// stopped after the site has drained. Call `prepare()` once the service runs.
    /// - Throws: `SurveyStoreError` (`database`) when the URL is not one this store can use.
    public init(unstarted configuration: Configuration, logger: Logger = Logger(label: "surveycharts.postgres")) throws
    {
        self.configuration = configuration
        self.logger = logger
        let clientConfiguration = try Self.clientConfiguration(configuration)
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)  // the pool reports every retry at info
        client = PostgresClient(configuration: clientConfiguration, backgroundLogger: quiet)
        ballotCommits = PostgresBallotCommits(
            connection: try Self.connectionConfiguration(configuration), ballotDeadline: configuration.ballotDeadline,
            lanes: configuration.ballotConnections, logger: logger, health: databaseHealth)
    }

    /// One direct connection, closed at once: it fails at once, with the server's own reason,
    /// where the pool would retry quietly.
    private func probe() async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try Self.connectionConfiguration(configuration), id: 0, logger: logger)
        try await connection.close()
    }

    /// Whether the database answered lately (ballots and `health(within:)`).
    public let databaseHealth = DatabaseHealth()

    /// The connection pool and the ballots' connections, as a service to run beside the site.
    public var service: any Service { StoreService(client: client, ballotCommits: ballotCommits) }

    /// Runs the pool; when it stops, closes the ballots' connections too.
    struct StoreService: Service {
        let client: PostgresClient
        let ballotCommits: PostgresBallotCommits

        func run() async {
            await client.run()
            await ballotCommits.close()
        }
    }

    /// Checks that the database answers, and migrates it. A database that cannot be reached yet
    /// (refused, starting up, shutting down) is tried again with back-off, each failure logged,
    /// until `Configuration.startTimeout` has passed; one that answers with a lasting refusal (a
    /// wrong password, no such database) fails at once.
    /// - Throws: `SurveyStoreError` (`database`) with a message that says what to fix.
    public func prepare() async throws {
        let giveUp = ContinuousClock.now + configuration.startTimeout
        var pause: Duration = .milliseconds(100)
        while true {
            do {
                try await probe()
                break
            } catch {
                let transient = Self.sqlState(error).map { $0.hasPrefix("57P") || $0.hasPrefix("08") } ?? true
                let message =
                    "cannot open the database \(Self.redacted(configuration.url)): \(Self.describe(error)); check the "
                    + "address, the user and password, and that the database exists"
                guard transient, !Task.isCancelled else { throw SurveyStoreError(.database, message) }
                let left = giveUp - ContinuousClock.now
                guard left > .zero else {
                    throw SurveyStoreError(
                        .database,
                        message + " (tried for \(configuration.startTimeout.milliseconds / 1000) s; "
                            + "--database-start-timeout sets how long)")
                }
                let wait = min(pause, left)
                logger.warning(
                    "\("the database \(Self.redacted(configuration.url)) is not reachable yet (\(Self.describe(error))); ")\("trying again in \(wait.milliseconds) ms, for \(left.milliseconds / 1000) s more")"
                )
                try await Task.sleep(for: wait)
                pause = min(pause * 2, .seconds(5))
            }
        }
        do {
            try await migrate()
        } catch {
            throw SurveyStoreError(
                .database,
                "cannot open the database \(Self.redacted(configuration.url)): \(Self.describe(error)); check the "
                    + "address, the user and password, and that the database exists")
        }
    }

    deinit { running.withLock { $0?.cancel() } }

    /// The URL with its password hidden, for messages and logs.
    ///
    /// A URL that does not parse is redacted too: everything between `://` and the last `@`
    /// after the user name is the password, whatever else is wrong with the URL.
    /// Whatever a URL parser makes of it: `postgres://u:2024/x@db/s` parses as host `u`, port 2024.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return url }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<scheme.upperBound]) + userInfo[..<colon] + ":***" + rest[at...]
    }

    /// Host, port, user, password, database and sslmode of the URL (already validated).
    static func parts(_ configuration: Configuration) -> (String, Int, String, String?, String?, String) {
        let components = URLComponents(string: configuration.url)
        let user = components?.user ?? ""
        let path = components?.path ?? ""
        let database = path.hasPrefix("/") ? String(path.dropFirst()) : path
        return (
            components?.host ?? "", components?.port ?? 5432, user.removingPercentEncoding ?? user,
            components?.password?.removingPercentEncoding, database.isEmpty ? nil : database,
            components?.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        )
    }

    /// The configuration of one connection outside the pool (the ballots' own).
    static func connectionConfiguration(_ configuration: Configuration) throws -> PostgresConnection.Configuration {
        let client = try clientConfiguration(configuration)
        let (host, port, user, password, database, mode) = parts(configuration)
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch mode {
            case "prefer": tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case "require": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            default: tls = .disable
            }
        } catch {
            throw SurveyStoreError(.database, "cannot set up TLS for the database: \(error)")
        }
        _ = client  // validates the URL, with the same messages
        return PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    static func clientConfiguration(_ configuration: Configuration) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: configuration.url),
            ["postgres", "postgresql"].contains(components.scheme ?? ""), let host = components.host, !host.isEmpty,
            let user = components.user, !user.isEmpty
        else {
            throw SurveyStoreError(
                .database,
                "\(redacted(configuration.url)) is not a PostgreSQL URL; write postgres://user:password@host:port/database"
            )
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default:
            throw SurveyStoreError(.database, "sslmode=\(mode) is not supported; use disable, prefer or require")
        }
        var result = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password?.removingPercentEncoding, database: database.isEmpty ? nil : database,
            tls: tls)
        result.options.maximumConnections = max(1, configuration.poolSize)
        result.options.connectTimeout = .seconds(5)
        return result
    }

    // MARK: Schema

    static let migrations: [(version: Int, name: String, statements: [String])] = [
        (
            1, "surveys, questions, answers, secrets, operators, sessions",
            [
                """
                CREATE TABLE survey (
                    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                    title TEXT NOT NULL,
                    opens TEXT COLLATE "C" NOT NULL,
                    closes TEXT COLLATE "C" NOT NULL,
                    closed_early_on TEXT COLLATE "C",
                    opens_before_close TEXT COLLATE "C",
                    closes_before_close TEXT COLLATE "C",
                    CHECK (closes >= opens))
                """,
                "CREATE INDEX survey_closes ON survey(closes)",
                """
                CREATE TABLE question (
                    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                    survey_id BIGINT NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    text TEXT NOT NULL)
                """,
                "CREATE INDEX question_survey ON question(survey_id, position)",
                """
                CREATE TABLE answer (
                    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                    question_id BIGINT NOT NULL REFERENCES question(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    text TEXT NOT NULL,
                    votes BIGINT NOT NULL DEFAULT 0 CHECK (votes >= 0))
                """,
                "CREATE INDEX answer_question ON answer(question_id, position)",
                "CREATE TABLE secret (name TEXT PRIMARY KEY, value BYTEA NOT NULL)",
                """
                CREATE TABLE admin_user (
                    name TEXT PRIMARY KEY,
                    password_hash TEXT NOT NULL,
                    created DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE admin_session (
                    id_hash TEXT PRIMARY KEY,
                    user_name TEXT NOT NULL REFERENCES admin_user(name) ON DELETE CASCADE,
                    csrf_token TEXT NOT NULL,
                    created DOUBLE PRECISION NOT NULL,
                    last_seen DOUBLE PRECISION NOT NULL)
                """,
                "CREATE INDEX admin_session_user ON admin_session(user_name)",
            ]
        ),
        (
            2, "sign-in attempts",
            [
                """
                CREATE TABLE sign_in_attempt (
                    attempt BIGINT NOT NULL,
                    key TEXT NOT NULL,
                    at DOUBLE PRECISION NOT NULL)
                """,
                "CREATE INDEX sign_in_attempt_key ON sign_in_attempt(key, at)",
                "CREATE INDEX sign_in_attempt_at ON sign_in_attempt(at)",
                "CREATE INDEX sign_in_attempt_attempt ON sign_in_attempt(attempt)",
            ]
        ),
        (
            3, "one ballot per browser",
            [
                """
                CREATE TABLE browser_ballot (
                    survey_id BIGINT NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
                    browser TEXT NOT NULL,
                    PRIMARY KEY (survey_id, browser))
                """
            ]
        ),
        (
            4, "operators' devices",
            [
                """
                CREATE TABLE admin_device (
                    id_hash TEXT PRIMARY KEY,
                    user_name TEXT NOT NULL REFERENCES admin_user(name) ON DELETE CASCADE,
                    created DOUBLE PRECISION NOT NULL)
                """,
                "CREATE INDEX admin_device_user ON admin_device(user_name)",
            ]
        ),
        // Surveys made before languages existed were shown in English.
        (5, "a language per survey", ["ALTER TABLE survey ADD COLUMN language TEXT NOT NULL DEFAULT 'en'"]),
        (
            6, "ballot receipts",
            [
                """
                CREATE TABLE ballot_receipt (
                    survey_id BIGINT NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
                    receipt TEXT NOT NULL,
                    PRIMARY KEY (survey_id, receipt))
                """
            ]
        ),
    ]

    private func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // Several processes may start at once: one migrates, the others wait and find it done.
            try await connection.query("SELECT pg_advisory_xact_lock(7281501)", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS surveycharts_migration (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query(
                "SELECT version FROM surveycharts_migration", logger: logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO surveycharts_migration (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
            }
        }
    }

    // MARK: Helpers

    /// Runs `body` in one transaction; failures become `SurveyStoreError`s. Waiting for a
    /// connection (the database may be down, the pool retrying) ends at the ballot deadline.
    @discardableResult
    func transaction<T: Sendable>(
        deadline: ContinuousClock.Instant? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let missed = SurveyStoreError(
            .busy, "the database stayed locked by another writer until the deadline; nothing was recorded")
        do {
            let result = try await leasing(until: deadline ?? .now + configuration.ballotDeadline) {
                [self] connection in
                try await connection.withTransaction(logger: logger) { connection in
                    if let deadline {
                        let left = deadline - ContinuousClock.now
                        guard left > .zero else { throw missed }
                        // Both timeouts in one round trip; `true`: for this transaction only.
                        try await connection.query(
                            "SELECT set_config('lock_timeout', \(String(max(1, left.milliseconds))), true), set_config('statement_timeout', \(String(max(1, left.milliseconds))), true)",
                            logger: logger)
                    }
                    let result = try await body(connection)
                    if let deadline, ContinuousClock.now >= deadline { throw missed }
                    return result
                }
            }
            databaseHealth.succeeded()
            return result
        } catch let error as SurveyStoreError {
            throw error
        } catch let error as PostgresTransactionError {
            if let closure = error.closureError as? SurveyStoreError { throw closure }
            let cause = error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError ?? error
            if Self.sqlState(cause) == nil { databaseHealth.failed() }
            throw Self.storeError(cause, missed)
        } catch {
            if Self.sqlState(error) == nil { databaseHealth.failed() }
            throw Self.storeError(error, missed)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            let result = try await leasing(until: .now + configuration.ballotDeadline) { connection in
                try await body(connection)
            }
            databaseHealth.succeeded()
            return result
        } catch let error as SurveyStoreError {
            throw error
        } catch {
            if Self.sqlState(error) == nil { databaseHealth.failed() }
            throw SurveyStoreError(.database, "reading the database failed: \(Self.describe(error))")
        }
    }

    /// Where a `leasing` call is: waiting for a connection, running on one, or given up.
    enum LeaseState: Sendable { case waiting, leased, abandoned }
    final class LeaseBox: Sendable { let state = Mutex(LeaseState.waiting) }

    /// No pooled connection came before the deadline.
    struct DeadlinePassed: Error, CustomStringConvertible {
        var description: String { "no database connection could be had in time (is the database running?)" }
    }

    /// Runs `body` on a pooled connection, giving up at `deadline` only while it waits for one (the
    /// pool may be retrying a database that is down). Once `body` has its connection it runs to
    /// its end: a transaction under way is never reported failed after it committed.
    func leasing<T: Sendable>(
        until deadline: ContinuousClock.Instant, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let lease = LeaseBox()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { [client] in
                try await client.withConnection { connection in
                    let mayRun = lease.state.withLock { state in
                        guard state == .waiting else { return false }
                        state = .leased
                        return true
                    }
                    guard mayRun else { throw CancellationError() }
                    return try await body(connection)
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                let abandoned = lease.state.withLock { state in
                    guard state == .waiting else { return false }
                    state = .abandoned
                    return true
                }
                if abandoned { throw DeadlinePassed() }
                return nil
            }
            while let next = try await group.next() {
                if let value = next {
                    group.cancelAll()
                    return value
                }
            }
            throw DeadlinePassed()
        }
    }

    public var databaseFailures: Int { databaseHealth.failures }

    /// Probes the database through the pool.
    public func health(within limit: Duration) async -> StoreHealth {
        do {
            _ = try await leasing(until: .now + limit) { [logger] connection in
                try await connection.query("SELECT 1", logger: logger)
            }
            databaseHealth.succeeded()
            return StoreHealth(reachable: true, failures: databaseHealth.failures)
        } catch {
            if Self.sqlState(error) == nil { databaseHealth.failed() }
            return StoreHealth(reachable: false, problem: Self.describe(error), failures: databaseHealth.failures)
        }
    }

    static func storeError(_ error: any Error, _ missed: SurveyStoreError) -> SurveyStoreError {
        if let error = error as? SurveyStoreError { return error }
        if error is DeadlinePassed {
            return SurveyStoreError(.database, "the database did not answer before the deadline; nothing was written")
        }
        switch sqlState(error) {
        case "55P03", "57014": return missed  // lock_not_available, query_canceled (the deadline)
        case "40001", "40P01":
            return SurveyStoreError(.busy, "the database aborted a conflicting write; nothing was recorded")
        default: return SurveyStoreError(.database, "writing the database failed: \(describe(error))")
        }
    }

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A one-line description: the server's message when there is one (PSQLError hides it).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
            }
            return error.underlying.map { "\(error.code) (\($0))" } ?? "\(error.code)"
        }
        return "\(error)"
    }

    static func language(_ text: String) throws -> LanguageTag {
        do { return try LanguageTag(parsing: text) } catch {
            throw SurveyStoreError(.database, "the database holds an invalid language: \(error)")
        }
    }

    static func day(_ text: String) throws -> CalendarDay {
        guard let day = CalendarDay(text) else {
            throw SurveyStoreError(.database, "the database holds an invalid date \"\(text)\"")
        }
        return day
    }

    func loadSurvey(_ connection: PostgresConnection, id: Int64, withVotes: Bool = true) async throws -> Survey? {
        var found: (String, String, String, String)?
        for try await row in try await connection.query(
            "SELECT title, opens, closes, language FROM survey WHERE id = \(id)", logger: logger
        ).decode((String, String, String, String).self) {
            found = row
        }
        guard let (title, opens, closes, language) = found else { return nil }
        var answers: [Int64: [Answer]] = [:]
        for try await (answerID, questionID, text, votes) in try await connection.query(
            """
            SELECT answer.id, answer.question_id, answer.text, answer.votes FROM answer
            JOIN question ON question.id = answer.question_id
            WHERE question.survey_id = \(id) ORDER BY answer.question_id, answer.position
            """, logger: logger
        ).decode((Int64, Int64, String, Int64).self) {
            answers[questionID, default: []].append(Answer(id: answerID, text: text, votes: withVotes ? Int(votes) : 0))
        }
        var questions: [Question] = []
        for try await (questionID, text) in try await connection.query(
            "SELECT id, text FROM question WHERE survey_id = \(id) ORDER BY position", logger: logger
        ).decode((Int64, String).self) {
            questions.append(Question(id: questionID, text: text, answers: answers[questionID] ?? []))
        }
        return Survey(
            id: id, title: title, opens: try Self.day(opens), closes: try Self.day(closes), questions: questions,
            language: try Self.language(language))
    }

    func summaries(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [SurveySummary] {
        var result: [SurveySummary] = []
        for try await (id, title, opens, closes, language) in try await connection.query(query, logger: logger)
            .decode((Int64, String, String, String, String).self)
        {
            result.append(
                SurveySummary(
                    id: id, title: title, opens: try Self.day(opens), closes: try Self.day(closes),
                    language: try Self.language(language)))
        }
        return result
    }

    /// Inserts a validated document (ids kept where given) in the caller's transaction, then moves
    /// the id sequences past every id in use.
    func insert(_ document: SurveyDocument, _ connection: PostgresConnection) async throws -> ImportSummary {
        let steps = SurveyImportRules.steps(document)
        var (survey, question): (Int64, Int64) = (0, 0)
        for step in steps {
            if let id = step.id {
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT 1 FROM \(step.table) WHERE id = $1", binds: try Self.binds(id)),
                    logger: logger)
                for try await _ in rows { throw SurveyImportRules.idTaken(step) }
            }
            // A given id is kept; a missing one (NULL) takes the next from the column's sequence.
            switch step {
            case .survey(let id, let title, let opens, let closes, let language, _):
                survey = try await insertReturningID(
                    connection,
                    "INSERT INTO survey (id, title, opens, closes, language) VALUES (COALESCE(\(id)::BIGINT, nextval(pg_get_serial_sequence('survey', 'id'))), \(title), \(opens.description), \(closes.description), \(language.description)) RETURNING id"
                )
            case .question(let id, let position, let text, _):
                question = try await insertReturningID(
                    connection,
                    "INSERT INTO question (id, survey_id, position, text) VALUES (COALESCE(\(id)::BIGINT, nextval(pg_get_serial_sequence('question', 'id'))), \(survey), \(position), \(text)) RETURNING id"
                )
            case .answer(let id, let position, let text, let votes, _):
                try await connection.query(
                    "INSERT INTO answer (id, question_id, position, text, votes) VALUES (COALESCE(\(id)::BIGINT, nextval(pg_get_serial_sequence('answer', 'id'))), \(question), \(position), \(text), \(Int64(votes)))",
                    logger: logger)
            }
        }
        for table in ["survey", "question", "answer"] {
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), GREATEST((SELECT MAX(id) FROM \(table)), 1))"
                ), logger: logger)
        }
        return SurveyImportRules.summary(steps)
    }

    func insertReturningID(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> Int64 {
        for try await id in try await connection.query(query, logger: logger).decode(Int64.self) { return id }
        throw SurveyStoreError(.database, "an insert returned no id")
    }

    static func binds(_ values: Int64...) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        return bindings
    }
}
