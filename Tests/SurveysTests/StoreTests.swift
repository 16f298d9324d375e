import Foundation
import SurveysPostgres
import TestSupport
import Testing

@testable import Surveys

@Suite("Calendar days", .timeLimit(.minutes(2)))
struct CalendarDayTests {
    @Test func parsesAndPrintsRealDatesOnly() {
        #expect(CalendarDay("2026-11-08")?.description == "2026-11-08")
        #expect(CalendarDay("2024-02-29") != nil)
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "26-11-08", "2026-11-08T00:00", "", "２０２６-11-08"] {
            #expect(CalendarDay(bad) == nil, "\(bad)")
        }
        #expect(CalendarDay("1970-01-01")?.ordinal == 0)
        #expect(CalendarDay("2026-11-08")!.adding(days: 1).description == "2026-11-09")
        #expect(CalendarDay("2026-12-31")!.adding(days: 1).description == "2027-01-01")
        var day = CalendarDay("1999-12-25")!
        for _ in 0..<20_000 {
            #expect(CalendarDay(day.description) == day)
            day = day.adding(days: 1)
        }
    }

    @Test func dayBoundariesFollowTheTimeZone() {
        let instant = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18 11:06:40 UTC
        #expect(CalendarDay(date: instant, timeZone: TimeZone(identifier: "UTC")!).description == "2026-11-18")
        #expect(
            CalendarDay(date: instant, timeZone: TimeZone(identifier: "Pacific/Kiritimati")!).description
                == "2026-11-19")
        let zone = TimeZone(identifier: "Europe/Paris")!
        let day = CalendarDay("2026-03-29")!  // daylight saving starts
        #expect(CalendarDay(date: day.start(in: zone), timeZone: zone) == day)
        #expect(CalendarDay(date: day.start(in: zone).addingTimeInterval(-1), timeZone: zone) == day.adding(days: -1))
    }

    @Test func surveyStatesFollowTheDays() {
        let survey = Survey(
            id: 1, title: "T", opens: CalendarDay("2026-11-01")!, closes: CalendarDay("2026-11-08")!, questions: [])
        #expect(survey.state(on: CalendarDay("2026-10-31")!) == .upcoming)
        #expect(survey.state(on: CalendarDay("2026-11-01")!) == .open)
        #expect(survey.state(on: CalendarDay("2026-11-08")!) == .open)
        #expect(survey.state(on: CalendarDay("2026-11-09")!) == .completed)
    }
}

/// The store conformance suite: every test runs on SQLite and on PostgreSQL.
@Suite("Survey stores", .timeLimit(.minutes(5)))
struct StoreTests {
    let today = CalendarDay("2026-11-22")!

    func openSurvey() -> SurveyDocument {
        SurveyDocument(surveys: [
            .init(
                id: 10, title: "Open", opens: today.adding(days: -1), closes: today.adding(days: 1),
                questions: [
                    .init(id: 100, text: "Q1", answers: [.init(id: 1000, text: "A"), .init(id: 1001, text: "B")]),
                    .init(id: 101, text: "Q2", answers: [.init(id: 1010, text: "C"), .init(id: 1011, text: "D")]),
                ])
        ])
    }

    @Test(arguments: StoreKind.allCases) func exportThenImportRoundTrips(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(DemoSurveys.document(today: today))
        let exported = try await store.exportDocument()
        #expect(exported.surveys.count == 5)
        #expect(exported.surveys.allSatisfy { $0.id != nil && $0.questions.allSatisfy { $0.id != nil } })
        let other = try await kind.makeStore(directory, name: "copy")
        try await other.importDocument(SurveyDocument(json: try exported.encoded()))
        #expect(try await other.exportDocument() == exported)
    }

    @Test(arguments: StoreKind.allCases) func invalidImportsNameThePathAndWriteNothing(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        let cases: [(String, String)] = [
            (
                #"{"surveys": [{"title": "T", "opens": "2026-11-01", "closes": "2026-10-01", "questions": []}]}"#,
                "surveys[0].closes"
            ),
            (
                #"{"surveys": [{"title": "T", "opens": "2026-11-31", "closes": "2026-12-01", "questions": []}]}"#,
                "surveys[0].opens"
            ),
            (
                #"{"surveys": [{"title": "", "opens": "2026-11-01", "closes": "2026-11-02", "questions": []}]}"#,
                "surveys[0].title"
            ),
            (
                #"{"surveys": [{"title": "T", "opens": "2026-11-01", "closes": "2026-11-02", "questions": []}]}"#,
                "surveys[0].questions"
            ),
            (
                #"{"surveys": [{"title": "T", "opens": "2026-11-01", "closes": "2026-11-02", "questions": [{"text": "Q", "answers": [{"text": "A"}]}]}]}"#,
                "surveys[0].questions[0].answers"
            ),
            (
                #"{"surveys": [{"title": "T", "opens": "2026-11-01", "closes": "2026-11-02", "questions": [{"text": "Q", "answers": [{"text": "A"}, {"text": "B", "votes": -2}]}]}]}"#,
                "surveys[0].questions[0].answers[1].votes"
            ),
            (
                #"{"surveys": [{"title": "T", "opens": "2026-11-01", "closes": "2026-11-02", "questions": [{"text": "Q", "answers": [{"text": "A"}, {"text": 5}]}]}]}"#,
                "surveys[0].questions[0].answers[1].text"
            ),
            (#"{"surveys": [{"opens": "2026-11-01", "closes": "2026-11-02", "questions": []}]}"#, "surveys[0].title"),
            (
                #"{"surveys": [{"id": 3, "title": "T", "opens": "2026-11-01", "closes": "2026-11-02", "questions": [{"text": "Q", "answers": [{"id": 7, "text": "A"}, {"id": 7, "text": "B"}]}]}]}"#,
                "surveys[0].questions[0].answers[1].id"
            ),
            (#"{"surveys": "#, "$"),
        ]
        for (json, path) in cases {
            #expect {
                try SurveyDocument(json: Data(json.utf8))
            } throws: { error in
                (error as? SurveyStoreError)?.field == path && (error as? SurveyStoreError)?.code == .invalidImport
            }
        }
        // A valid first survey and a second that collides with an existing id: nothing at all is written.
        try await store.importDocument(openSurvey())
        let fresh = SurveyDocument.SurveyEntry(
            title: "Fresh", opens: today, closes: today,
            questions: [.init(text: "Q", answers: [.init(text: "A"), .init(text: "B")])])
        let document = SurveyDocument(surveys: [fresh, openSurvey().surveys[0]])
        await #expect {
            try await store.importDocument(document)
        } throws: { error in
            (error as? SurveyStoreError)?.field == "surveys[1].id"
        }
        #expect(try await store.exportDocument() == SurveyDocument(surveys: [exportShape(openSurvey().surveys[0])]))
    }

    func exportShape(_ survey: SurveyDocument.SurveyEntry) -> SurveyDocument.SurveyEntry {
        var survey = survey
        survey.language = survey.language ?? .english
        for q in survey.questions.indices {
            for a in survey.questions[q].answers.indices where survey.questions[q].answers[a].votes == nil {
                survey.questions[q].answers[a].votes = 0
            }
        }
        return survey
    }

    @Test(arguments: StoreKind.allCases) func concurrentBallotsAreNeverLost(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(openSurvey())
        // The seed's load test: 15 clients × 5 ballots, all for the same answers.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<15 {
                group.addTask {
                    for _ in 0..<5 {
                        try await store.record(Ballot(choices: [100: 1000, 101: 1011]), surveyID: 10, on: today)
                    }
                }
            }
            try await group.waitForAll()
        }
        let survey = try #require(try await store.survey(id: 10))
        #expect(survey.questions.map { $0.answers.map(\.votes) } == [[75, 0], [0, 75]])
    }

    /// A ballot sent again with its receipt (a proxy retrying it on another process, a person
    /// pressing "resend") succeeds and counts nothing more, however many copies arrive at once;
    /// a refused ballot leaves no receipt behind, and other choices under the same receipt are
    /// another ballot.
    @Test(arguments: StoreKind.allCases) func aBallotSentAgainWithItsReceiptCountsOnce(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(openSurvey())
        func votes() async throws -> [[Int]] {
            try #require(try await store.survey(id: 10)).questions.map { $0.answers.map(\.votes) }
        }
        let first = BallotReceipt.random()
        for _ in 0..<3 {
            try await store.record(Ballot(choices: [100: 1000, 101: 1010], receipt: first), surveyID: 10, on: today)
        }
        #expect(try await votes() == [[1, 0], [1, 0]], "sent three times in turn")

        // 40 copies of each of 5 ballots at once, among 20 ballots without receipts: on PostgreSQL
        // copies share a batch and race across lanes; on SQLite they share a group commit.
        let copied = (0..<5).map { _ in BallotReceipt.random() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<220 {
                group.addTask {
                    let receipt = index < 200 ? copied[index % 5] : nil
                    try await store.record(
                        Ballot(choices: [100: 1001, 101: 1011], receipt: receipt), surveyID: 10, on: today)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await votes() == [[1, 25], [1, 25]], "5 ballots sent 40 times each, and 20 without receipts")

        // Another choice under a receipt already counted: a person went back and changed an answer.
        try await store.record(Ballot(choices: [100: 1001, 101: 1010], receipt: first), surveyID: 10, on: today)
        #expect(try await votes() == [[1, 26], [2, 25]])

        // Refused ballots keep no receipt: sent again once they are valid, they count.
        let late = BallotReceipt.random()
        await #expect {
            try await store.record(
                Ballot(choices: [100: 1000, 101: 1010], receipt: late), surveyID: 10, on: today.adding(days: 2))
        } throws: { ($0 as? SurveyStoreError)?.code == .notOpen }
        try await store.record(Ballot(choices: [100: 1000, 101: 1010], receipt: late), surveyID: 10, on: today)
        #expect(try await votes() == [[2, 26], [3, 25]])

        // With a browser: the resend is answered as recorded (not "already voted"); a second
        // ballot of that browser, under a new receipt, is refused, and stays refused when resent.
        let browser = String(repeating: "b", count: 64)
        let kept = BallotReceipt.random()
        for _ in 0..<2 {
            try await store.record(
                Ballot(choices: [100: 1000, 101: 1011], browser: browser, receipt: kept), surveyID: 10, on: today)
        }
        let second = BallotReceipt.random()
        for _ in 0..<2 {
            await #expect {
                try await store.record(
                    Ballot(choices: [100: 1000, 101: 1011], browser: browser, receipt: second), surveyID: 10,
                    on: today)
            } throws: { ($0 as? SurveyStoreError)?.code == .alreadyVoted }
        }
        #expect(try await votes() == [[3, 26], [3, 26]])
    }

    @Test func receiptsAreExactly22Base64URLCharacters() {
        #expect(BallotReceipt("AAAAAAAAAAAAAAAAAAAAAA") != nil)
        #expect(BallotReceipt("abcdefghijklmnopqrst-_") != nil)
        for bad in [
            "", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAAAAAAAA/", "AAAAAAAAAAAAAAAAAAAAé", "AAAAAAAAAAAAAAAAAAAA\u{0}A",
        ] {
            #expect(BallotReceipt(bad) == nil, "\(bad)")
        }
        let receipts = Set((0..<1000).map { _ in BallotReceipt.random() })
        #expect(receipts.count == 1000 && receipts.allSatisfy { BallotReceipt($0.text) == $0 })
        // Choices in any order are one ballot; other choices are another.
        let receipt = BallotReceipt.random()
        #expect(
            Ballot(choices: [1: 2, 3: 4], receipt: receipt).receiptKey
                == Ballot(choices: [3: 4, 1: 2], receipt: receipt).receiptKey)
        #expect(
            Ballot(choices: [1: 2, 3: 4], receipt: receipt).receiptKey
                != Ballot(choices: [1: 2, 3: 5], receipt: receipt).receiptKey)
        #expect(Ballot(choices: [1: 2]).receiptKey == nil)
        // Every process must compute the same key: no per-process hash seed.
        #expect(
            Ballot(choices: [3: 4, 1: 2], receipt: BallotReceipt("AAAAAAAAAAAAAAAAAAAAAA")!).receiptKey
                == "AAAAAAAAAAAAAAAAAAAAAA.\(Self.fnv1a("1=2;3=4;"))")
        // A proxy's request id is a receipt only when it is long enough to be random.
        #expect(BallotReceipt.fromProxy(requestID: String(repeating: "a", count: 31)) == nil)
        #expect(
            BallotReceipt.fromProxy(requestID: String(repeating: "a", count: 32))?.text.hasPrefix("request:") == true)
    }

    /// On PostgreSQL, a copy that meets its original still committing in another transaction
    /// (another process's statement): it waits for that commit and is answered as recorded, with
    /// a browser or without; if the original rolls back, the copy counts.
    @Test func aCopyMeetingItsOriginalInAnotherTransactionCountsOnce() async throws {
        let cluster = try #require(TestPostgres.clusterURL, Comment(rawValue: TestPostgres.missing))
        let database = try TestPostgres.freshDatabase(cluster)
        var options = SurveyStores.Options()
        options.ballotDeadline = .seconds(60)
        let store = try await SurveyStores.open(database, options: options)
        try await store.importDocument(openSurvey())
        let cases: [(browser: String?, end: String, counted: [[Int]])] = [
            (nil, "COMMIT", [[1, 0], [1, 0]]),
            (String(repeating: "e", count: 64), "COMMIT", [[2, 0], [2, 0]]),
            (nil, "ROLLBACK", [[3, 0], [3, 0]]),
        ]
        for (browser, end, counted) in cases {
            let ballot = Ballot(choices: [100: 1000, 101: 1010], browser: browser, receipt: .random())
            let key = try #require(ballot.receiptKey)
            let original = Process()
            original.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            original.arguments = [
                "psql", database, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                "BEGIN; INSERT INTO ballot_receipt (survey_id, receipt) VALUES (10, '\(key)'); "
                    + (browser.map { "INSERT INTO browser_ballot (survey_id, browser) VALUES (10, '\($0)'); " } ?? "")
                    + "UPDATE answer SET votes = votes + 1 WHERE id IN (1000, 1010); SELECT pg_sleep(2); \(end);",
            ]
            original.standardOutput = FileHandle.nullDevice
            try original.run()
            defer {
                if original.isRunning { original.terminate() }
                original.waitUntilExit()
            }
            // The original holds its rows once its session sleeps.
            let deadline = ContinuousClock.now + .seconds(20)
            while try TestPostgres.psql(
                database,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"
            )
            .trimmingCharacters(in: .whitespacesAndNewlines) != "1" {
                try #require(ContinuousClock.now < deadline && original.isRunning, "the original never started")
                try await Task.sleep(for: .milliseconds(20))
            }
            try await store.record(ballot, surveyID: 10, on: today)
            #expect(
                try #require(try await store.survey(id: 10)).questions.map { $0.answers.map(\.votes) } == counted,
                "\(browser == nil ? "without" : "with") a browser, the original's \(end)")
        }
    }

    /// On PostgreSQL, copies queued behind another ballot of their browser, in one batch, while
    /// their original is still committing elsewhere: that ballot waits on the original's browser
    /// row and loses it, and the copies, held back behind it, are answered as recorded. When the
    /// lookup of their receipts fails (its connection is ended), they are answered as unconfirmed,
    /// never as refused, and sent again they are answered as recorded.
    @Test(arguments: [false, true])
    func copiesHeldBehindAnotherBallotOfTheirBrowserAreFoundByTheirReceipt(lookupFails: Bool) async throws {
        let cluster = try #require(TestPostgres.clusterURL, Comment(rawValue: TestPostgres.missing))
        let database = try TestPostgres.freshDatabase(cluster)
        var configuration = PostgresSurveyStore.Configuration(url: database)
        configuration.ballotDeadline = .seconds(60)
        configuration.ballotConnections = 2
        let store = try await PostgresSurveyStore(configuration: configuration)
        try await store.importDocument(openSurvey())
        let browser = String(repeating: "f", count: 64)
        let ballot = Ballot(choices: [100: 1000, 101: 1010], browser: browser, receipt: .random())
        let key = try #require(ballot.receiptKey)

        /// psql sessions the test drives a line at a time, named in `pg_stat_activity`.
        func session(_ name: String) throws -> Executable.Running {
            var environment = cleanEnvironment
            environment["PGAPPNAME"] = name
            return try Executable.start(
                program: "/usr/bin/env", ["psql", database, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                environment: environment)
        }
        func waitFor(_ count: Int, _ condition: String) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while Int(
                try TestPostgres.psql(
                    database,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        + "AND pid <> pg_backend_pid() AND \(condition)"
                ).trimmingCharacters(in: .whitespacesAndNewlines)) != count
            {
                try #require(ContinuousClock.now < deadline, "never \(count) sessions where \(condition)")
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        func send(_ ballot: Ballot) -> Task<SurveyStoreError.Code?, Error> {
            Task {
                do {
                    try await store.record(ballot, surveyID: 10, on: today)
                    return nil
                } catch let error as SurveyStoreError {
                    return error.code
                }
            }
        }
        // The gate holds answer 1001, which the fillers wait on, so both lanes are busy while the
        // others queue up. The original holds its browser, its receipt and its answers.
        let gate = try session("gate")
        gate.standardInput.fileHandleForWriting.write(
            Data("BEGIN; SELECT id FROM answer WHERE id = 1001 FOR UPDATE;\n".utf8))
        let original = try session("original")
        original.standardInput.fileHandleForWriting.write(
            Data(
                ("BEGIN; INSERT INTO ballot_receipt (survey_id, receipt) VALUES (10, '\(key)'); "
                    + "INSERT INTO browser_ballot (survey_id, browser) VALUES (10, '\(browser)'); "
                    + "UPDATE answer SET votes = votes + 1 WHERE id IN (1000, 1010);\n").utf8))
        try await waitFor(2, "application_name IN ('gate', 'original') AND state = 'idle in transaction'")
        var fillers: [Task<SurveyStoreError.Code?, Error>] = []
        for lane in 1...2 {
            fillers.append(send(Ballot(choices: [100: 1001, 101: 1011])))
            try await waitFor(lane, "wait_event_type = 'Lock'")
        }
        let other = send(Ballot(choices: [100: 1001, 101: 1011], browser: browser, receipt: .random()))
        try await Task.sleep(for: .milliseconds(300))
        let copies = (0..<5).map { _ in send(ballot) }
        try await Task.sleep(for: .milliseconds(300))
        gate.input("COMMIT;\n")
        #expect(try gate.finish(within: .seconds(30)).status == 0)
        for filler in fillers { #expect(try await filler.value == nil) }
        // Now the batch of the other ballot and the copies waits on the original's browser row.
        try await waitFor(1, "wait_event_type = 'Lock'")
        // To make the lookup fail: a lock on the receipts, queued behind that statement, holds
        // the lookup that follows it until the lookup's connection is ended.
        let lookup = "query LIKE '%AS given(survey_id, receipt)%' AND wait_event_type = 'Lock'"
        let lock = lookupFails ? try session("lock") : nil
        if let lock {
            lock.standardInput.fileHandleForWriting.write(
                Data("BEGIN; LOCK TABLE ballot_receipt IN ACCESS EXCLUSIVE MODE;\n".utf8))
            try await waitFor(1, "application_name = 'lock' AND wait_event_type = 'Lock'")
        }
        original.input("COMMIT;\n")
        #expect(try original.finish(within: .seconds(30)).status == 0)
        if let lock {
            try await waitFor(1, lookup)
            try TestPostgres.psql(
                database,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    + "AND pid <> pg_backend_pid() AND \(lookup)")
            lock.input("COMMIT;\n")
            #expect(try lock.finish(within: .seconds(30)).status == 0)
        }
        #expect(try await other.value == (lookupFails ? .unconfirmed : .alreadyVoted))
        for copy in copies { #expect(try await copy.value == (lookupFails ? .unconfirmed : nil)) }
        // Sent again, as a voter told "unconfirmed" would (again, if the lane is still
        // reconnecting), it is answered as recorded.
        var resent: [SurveyStoreError.Code?] = []
        while resent.count < 5, resent.last != .some(nil) {
            if !resent.isEmpty { try await Task.sleep(for: .milliseconds(300)) }
            resent.append(try await send(ballot).value)
        }
        #expect(resent.last == .some(nil), "\(resent)")
        #expect(
            try #require(try await store.survey(id: 10)).questions.map { $0.answers.map(\.votes) } == [
                [1, 2], [1, 2],
            ])
    }

    /// FNV-1a, 64 bits, as 16 hex digits: written out here so the store's digest is pinned.
    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Copies of a refused ballot, arriving together (so on PostgreSQL in one batch), are each
    /// refused as the ballot is, at once: none waits for its deadline.
    @Test(arguments: StoreKind.allCases) func copiesOfARefusedBallotAreRefusedToo(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(openSurvey())
        let browser = String(repeating: "c", count: 64)
        try await store.record(Ballot(choices: [100: 1000, 101: 1010], browser: browser), surveyID: 10, on: today)
        let receipt = BallotReceipt.random()
        let codes = try await withThrowingTaskGroup(of: SurveyStoreError.Code?.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    do {
                        try await store.record(
                            Ballot(choices: [100: 1001, 101: 1011], browser: browser, receipt: receipt), surveyID: 10,
                            on: today)
                        return nil
                    } catch let error as SurveyStoreError {
                        return error.code
                    }
                }
            }
            return try await group.reduce(into: [SurveyStoreError.Code?]()) { $0.append($1) }
        }
        #expect(codes.allSatisfy { $0 == .alreadyVoted }, "\(codes)")
        #expect(
            try #require(try await store.survey(id: 10)).questions.map { $0.answers.map(\.votes) } == [
                [1, 0], [1, 0],
            ])

        // One browser's two ballots at once, the second sent 20 times: whichever comes first
        // counts, and the other is refused with all its copies.
        let other = String(repeating: "d", count: 64)
        let (single, copies) = (BallotReceipt.random(), BallotReceipt.random())
        let outcomes = try await withThrowingTaskGroup(of: (Bool, SurveyStoreError.Code?).self) { group in
            for index in 0..<21 {
                group.addTask {
                    let ballot =
                        index == 0
                        ? Ballot(choices: [100: 1000, 101: 1010], browser: other, receipt: single)
                        : Ballot(choices: [100: 1001, 101: 1011], browser: other, receipt: copies)
                    do {
                        try await store.record(ballot, surveyID: 10, on: today)
                        return (index == 0, nil)
                    } catch let error as SurveyStoreError {
                        return (index == 0, error.code)
                    }
                }
            }
            return try await group.reduce(into: [(Bool, SurveyStoreError.Code?)]()) { $0.append($1) }
        }
        let singleWon = outcomes.first { $0.0 }?.1 == nil
        for (isSingle, code) in outcomes {
            #expect(code == (isSingle == singleWon ? nil : .alreadyVoted), "\(outcomes)")
        }
        #expect(
            try #require(try await store.survey(id: 10)).questions.map { $0.answers.map(\.votes) }
                == (singleWon ? [[2, 0], [2, 0]] : [[1, 1], [1, 1]]))
    }

    /// Bad ballots arriving among good ones (so, on SQLite, inside the same group commit) fail
    /// alone: each good ballot counts once, each bad one writes nothing and gets its own error.
    @Test(arguments: StoreKind.allCases) func badBallotsAmongGoodOnesFailAlone(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(openSurvey())
        let ballots: [(choices: [Int64: Int64], surveyID: Int64, error: SurveyStoreError.Code?)] = (0..<200).map {
            switch $0 % 4 {
            case 0: return ([100: 1000, 101: 1011], 10, nil)
            case 1: return ([100: 1000, 101: 1000], 10, .invalidBallot)  // an answer of the other question
            case 2: return ([100: 1001, 101: 1010], 10, nil)
            default: return ([100: 1000, 101: 1011], 999, .notFound)
            }
        }
        let outcomes = try await withThrowingTaskGroup(of: (Int, SurveyStoreError.Code?).self) { group in
            for (index, ballot) in ballots.enumerated() {
                group.addTask {
                    do {
                        try await store.record(Ballot(choices: ballot.choices), surveyID: ballot.surveyID, on: today)
                        return (index, nil)
                    } catch let error as SurveyStoreError {
                        return (index, error.code)
                    }
                }
            }
            return try await group.reduce(into: [Int: SurveyStoreError.Code?]()) { $0[$1.0] = $1.1 }
        }
        for (index, ballot) in ballots.enumerated() {
            #expect(outcomes[index] == .some(ballot.error), "ballot \(index)")
        }
        let survey = try #require(try await store.survey(id: 10))
        #expect(survey.questions.map { $0.answers.map(\.votes) } == [[50, 50], [50, 50]])
    }

    @Test(arguments: StoreKind.allCases) func badBallotsRecordNothing(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(openSurvey())
        let bad: [([Int64: Int64], SurveyStoreError.Code, String?)] = [
            ([100: 1000], .invalidBallot, "q101"),
            ([100: 1000, 101: 1000], .invalidBallot, "q101"),
            ([100: 1000, 101: 1010, 999: 1], .invalidBallot, "q999"),
            ([:], .invalidBallot, "q100"),
        ]
        for (choices, code, field) in bad {
            await #expect {
                try await store.record(Ballot(choices: choices), surveyID: 10, on: today)
            } throws: { error in
                (error as? SurveyStoreError)?.code == code && (error as? SurveyStoreError)?.field == field
            }
        }
        for day in [today.adding(days: -2), today.adding(days: 2)] {
            await #expect {
                try await store.record(Ballot(choices: [100: 1000, 101: 1010]), surveyID: 10, on: day)
            } throws: { error in (error as? SurveyStoreError)?.code == .notOpen }
        }
        await #expect {
            try await store.record(Ballot(choices: [100: 1000, 101: 1010]), surveyID: 11, on: today)
        } throws: { error in (error as? SurveyStoreError)?.code == .notFound }
        let survey = try #require(try await store.survey(id: 10))
        #expect(survey.questions.allSatisfy { $0.totalVotes == 0 })
    }

    @Test(arguments: StoreKind.allCases) func homeListsOpenAndRecentlyCompletedSurveys(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        func survey(_ title: String, _ opens: Int, _ closes: Int) -> SurveyDocument.SurveyEntry {
            .init(
                title: title, opens: today.adding(days: opens), closes: today.adding(days: closes),
                questions: [.init(text: "Q", answers: [.init(text: "A"), .init(text: "B")])])
        }
        try await store.importDocument(
            SurveyDocument(surveys: [
                survey("future", 1, 5), survey("open", -1, 0), survey("recent", -20, -14), survey("old", -30, -15),
                survey("yesterday", -5, -1),
            ]))
        let home = try await store.homeSurveys(
            on: today, recentDays: 14, activePage: 1, completedPage: 1, pageSize: 50)
        #expect(home.active.surveys.map(\.title) == ["open"])
        #expect(home.completed.surveys.map(\.title) == ["yesterday", "recent"])
        #expect(home.active.total == 1 && home.completed.total == 2)
        // Pages of two: the second page of the completed list holds the rest, in order.
        try await store.importDocument(
            SurveyDocument(surveys: [survey("older", -9, -3), survey("oldest", -9, -4), survey("open 2", -1, 1)]))
        let first = try await store.homeSurveys(on: today, recentDays: 14, activePage: 1, completedPage: 1, pageSize: 2)
        let second = try await store.homeSurveys(
            on: today, recentDays: 14, activePage: 2, completedPage: 2, pageSize: 2)
        #expect(first.completed.surveys.map(\.title) == ["yesterday", "older"])
        #expect(second.completed.surveys.map(\.title) == ["oldest", "recent"])
        #expect(first.completed.total == 4 && first.completed.count == 2)
        #expect(first.active.surveys.map(\.title) == ["open", "open 2"] && second.active.surveys.isEmpty)
        #expect(second.active.count == 1)
    }

    @Test func anUnopenableDatabaseIsAClearError() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("file", "x")
        #expect {
            try SQLiteSurveyStore(configuration: .init(path: file + "/db.sqlite3"))
        } throws: { error in
            (error as? SurveyStoreError)?.code == .database
                && (error as? SurveyStoreError)?.message.contains("cannot open the database") == true
        }
    }
}
