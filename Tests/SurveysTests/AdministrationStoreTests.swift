import Foundation
import TestSupport
import Testing

@testable import Surveys

/// Operators, sessions and survey edits: every rule, each refused whole with the field named.
@Suite("Survey stores: operators and edits", .timeLimit(.minutes(5)))
struct AdministrationStoreTests {
    let today = CalendarDay("2026-11-22")!

    /// An open survey with two questions; the first answers of each hold votes after `vote`.
    func entry(title: String = "Lunch") -> SurveyDocument.SurveyEntry {
        .init(
            title: title, opens: today.adding(days: -1), closes: today.adding(days: 3),
            questions: [
                .init(text: "Pizza?", answers: [.init(text: "Yes"), .init(text: "No"), .init(text: "Maybe")]),
                .init(text: "Drink?", answers: [.init(text: "Water"), .init(text: "Tea")]),
            ])
    }

    func vote(_ store: any SurveyStore, _ survey: Survey, times: Int) async throws {
        for _ in 0..<times {
            try await store.record(
                Ballot(choices: [
                    survey.questions[0].id: survey.questions[0].answers[0].id,
                    survey.questions[1].id: survey.questions[1].answers[0].id,
                ]), surveyID: survey.id, on: today)
        }
    }

    /// The survey as an edit would send it back: every id kept.
    func asEntry(_ survey: Survey) -> SurveyDocument.SurveyEntry {
        .init(
            id: survey.id, title: survey.title, opens: survey.opens, closes: survey.closes,
            questions: survey.questions.map { question in
                .init(
                    id: question.id, text: question.text,
                    answers: question.answers.map { .init(id: $0.id, text: $0.text) })
            })
    }

    func expectRefused(
        _ field: String?, _ contains: String, _ body: () async throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            try await body()
            Issue.record("the edit was accepted", sourceLocation: sourceLocation)
        } catch let error as SurveyStoreError {
            #expect(error.code == .invalidEdit, sourceLocation: sourceLocation)
            #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(contains), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    /// The rules decide once what an edit removes, so both stores remove the same rows.
    @Test func theRulesSayWhatAnEditRemoves() throws {
        let current = Survey(
            id: 7, title: "Lunch", opens: today, closes: today.adding(days: 3),
            questions: [
                Question(
                    id: 1, text: "Pizza?",
                    answers: [
                        Answer(id: 11, text: "Yes", votes: 2), Answer(id: 12, text: "No", votes: 0),
                        Answer(id: 13, text: "Maybe", votes: 0),
                    ]),
                Question(id: 2, text: "Drink?", answers: [Answer(id: 21, text: "Water", votes: 0)]),
            ])
        var edit = asEntry(current)
        edit.questions[0].answers.remove(at: 1)  // "No" goes
        edit.questions.remove(at: 1)  // "Drink?" goes, with its answer
        let removals = try SurveyEditRules.check(current, becoming: edit)
        #expect(removals == .init(answerIDs: [12, 21], questionIDs: [2], clearsEarlyClose: false))
        edit.closes = today.adding(days: 5)
        #expect(try SurveyEditRules.check(current, becoming: edit).clearsEarlyClose)
        #expect(try SurveyEditRules.check(current, becoming: asEntry(current)).answerIDs.isEmpty)
    }

    @Test(arguments: StoreKind.allCases) func usersAreUniqueAndRemovingOneEndsItsSessions(kind: StoreKind) async throws
    {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        #expect(try await store.users().isEmpty)
        try await store.addUser(name: "ann", passwordHash: "$2b$12$x", at: Date())
        await expectRefused("name", "already exists") {
            try await store.addUser(name: "ann", passwordHash: "$2b$12$y", at: Date())
        }
        for bad in ["", "a b", "ann<script>", String(repeating: "x", count: 65), "ünï"] {
            await expectRefused("name", "must be 1 to 64") {
                try await store.addUser(name: bad, passwordHash: "$2b$12$y", at: Date())
            }
        }
        #expect(try await store.users().map(\.name) == ["ann"])
        #expect(try await store.passwordHash(user: "ann") == "$2b$12$x")
        #expect(try await store.passwordHash(user: "bob") == nil)
        let now = Date()
        try await store.createSession(
            AdminSession(idHash: "h1", user: "ann", csrfToken: "t", created: now, lastSeen: now))
        #expect(try await store.session(idHash: "h1", at: now, idleLimit: 3600)?.user == "ann")
        #expect(try await store.removeUser(name: "ann"))
        #expect(try await store.removeUser(name: "ann") == false)
        #expect(try await store.session(idHash: "h1", at: now, idleLimit: 3600) == nil)
    }

    @Test(arguments: StoreKind.allCases) func sessionsExpireWhenIdleAndUseMovesTheClock(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.addUser(name: "ann", passwordHash: "x", at: Date())
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.createSession(
            AdminSession(idHash: "h", user: "ann", csrfToken: "t", created: start, lastSeen: start))
        // Used 11 hours later: still valid, and the idle clock restarts.
        #expect(try await store.session(idHash: "h", at: start + 11 * 3600, idleLimit: 12 * 3600) != nil)
        #expect(try await store.session(idHash: "h", at: start + 22 * 3600, idleLimit: 12 * 3600) != nil)
        // 12 idle hours and a second: gone, for good.
        #expect(try await store.session(idHash: "h", at: start + 34 * 3600 + 1, idleLimit: 12 * 3600) == nil)
        #expect(try await store.session(idHash: "h", at: start + 22 * 3600, idleLimit: 12 * 3600) == nil)
        try await store.createSession(
            AdminSession(idHash: "g", user: "ann", csrfToken: "t", created: start, lastSeen: start))
        try await store.endSession(idHash: "g")
        #expect(try await store.session(idHash: "g", at: start, idleLimit: 12 * 3600) == nil)
    }

    @Test(arguments: StoreKind.allCases) func createIgnoresIdsAndVotesAndRefusesBadSurveysWhole(
        kind: StoreKind
    )
        async throws
    {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        var forged = entry()
        forged.id = 99
        forged.questions[0].answers[0].votes = 1000
        let id = try await store.createSurvey(forged)
        let created = try #require(try await store.survey(id: id))
        #expect(created.questions.map(\.text) == ["Pizza?", "Drink?"])
        #expect(created.questions.flatMap(\.answers).allSatisfy { $0.votes == 0 })
        let before = try await store.exportDocument()
        var reversed = entry()
        (reversed.opens, reversed.closes) = (reversed.closes, reversed.opens)
        await expectRefused("closes", "must not be before opens") { _ = try await store.createSurvey(reversed) }
        var duplicate = entry()
        duplicate.questions[0].answers[1].text = " yes "
        await expectRefused("questions[0].answers[1].text", "repeats answer 1") {
            _ = try await store.createSurvey(duplicate)
        }
        var twice = entry()
        twice.questions[1].text = "pizza?"
        await expectRefused("questions[1].text", "repeats question 1") { _ = try await store.createSurvey(twice) }
        var empty = entry()
        empty.title = "  "
        await expectRefused("title", "must not be empty") { _ = try await store.createSurvey(empty) }
        var long = entry()
        long.questions[1].answers[0].text = String(repeating: "é", count: 301)
        await expectRefused("questions[1].answers[0].text", "at most 300") { _ = try await store.createSurvey(long) }
        var lonely = entry()
        lonely.questions[1].answers.removeLast()
        await expectRefused("questions[1].answers", "2 to 64") { _ = try await store.createSurvey(lonely) }
        var none = entry()
        none.questions = []
        await expectRefused("questions", "at least one") { _ = try await store.createSurvey(none) }
        #expect(try await store.exportDocument() == before)
    }

    @Test(arguments: StoreKind.allCases) func editsKeepVotesAndRefuseToDeleteOrMoveVotedAnswers(
        kind: StoreKind
    )
        async throws
    {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        let id = try await store.createSurvey(entry())
        let survey = try #require(try await store.survey(id: id))
        try await vote(store, survey, times: 3)
        let voted = try #require(try await store.survey(id: id))
        let before = try await store.exportDocument()

        // Deleting an answer that holds votes.
        var edit = asEntry(voted)
        edit.questions[0].answers.removeFirst()
        await expectRefused("questions[0].answers", "“Yes” holds 3 votes, so it cannot be deleted") {
            try await store.updateSurvey(id: id, with: edit)
        }
        // Deleting a question whose answers hold votes: it has no place in the entry, so its id names it.
        edit = asEntry(voted)
        edit.questions.removeLast()
        await expectRefused("removedQuestions[\(voted.questions[1].id)]", "“Water” holds 3 votes") {
            try await store.updateSurvey(id: id, with: edit)
        }
        // Moving a voted answer to the other question.
        edit = asEntry(voted)
        let moved = edit.questions[0].answers.removeFirst()
        edit.questions[1].answers.append(moved)
        await expectRefused("questions[1].answers[2].text", "cannot move to another question") {
            try await store.updateSurvey(id: id, with: edit)
        }
        // Ids of another survey, or made up.
        let other = try await store.createSurvey(entry(title: "Other"))
        let foreign = try #require(try await store.survey(id: other))
        edit = asEntry(voted)
        edit.questions[0].answers.append(.init(id: foreign.questions[0].answers[0].id, text: "Stolen"))
        await expectRefused("questions[0].answers[3].id", "is not part of this survey") {
            try await store.updateSurvey(id: id, with: edit)
        }
        edit = asEntry(voted)
        edit.questions[0].id = foreign.questions[0].id
        await expectRefused("questions[0].id", "is not part of this survey") {
            try await store.updateSurvey(id: id, with: edit)
        }
        // A rule broken late in the edit: nothing of its earlier, valid parts is applied.
        edit = asEntry(voted)
        edit.title = "Renamed"
        edit.questions[0].answers.removeFirst()
        await expectRefused("questions[0].answers", "cannot be deleted") {
            try await store.updateSurvey(id: id, with: edit)
        }
        let unchanged = try await store.exportDocument()
        #expect(unchanged.surveys.first { $0.id == id } == before.surveys.first { $0.id == id })

        // Allowed: texts, title, dates, order, removing and moving unvoted answers, new rows.
        edit = asEntry(voted)
        edit.title = "Lunch, revised"
        edit.closes = today.adding(days: 10)
        edit.questions[0].text = "Pizza today?"
        edit.questions[0].answers[0].text = "Yes please"
        edit.questions[0].answers.swapAt(0, 1)
        let maybe = edit.questions[0].answers.removeLast()  // “Maybe”, no votes: moves to question 2
        edit.questions[1].answers.append(maybe)
        edit.questions[1].answers.append(.init(text: "Juice"))
        edit.questions.append(.init(text: "Dessert?", answers: [.init(text: "Cake"), .init(text: "Fruit")]))
        edit.questions.swapAt(0, 1)
        try await store.updateSurvey(id: id, with: edit)
        let after = try #require(try await store.survey(id: id))
        #expect(after.title == "Lunch, revised")
        #expect(after.closes == today.adding(days: 10))
        #expect(after.questions.map(\.text) == ["Drink?", "Pizza today?", "Dessert?"])
        #expect(after.questions[0].answers.map(\.text) == ["Water", "Tea", "Maybe", "Juice"])
        #expect(after.questions[0].answers.map(\.votes) == [3, 0, 0, 0])
        #expect(after.questions[1].answers.map(\.text) == ["No", "Yes please"])
        #expect(after.questions[1].answers.map(\.votes) == [0, 3])
        #expect(after.questions[1].answers[1].id == voted.questions[0].answers[0].id)
        // Every ballot still counts once per question; the new question counts from now on.
        #expect(try await store.surveyOverview(id: id)?.ballots == 3)
    }

    @Test(arguments: StoreKind.allCases) func closeNowAndReopenOnlyTheSameDay(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        var openedToday = entry()
        openedToday.opens = today
        let id = try await store.createSurvey(openedToday)
        try await store.closeSurveyNow(id: id, today: today)
        var survey = try #require(try await store.survey(id: id))
        #expect(survey.closes == today.adding(days: -1))
        #expect(survey.opens == today.adding(days: -1))  // it opened today: the days stay in order
        #expect(survey.state(on: today) == .completed)
        #expect(try await store.surveyOverview(id: id)?.closedEarlyOn == today)
        await expectRefused("closes", "only an open survey") { try await store.closeSurveyNow(id: id, today: today) }
        await expectRefused("closes", "only that same day") {
            try await store.reopenSurvey(id: id, today: today.adding(days: 1))
        }
        try await store.reopenSurvey(id: id, today: today)
        survey = try #require(try await store.survey(id: id))
        #expect(survey.opens == today && survey.closes == today.adding(days: 3))
        #expect(try await store.surveyOverview(id: id)?.closedEarlyOn == nil)
        await expectRefused("closes", "was not closed early") { try await store.reopenSurvey(id: id, today: today) }
        var upcoming = entry(title: "Later")
        upcoming.opens = today.adding(days: 2)
        let later = try await store.createSurvey(upcoming)
        await expectRefused("closes", "is upcoming") { try await store.closeSurveyNow(id: later, today: today) }
        do {
            try await store.closeSurveyNow(id: 4242, today: today)
            Issue.record("closed a survey that does not exist")
        } catch let error as SurveyStoreError {
            #expect(error.code == .notFound)
        }
    }

    @Test(arguments: StoreKind.allCases) func deleteTakesQuestionsAnswersAndVotes(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        let id = try await store.createSurvey(entry())
        let survey = try #require(try await store.survey(id: id))
        try await vote(store, survey, times: 2)
        #expect(try await store.deleteSurvey(id: id))
        #expect(try await store.survey(id: id) == nil)
        #expect(try await store.survey(holdingQuestion: survey.questions[0].id) == nil)
        #expect(try await store.deleteSurvey(id: id) == false)
        #expect(try await store.surveyOverviews().isEmpty)
    }

    @Test(arguments: StoreKind.allCases) func aSiteMovesWholeIntoAnEmptyStoreOnly(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(DemoSurveys.document(today: today))
        try await store.addUser(
            name: "ann", passwordHash: "$2b$12$hash", at: Date(timeIntervalSince1970: 1_800_000_000))
        let secret = try await store.secret(named: "cookie", candidate: [1, 2, 3])
        let snapshot = try await store.exportSite()
        #expect(snapshot.users.map(\.name) == ["ann"] && snapshot.secrets["cookie"] == secret)
        for target in StoreKind.allCases {
            let copy = try await target.makeStore(directory, name: "copy-\(target)")
            try await copy.importSite(snapshot)
            #expect(try await copy.exportSite() == snapshot, "\(kind) → \(target)")
            #expect(try await copy.secret(named: "cookie", candidate: [9]) == secret)
            // New rows continue after the copied ids.
            let id = try await copy.createSurvey(entry())
            #expect(id > snapshot.document.surveys.compactMap(\.id).max()!)
            // A second copy into the same store is refused whole.
            do {
                try await copy.importSite(snapshot)
                Issue.record("a site was imported into a store that holds one")
            } catch let error as SurveyStoreError {
                #expect(error.code == .invalidImport && error.message.contains("migrate into an empty store"))
            }
        }
    }
}
