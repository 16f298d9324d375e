import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Surveys
import Synchronization

/// Group commit for PostgreSQL: the ballots waiting when a commit starts are written by one
/// statement, which is its own transaction: one round trip and one WAL flush per batch.
///
/// Each ballot is checked on its own (`Ballot.check`, in Swift) against the survey as last read,
/// which is kept with the row version it was read at (`xmin`). The statement writes only for
/// surveys whose row still has that version, holding them `FOR SHARE` until it commits. Every
/// change to a survey's dates, questions or answers updates its row in the same transaction (the
/// edit rules always emit `updateSurvey`, close and reopen update it, delete removes it), so an
/// unchanged version means the checks still hold. Ballots of a changed survey are checked again
/// against a fresh read and written by the next statement.
///
/// Ballots are committed on lanes: up to `Lane.count` connections of their own, outside the
/// pool, so pages and sign-ins never wait behind ballots, nor ballots behind them. Each lane
/// opens its connection with lock and statement timeouts of half the ballot deadline.
///
/// A ballot succeeds only once the statement that wrote it has returned. A batch still waiting at
/// its earliest ballot's deadline is settled then: `busy` ("nothing was recorded") while its
/// statement is not sent, `unconfirmed` once it is; its connection is closed, so nothing it
/// started can commit later unseen... except a commit already on its way, which `unconfirmed` says.
final class PostgresBallotCommits: Sendable {
    struct Waiting: Sendable {
        var ballot: Ballot
        var surveyID: Int64
        var day: CalendarDay
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, Error>
    }

    private struct Queue: Sendable {
        var waiting: [Waiting] = []
        var idleLanes: [Lane]
    }

    /// Most ballots in one statement.
    static let batchLimit = 1024

    private let queue: Mutex<Queue>
    private let lanes: [Lane]
    let health: DatabaseHealth

    init(
        connection: PostgresConnection.Configuration, ballotDeadline: Duration, lanes: Int, logger: Logger,
        health: DatabaseHealth
    ) {
        var configuration = connection
        let half = max(1, ballotDeadline.milliseconds / 2)
        configuration.options.connectTimeout = .milliseconds(half)
        configuration.options.additionalStartupParameters.append(
            (
                "options",
                "-c lock_timeout=\(half) -c statement_timeout=\(half) -c synchronous_commit=on "
                    + "-c default_transaction_isolation=read\\ committed"
            ))
        let surveys = BallotSurveys()
        self.lanes = (0..<max(1, lanes)).map {
            Lane(id: $0, configuration: configuration, surveys: surveys, logger: logger, health: health)
        }
        queue = Mutex(Queue(idleLanes: self.lanes))
        self.health = health
    }

    /// Waits until `ballot` is committed, refused, or given up at `deadline`.
    func record(
        _ ballot: Ballot, surveyID: Int64, on day: CalendarDay, deadline: ContinuousClock.Instant
    )
        async throws
    {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let lane = queue.withLock { queue in
                queue.waiting.append(
                    Waiting(
                        ballot: ballot, surveyID: surveyID, day: day, deadline: deadline, continuation: continuation))
                return queue.idleLanes.popLast()
            }
            if let lane { Task { await self.commitWhileWaiting(on: lane) } }
        }
    }

    /// Takes every waiting ballot (up to `batchLimit`) and commits them on `lane`, until none wait.
    private func commitWhileWaiting(on lane: Lane) async {
        while true {
            let batch = queue.withLock { queue in
                let taken = Array(queue.waiting.prefix(Self.batchLimit))
                queue.waiting.removeFirst(taken.count)
                if taken.isEmpty { queue.idleLanes.append(lane) }
                return taken
            }
            guard !batch.isEmpty else { return }
            // A ballot that waited past its deadline fails alone, not the batch it would join.
            let now = ContinuousClock.now
            for waiting in batch where waiting.deadline <= now {
                waiting.continuation.resume(
                    throwing: SurveyStoreError(.busy, "the ballot waited past its deadline; nothing was recorded"))
            }
            let live = batch.filter { $0.deadline > now }
            if !live.isEmpty { await lane.commit(live) }
        }
    }

    /// Closes the lanes' connections for good: later ballots fail as `database` errors.
    func close() async {
        for lane in lanes { await lane.close(forever: true) }
    }
}

/// Whether the database answered lately, for `/readyz` and `/metrics`.
public final class DatabaseHealth: Sendable {
    private struct State {
        var lastFailure: ContinuousClock.Instant?
        var lastSuccess: ContinuousClock.Instant?
        var failures = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Records that a statement reached the database and got its answer.
    public func succeeded() { state.withLock { $0.lastSuccess = .now } }

    /// Records a failure to reach the database.
    public func failed() {
        state.withLock { state in
            state.lastFailure = .now
            state.failures += 1
        }
    }

    /// Failures to reach the database since start.
    public var failures: Int { state.withLock { $0.failures } }

    /// Whether the most recent attempt failed.
    public var isFailing: Bool {
        state.withLock { state in
            guard let failure = state.lastFailure else { return false }
            guard let success = state.lastSuccess else { return true }
            return failure > success
        }
    }
}

/// The surveys ballots are checked against, each with the row version it was read at: shared by
/// the lanes, at most `limit` surveys, each kept for at most `lifetime` (so a row version is never
/// compared across transaction-id wraparound).
final class BallotSurveys: Sendable {
    struct Entry: Sendable {
        var survey: Survey
        var version: Int64
        var loaded: ContinuousClock.Instant
        /// Per question, the votes at load time.
        var votes: [Int64: Int]
        /// Whether a question was within `nearCap` of `Answer.maximumVotes`: such surveys are read
        /// again for every batch, so the cap is checked against current counts.
        var nearTheCap: Bool
    }

    static let limit = 1024
    static let lifetime: Duration = .seconds(60)
    /// More votes than all processes can add to a question within one `lifetime`.
    static let nearCap = 1_000_000_000

    private let entries = Mutex<[Int64: Entry]>([:])

    func current(_ id: Int64) -> Entry? {
        entries.withLock { entries in
            guard let entry = entries[id], !entry.nearTheCap, ContinuousClock.now - entry.loaded < Self.lifetime
            else { return nil }
            return entry
        }
    }

    func store(_ entry: Entry) {
        entries.withLock { entries in
            if entries.count >= Self.limit, entries[entry.survey.id] == nil { entries.removeAll(keepingCapacity: true) }
            entries[entry.survey.id] = entry
        }
    }

    func forget(_ id: Int64) { _ = entries.withLock { $0.removeValue(forKey: id) } }
}

/// One connection that commits batches, one at a time.
final class Lane: Sendable {
    let id: Int
    private let configuration: PostgresConnection.Configuration
    private let surveys: BallotSurveys
    private let logger: Logger
    private let health: DatabaseHealth
    private struct ConnectionState {
        var connection: PostgresConnection?
        var lastAttempt: ContinuousClock.Instant?
        var closedForever = false
    }
    private let state = Mutex(ConnectionState())
    /// How long a lane waits after a failed connect before it tries again; batches meanwhile
    /// fail at once, so a database that is down costs one attempt per lane per interval.
    static let reconnectInterval: Duration = .milliseconds(200)

    init(
        id: Int, configuration: PostgresConnection.Configuration, surveys: BallotSurveys, logger: Logger,
        health: DatabaseHealth
    ) {
        self.id = id
        self.configuration = configuration
        self.surveys = surveys
        self.logger = logger
        self.health = health
    }

    func close(forever: Bool = false) async {
        let connection = state.withLock { state in
            defer { state.connection = nil }
            if forever { state.closedForever = true }
            return state.connection
        }
        try? await connection?.close()
    }

    /// Commits `batch`, settling every ballot by its earliest deadline at the latest.
    func commit(_ batch: [PostgresBallotCommits.Waiting]) async {
        let settlement = BatchSettlement(batch)
        let earliest = batch.map(\.deadline).min()!
        let work = Task { await self.run(batch, settlement) }
        let timer = Task {
            try? await Task.sleep(until: earliest, clock: .continuous)
            guard !Task.isCancelled else { return }
            if settlement.giveUp() {
                // A statement is on its way: the connection goes with it, so the lane starts clean
                // and nothing it sent can be answered to no one.
                await self.close()
            }
            work.cancel()
        }
        await settlement.settled()
        timer.cancel()
        // One batch at a time on a lane: the next waits until this one's work has ended (at once
        // when it settled itself; soon after a deadline, its connection closed or its connect
        // timing out at half the deadline).
        await work.value
    }

    private func run(_ batch: [PostgresBallotCommits.Waiting], _ settlement: BatchSettlement) async {
        var pending = Array(batch.indices)
        // A survey that changed under a statement is read again once; a second change fails its
        // ballots as busy (an operator editing it that fast is not voting's normal case).
        for _ in 0..<2 where !pending.isEmpty {
            let round = pending.sorted()
            pending = []
            var connection: PostgresConnection?
            do {
                let open = try await connected()
                connection = open
                let checked = try await check(batch, round, settlement, open)
                guard !checked.accepted.isEmpty else { continue }
                guard settlement.beginCommit() else { return }
                let written: Written
                do {
                    written = try await write(batch, checked, open)
                } catch {
                    if PostgresSurveyStore.sqlState(error) != nil {
                        // The server refused the statement, so it committed nothing.
                        settlement.endCommit()
                        throw error
                    }
                    health.failed()
                    await drop(open)
                    settlement.resolveAll(
                        .failure(
                            SurveyStoreError(
                                .unconfirmed,
                                "the database went away while committing (\(PostgresSurveyStore.describe(error))); "
                                    + "the ballot may have been recorded")))
                    return
                }
                health.succeeded()
                for surveyID in written.staleSurveys { surveys.forget(surveyID) }
                var outcomes: [Int: Result<Void, SurveyStoreError>] = [:]
                for index in checked.accepted {
                    let copies = checked.copies[index] ?? []
                    let sameBrowser = checked.sameBrowser[index] ?? []
                    if written.staleSurveys.contains(batch[index].surveyID) {
                        pending.append(contentsOf: [index] + copies + sameBrowser)
                        continue
                    }
                    for ballot in [index] + copies { outcomes[ballot] = written.outcome(of: index, batch[index]) }
                    for ballot in sameBrowser { outcomes[ballot] = written.outcome(of: ballot, batch[ballot]) }
                }
                // The outcomes and the end of the statement at once: a deadline passing now finds
                // these ballots settled, never "nothing was recorded" for a committed one.
                settlement.endCommit(with: outcomes)
            } catch {
                let failure: SurveyStoreError
                if let error = error as? SurveyStoreError {
                    failure = error
                } else {
                    if PostgresSurveyStore.sqlState(error) == nil, let connection {
                        // Not the server's answer: the connection failed.
                        health.failed()
                        await drop(connection)
                    }
                    failure = PostgresSurveyStore.storeError(
                        error,
                        SurveyStoreError(
                            .busy,
                            "the database stayed locked by another writer until the deadline; nothing was recorded"))
                }
                if failure.code == .database { logger.warning("ballots not recorded: \(failure.message)") }
                settlement.resolveAll(.failure(failure))
                return
            }
        }
        if !pending.isEmpty {
            settlement.resolveAll(
                .failure(
                    SurveyStoreError(
                        .busy, "the survey changed twice while its ballots were recorded; nothing was recorded")))
        }
    }

    /// The lane's connection, opened if it has none (at most once per `reconnectInterval`).
    private func connected() async throws -> PostgresConnection {
        let (existing, mayTry): (PostgresConnection?, Bool) = try state.withLock { state in
            if state.closedForever { throw SurveyStoreError(.database, "the store is closed") }
            if let connection = state.connection, !connection.isClosed { return (connection, false) }
            state.connection = nil
            if let last = state.lastAttempt, ContinuousClock.now - last < Self.reconnectInterval { return (nil, false) }
            state.lastAttempt = .now
            return (nil, true)
        }
        if let existing { return existing }
        guard mayTry else {
            throw SurveyStoreError(.database, "the database is unreachable (a connection failed just now)")
        }
        do {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 1000 + id,
                logger: logger)
            enum Kept {
                case this
                case other(PostgresConnection)
                case closed
            }
            let kept: Kept = state.withLock { state in
                if state.closedForever { return .closed }
                if let other = state.connection, !other.isClosed { return .other(other) }
                state.connection = connection
                return .this
            }
            switch kept {
            case .this:
                return connection
            case .other(let other):
                try? await connection.close()
                return other
            case .closed:
                try? await connection.close()
                throw SurveyStoreError(.database, "the store is closed")
            }
        } catch {
            health.failed()
            throw SurveyStoreError(
                .database, "cannot connect to the database: \(PostgresSurveyStore.describe(error))")
        }
    }

    private func drop(_ connection: PostgresConnection) async {
        state.withLock { state in
            if state.connection === connection { state.connection = nil }
        }
        try? await connection.close()
    }

    private struct Checked {
        var accepted: [Int] = []
        /// For an accepted ballot, the later ballots of the batch with its receipt and choices.
        var copies: [Int: [Int]] = [:]
        /// For an accepted ballot, the later ballots of the batch from its browser that carry a
        /// receipt. Each is refused unless the statement's ballot loses its browser to another
        /// transaction that counted the receipt: then it is a copy of that one, and succeeds.
        var sameBrowser: [Int: [Int]] = [:]
        var versions: [Int64: Int64] = [:]
    }

    /// Checks each pending ballot on its own against its survey (read now where not known), and
    /// resolves the ones refused.
    private func check(
        _ batch: [PostgresBallotCommits.Waiting], _ pending: [Int], _ settlement: BatchSettlement,
        _ connection: PostgresConnection
    ) async throws -> Checked {
        var entries: [Int64: BallotSurveys.Entry] = [:]
        var missing: [Int64] = []
        for surveyID in Set(pending.map { batch[$0].surveyID }) {
            if let entry = surveys.current(surveyID) { entries[surveyID] = entry } else { missing.append(surveyID) }
        }
        if !missing.isEmpty {
            for entry in try await load(missing.sorted(), connection) {
                entries[entry.survey.id] = entry
                surveys.store(entry)
            }
            health.succeeded()
        }
        var checked = Checked()
        var votesOf: [Int64: Int] = [:]
        var browsersSeen: [BrowserKey: Int] = [:]
        var firstWithReceipt: [ReceiptKey: Int] = [:]
        for index in pending {
            let waiting = batch[index]
            do {
                guard ContinuousClock.now < waiting.deadline else {
                    throw SurveyStoreError(.busy, "the ballot waited past its deadline; nothing was recorded")
                }
                guard let entry = entries[waiting.surveyID] else {
                    throw SurveyStoreError(.notFound, "survey \(waiting.surveyID) does not exist")
                }
                try waiting.ballot.check(against: entry.survey, on: waiting.day)
                let receiptKey = waiting.ballot.receiptKey.map { ReceiptKey(survey: waiting.surveyID, receipt: $0) }
                // The same ballot again in this batch (sent again before the first was answered):
                // it is not written, and ends as the first one accepted does. (A copy of a refused
                // one is checked on its own, and refused the same way.)
                if let receiptKey, let first = firstWithReceipt[receiptKey] {
                    checked.copies[first, default: []].append(index)
                    continue
                }
                for questionID in waiting.ballot.choices.keys.sorted() {
                    let now = votesOf[questionID] ?? entry.votes[questionID] ?? 0
                    guard now < Answer.maximumVotes else { throw SurveyStoreError.questionFull(questionID) }
                }
                if let browser = waiting.ballot.browser {
                    let key = BrowserKey(survey: waiting.surveyID, browser: browser)
                    if let holder = browsersSeen[key] {
                        guard receiptKey != nil else { throw SurveyStoreError.alreadyVoted(waiting.surveyID) }
                        checked.sameBrowser[holder, default: []].append(index)
                        continue
                    }
                    browsersSeen[key] = index
                }
                for questionID in waiting.ballot.choices.keys {
                    let now = votesOf[questionID] ?? entry.votes[questionID] ?? 0
                    votesOf[questionID] = Self.saturatingSum(now, 1)
                }
                checked.accepted.append(index)
                checked.versions[waiting.surveyID] = entry.version
                if let receiptKey { firstWithReceipt[receiptKey] = index }
            } catch let refused as SurveyStoreError {
                settlement.resolve(index, .failure(refused))
            }
        }
        return checked
    }

    /// Counts read from the database are outside input: a hand-edited row must not trap.
    static func saturatingSum(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? Int.min : Int.max) : sum
    }

    /// The surveys (structure, dates, votes per question) with their row versions.
    private func load(_ ids: [Int64], _ connection: PostgresConnection) async throws -> [BallotSurveys.Entry] {
        struct Row {
            var version: Int64, title: String, opens: String, closes: String, language: String
            var questions: [(id: Int64, text: String, answers: [Answer])] = []
        }
        var rows: [Int64: Row] = [:]
        for try await (surveyID, version, title, opens, closes, language, questionID, questionText, answerID, votes)
            in try await connection.execute(LoadBallotSurveys(ids: ids), logger: logger)
        {
            var row =
                rows[surveyID]
                ?? Row(version: version, title: title, opens: opens, closes: closes, language: language)
            if let questionID, let questionText {
                if row.questions.last?.id != questionID { row.questions.append((questionID, questionText, [])) }
                if let answerID, let votes {
                    row.questions[row.questions.count - 1].answers.append(
                        Answer(id: answerID, text: "", votes: Int(votes)))
                }
            }
            rows[surveyID] = row
        }
        return try rows.map { id, row in
            let survey = Survey(
                id: id, title: row.title, opens: try PostgresSurveyStore.day(row.opens),
                closes: try PostgresSurveyStore.day(row.closes),
                questions: row.questions.map { Question(id: $0.id, text: $0.text, answers: $0.answers) },
                language: try PostgresSurveyStore.language(row.language))
            var votes: [Int64: Int] = [:]
            for question in survey.questions {
                votes[question.id] = question.answers.reduce(0) { Self.saturatingSum($0, $1.votes) }
            }
            return BallotSurveys.Entry(
                survey: survey, version: row.version, loaded: .now, votes: votes,
                nearTheCap: votes.values.contains { $0 > Answer.maximumVotes - BallotSurveys.nearCap })
        }
    }

    private struct ReceiptKey: Hashable {
        var survey: Int64
        var receipt: String
    }

    private struct BrowserKey: Hashable, Comparable {
        var survey: Int64
        var browser: String
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.survey, lhs.browser) < (rhs.survey, rhs.browser) }
    }

    private struct Written {
        var staleSurveys: Set<Int64> = []
        var refused: Set<Int> = []
        /// Ballots counted before, under their receipts: they wrote nothing.
        var replayed: Set<Int> = []
        /// Refused ballots whose receipts could not be looked up: each may be a copy of one counted.
        var unconfirmed: Set<Int> = []

        /// How ballot `index` (written, or held back behind one written) ends.
        func outcome(of index: Int, _ waiting: PostgresBallotCommits.Waiting) -> Result<Void, SurveyStoreError> {
            if unconfirmed.contains(index) {
                return .failure(
                    SurveyStoreError(
                        .unconfirmed,
                        "the database could not say whether this ballot was counted before under its receipt; "
                            + "it may have been recorded"))
            }
            return refused.contains(index) ? .failure(SurveyStoreError.alreadyVoted(waiting.surveyID)) : .success(())
        }
    }

    /// The one statement for the accepted ballots.
    private func write(
        _ batch: [PostgresBallotCommits.Waiting], _ checked: Checked, _ connection: PostgresConnection
    ) async throws -> Written {
        let (accepted, versions) = (checked.accepted, checked.versions)
        var ballots: [(key: BrowserKey?, survey: Int64, index: Int32, receipt: String)] = []
        var choiceBallots: [Int32] = []
        var choiceAnswers: [Int64] = []
        for index in accepted {
            let waiting = batch[index]
            ballots.append(
                (
                    waiting.ballot.browser.map { BrowserKey(survey: waiting.surveyID, browser: $0) }, waiting.surveyID,
                    Int32(index), waiting.ballot.receiptKey ?? ""
                ))
            for answerID in waiting.ballot.choices.values {
                choiceBallots.append(Int32(index))
                choiceAnswers.append(answerID)
            }
        }
        // Browser rows go in key order, answer rows are locked in id order: two statements (of
        // this process or another) then wait for each other instead of deadlocking.
        ballots.sort { ($0.key?.survey ?? -1, $0.key?.browser ?? "") < ($1.key?.survey ?? -1, $1.key?.browser ?? "") }
        let surveyIDs = versions.keys.sorted()
        var written = Written()
        written.staleSurveys = Set(surveyIDs)
        var counted = Set<Int64>()
        for try await (kind, value) in try await connection.execute(
            WriteBallots(
                surveys: surveyIDs, versions: surveyIDs.map { versions[$0]! }, ballots: ballots.map(\.index),
                ballotSurveys: ballots.map(\.survey), browsers: ballots.map { $0.key?.browser ?? "" },
                choiceBallots: choiceBallots, choiceAnswers: choiceAnswers, receipts: ballots.map(\.receipt)),
            logger: logger)
        {
            switch kind {
            case "current": written.staleSurveys.remove(value)
            case "refused": written.refused.insert(Int(value))
            case "replayed": written.replayed.insert(Int(value))
            default: counted.insert(value)
            }
        }
        // A ballot refused because its browser voted may be a copy whose original another
        // transaction was committing: its browser row made this statement wait for that commit,
        // and then refuse. A fresh snapshot sees the original's receipt. The same holds for the
        // ballots held back behind one of this batch from their browser.
        let sameBrowser = accepted.filter { !written.staleSurveys.contains(batch[$0].surveyID) }
            .flatMap { checked.sameBrowser[$0] ?? [] }
        written.refused.formUnion(sameBrowser)
        let refusedWithReceipts = written.refused.sorted().compactMap { index in
            batch[index].ballot.receiptKey.map { (index, batch[index].surveyID, $0) }
        }
        if !refusedWithReceipts.isEmpty {
            // The batch is committed already: a failure here must not be taken for the batch's
            // own. These ballots wrote nothing, but each may be a copy of one counted, so it is
            // answered as unconfirmed (sent again, it finds its receipt), never as refused.
            var found = Set<ReceiptKey>()
            do {
                for try await (survey, receipt) in try await connection.execute(
                    FindReceipts(surveys: refusedWithReceipts.map(\.1), receipts: refusedWithReceipts.map(\.2)),
                    logger: logger)
                {
                    found.insert(ReceiptKey(survey: survey, receipt: receipt))
                }
            } catch {
                logger.warning("ballots: the receipts of refused ballots could not be read: \(error)")
                // A plain read failing means the connection is going (a server error here is its
                // backend ended): the next batch opens a new one rather than meet it closing.
                if PostgresSurveyStore.sqlState(error) == nil { health.failed() }
                await drop(connection)
                for (index, _, _) in refusedWithReceipts {
                    written.refused.remove(index)
                    written.unconfirmed.insert(index)
                }
            }
            for (index, survey, receipt) in refusedWithReceipts
            where found.contains(ReceiptKey(survey: survey, receipt: receipt)) {
                written.refused.remove(index)
                written.replayed.insert(index)
            }
        }
        let wanted = accepted.filter {
            !written.staleSurveys.contains(batch[$0].surveyID) && !written.refused.contains($0)
                && !written.replayed.contains($0) && !written.unconfirmed.contains($0)
        }
        .flatMap { batch[$0].ballot.choices.values }
        if !Set(wanted).isSubset(of: counted) {
            logger.error(
                "ballots: an answer of an unchanged survey was not counted; the survey row was changed without its version"
            )
        }
        return written
    }
}

/// The surveys ballots are checked against, with their row versions (`xmin`).
struct LoadBallotSurveys: PostgresPreparedStatement {
    static let sql = """
        SELECT survey.id, survey.xmin::text::bigint, survey.title, survey.opens, survey.closes, survey.language,
            question.id, question.text, answer.id, answer.votes
        FROM survey LEFT JOIN question ON question.survey_id = survey.id
        LEFT JOIN answer ON answer.question_id = question.id
        WHERE survey.id = ANY($1::bigint[])
        ORDER BY survey.id, question.position, question.id, answer.position, answer.id
        """
    typealias Row = (Int64, Int64, String, String, String, String, Int64?, String?, Int64?, Int64?)

    var ids: [Int64]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(ids)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// Which of the given receipts are kept (read after `WriteBallots`, in a snapshot of its own).
struct FindReceipts: PostgresPreparedStatement {
    static let sql = """
        SELECT ballot_receipt.survey_id, ballot_receipt.receipt FROM ballot_receipt
        JOIN unnest($1::bigint[], $2::text[]) AS given(survey_id, receipt)
            ON given.survey_id = ballot_receipt.survey_id AND given.receipt = ballot_receipt.receipt
        """
    typealias Row = (Int64, String)

    var surveys: [Int64], receipts: [String]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(surveys)
        bindings.append(receipts)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// A batch's one statement. It writes only for the surveys whose row still has the version the
/// ballots were checked against (held `FOR SHARE` until it commits), inserts the browsers (one
/// that voted before refuses its ballot alone), keeps the receipts of the ballots it counts, and
/// adds each answer's votes. A ballot whose receipt is already kept (`counted_before`), or is
/// kept at the same instant by another transaction (`counted_elsewhere`), was counted once
/// already: it writes nothing and succeeds. Copies within one batch never reach it: `check`
/// keeps the first, and the copies end as it does.
///
/// Rows: `('current', survey)` for each survey written, `('refused', ballot index)`,
/// `('replayed', ballot index)`, and `('counted', answer)` for each answer incremented.
struct WriteBallots: PostgresPreparedStatement {
    static let sql = """
        WITH current AS (
            SELECT survey.id FROM survey
            JOIN unnest($1::bigint[], $2::bigint[]) AS checked(id, version) ON checked.id = survey.id
            WHERE survey.xmin::text::bigint = checked.version
            ORDER BY survey.id FOR SHARE OF survey),
        ballot AS (
            SELECT given.ballot, given.survey_id, NULLIF(given.browser, '') AS browser,
                NULLIF(given.receipt, '') AS receipt, given.position
            FROM unnest($3::integer[], $4::bigint[], $5::text[], $8::text[]) WITH ORDINALITY
                AS given(ballot, survey_id, browser, receipt, position)
            WHERE given.survey_id IN (SELECT id FROM current)),
        counted_before AS (
            SELECT ballot.ballot FROM ballot JOIN ballot_receipt
                ON ballot_receipt.survey_id = ballot.survey_id AND ballot_receipt.receipt = ballot.receipt),
        fresh AS (
            SELECT * FROM ballot WHERE ballot.ballot NOT IN (SELECT ballot FROM counted_before)),
        inserted AS (
            INSERT INTO browser_ballot (survey_id, browser)
            SELECT survey_id, browser FROM fresh WHERE browser IS NOT NULL ORDER BY position
            ON CONFLICT DO NOTHING RETURNING survey_id, browser),
        refused AS (
            SELECT fresh.ballot FROM fresh
            WHERE fresh.browser IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM inserted WHERE inserted.survey_id = fresh.survey_id AND inserted.browser = fresh.browser)),
        receipted AS (
            INSERT INTO ballot_receipt (survey_id, receipt)
            SELECT survey_id, receipt FROM fresh
            WHERE receipt IS NOT NULL AND fresh.ballot NOT IN (SELECT ballot FROM refused)
            ORDER BY survey_id, receipt
            ON CONFLICT DO NOTHING RETURNING survey_id, receipt),
        counted_elsewhere AS (
            SELECT fresh.ballot FROM fresh
            WHERE fresh.receipt IS NOT NULL AND fresh.ballot NOT IN (SELECT ballot FROM refused) AND NOT EXISTS (
                SELECT 1 FROM receipted
                WHERE receipted.survey_id = fresh.survey_id AND receipted.receipt = fresh.receipt)),
        increments AS (
            SELECT choice.answer_id, count(*) AS votes
            FROM unnest($6::integer[], $7::bigint[]) AS choice(ballot, answer_id)
            WHERE choice.ballot IN (SELECT ballot FROM fresh) AND choice.ballot NOT IN (SELECT ballot FROM refused)
                AND choice.ballot NOT IN (SELECT ballot FROM counted_elsewhere)
            GROUP BY choice.answer_id),
        locked AS (
            SELECT answer.id, increments.votes FROM answer JOIN increments ON increments.answer_id = answer.id
            ORDER BY answer.id FOR UPDATE OF answer),
        counted AS (
            UPDATE answer SET votes = answer.votes + locked.votes FROM locked WHERE answer.id = locked.id
            RETURNING answer.id)
        SELECT 'current'::text, id FROM current
        UNION ALL SELECT 'refused'::text, ballot::bigint FROM refused
        UNION ALL SELECT 'replayed'::text, ballot::bigint FROM counted_before
        UNION ALL SELECT 'replayed'::text, ballot::bigint FROM counted_elsewhere
        UNION ALL SELECT 'counted'::text, id FROM counted
        """
    typealias Row = (String, Int64)

    var surveys: [Int64], versions: [Int64]
    var ballots: [Int32], ballotSurveys: [Int64]
    /// Empty for a ballot without a browser.
    var browsers: [String]
    var choiceBallots: [Int32], choiceAnswers: [Int64]
    /// Empty for a ballot without a receipt.
    var receipts: [String]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 8)
        bindings.append(surveys)
        bindings.append(versions)
        bindings.append(ballots)
        bindings.append(ballotSurveys)
        bindings.append(browsers)
        bindings.append(choiceBallots)
        bindings.append(choiceAnswers)
        bindings.append(receipts)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// How each ballot of a batch ends, decided once: by the statements, or by the batch's deadline,
/// whichever comes first.
final class BatchSettlement: Sendable {
    private enum Phase { case open, committing }
    private struct State {
        var phase = Phase.open
        var pending: [Int: PostgresBallotCommits.Waiting]
        var settledWaiter: CheckedContinuation<Void, Never>?
    }
    private let state: Mutex<State>

    init(_ batch: [PostgresBallotCommits.Waiting]) {
        state = Mutex(State(pending: Dictionary(uniqueKeysWithValues: batch.enumerated().map { ($0, $1) })))
    }

    /// Marks a statement as sent; false when the deadline settled the batch first.
    func beginCommit() -> Bool {
        state.withLock { state in
            guard !state.pending.isEmpty else { return false }
            state.phase = .committing
            return true
        }
    }

    /// The statement has answered (and committed nothing, when `outcomes` is empty).
    func endCommit(with outcomes: [Int: Result<Void, SurveyStoreError>] = [:]) {
        let (settled, waiter) = state.withLock { state in
            state.phase = .open
            var settled: [(PostgresBallotCommits.Waiting, Result<Void, SurveyStoreError>)] = []
            for (index, outcome) in outcomes {
                if let waiting = state.pending.removeValue(forKey: index) { settled.append((waiting, outcome)) }
            }
            return (settled, Self.takeWaiterIfDone(&state))
        }
        for (waiting, outcome) in settled { waiting.continuation.resume(with: outcome.mapError { $0 }) }
        waiter?.resume()
    }

    /// Settles ballot `index`, if it is not settled yet.
    func resolve(_ index: Int, _ result: Result<Void, SurveyStoreError>) {
        let (waiting, waiter) = state.withLock { state in
            let waiting = state.pending.removeValue(forKey: index)
            return (waiting, Self.takeWaiterIfDone(&state))
        }
        waiting?.continuation.resume(with: result.mapError { $0 })
        waiter?.resume()
    }

    /// Settles every ballot not settled yet.
    func resolveAll(_ result: Result<Void, SurveyStoreError>) {
        let (pending, waiter) = state.withLock { state in
            let pending = state.pending
            state.pending = [:]
            return (pending, Self.takeWaiterIfDone(&state))
        }
        for waiting in pending.values { waiting.continuation.resume(with: result.mapError { $0 }) }
        waiter?.resume()
    }

    /// The deadline passed: every ballot not settled yet fails, `busy` if no statement is on its
    /// way, `unconfirmed` if one is. True when a statement was on its way.
    func giveUp() -> Bool {
        let (pending, phase, waiter) = state.withLock { state in
            let pending = state.pending
            state.pending = [:]
            return (pending, state.phase, Self.takeWaiterIfDone(&state))
        }
        let failure: SurveyStoreError =
            phase == .open
            ? SurveyStoreError(.busy, "the database did not answer before the deadline; nothing was recorded")
            : SurveyStoreError(
                .unconfirmed,
                "the database did not confirm the commit before the deadline; the ballot may have been recorded")
        for waiting in pending.values { waiting.continuation.resume(throwing: failure) }
        waiter?.resume()
        return !pending.isEmpty && phase == .committing
    }

    /// Waits until every ballot is settled.
    func settled() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.pending.isEmpty { return true }
                state.settledWaiter = waiter
                return false
            }
            if done { waiter.resume() }
        }
    }

    private static func takeWaiterIfDone(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard state.pending.isEmpty else { return nil }
        defer { state.settledWaiter = nil }
        return state.settledWaiter
    }
}

extension Duration {
    /// Whole milliseconds, at least 0 (durations here are positive and short).
    var milliseconds: Int64 {
        max(0, components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
