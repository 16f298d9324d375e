import Foundation
import GRDB
import TestSupport
import Testing

@testable import Surveys

/// Counts that could overflow: imports refuse them, ballots stop at the cap, and a count that
/// overflowed anyway (in a file written before the cap) is an error, never a trap.
@Suite("Vote counts near the limit", .timeLimit(.minutes(5)))
struct VoteOverflowTests {
    let today = CalendarDay("2026-11-22")!
    static let cap = Answer.maximumVotes

    /// Survey 10, open today: question 100 with answers 1000 and 1001 holding `votes`, question
    /// 101 with answers 1010 and 1011 holding none.
    func openSurvey(votes: [Int]) -> SurveyDocument {
        SurveyDocument(surveys: [
            .init(
                id: 10, title: "Open", opens: today.adding(days: -1), closes: today.adding(days: 1),
                questions: [
                    .init(
                        id: 100, text: "Q1",
                        answers: [
                            .init(id: 1000, text: "A", votes: votes[0]), .init(id: 1001, text: "B", votes: votes[1]),
                        ]),
                    .init(id: 101, text: "Q2", answers: [.init(id: 1010, text: "C"), .init(id: 1011, text: "D")]),
                ])
        ])
    }

    /// An import document whose one question's two answers hold `votes`, written as JSON numbers.
    static func json(votes: [String]) -> Data {
        Data(
            """
            {"surveys": [{"title": "T", "opens": "2026-11-01", "closes": "2026-11-02", "questions": [
                {"text": "Q", "answers": [{"text": "A", "votes": \(votes[0])}, {"text": "B", "votes": \(votes[1])}]}]}]}
            """.utf8)
    }

    static func isUnreadableCount(_ error: any Error) -> Bool {
        guard let error = error as? SurveyStoreError else { return false }
        return error.code == .database && error.message.contains("answer.votes")
    }

    @Test func importsRefuseVotesAboveTheCapNamingThePath() throws {
        let cases: [([String], String)] = [
            (["9223372036854775807", "0"], "surveys[0].questions[0].answers[0].votes"),
            (["0", "9007199254740992"], "surveys[0].questions[0].answers[1].votes"),
            // Each under the cap, together over it by one.
            (["4503599627370496", "4503599627370496"], "surveys[0].questions[0].answers"),
        ]
        for (votes, path) in cases {
            #expect {
                try SurveyDocument(json: Self.json(votes: votes))
            } throws: { error in
                (error as? SurveyStoreError)?.field == path && (error as? SurveyStoreError)?.code == .invalidImport
            }
        }
        // Exactly the cap, alone or as a sum, is taken.
        _ = try SurveyDocument(json: Self.json(votes: ["9007199254740991", "0"]))
        _ = try SurveyDocument(json: Self.json(votes: ["4503599627370495", "4503599627370496"]))
        // A document built in code gets the same check (the stores validate before writing).
        #expect {
            try openSurvey(votes: [Int.max, 0]).validate()
        } throws: { error in
            (error as? SurveyStoreError)?.field == "surveys[0].questions[0].answers[0].votes"
        }
    }

    @Test(arguments: StoreKind.allCases) func aQuestionAtTheCapRefusesBallotsAndRecordsNothing(
        kind: StoreKind
    ) async throws {
        let directory = try TemporaryDirectory()
        let store = try await kind.makeStore(directory)
        try await store.importDocument(openSurvey(votes: [Self.cap - 1, 0]))
        // The last vote the question can take.
        try await store.record(Ballot(choices: [100: 1001, 101: 1011]), surveyID: 10, on: today)
        await #expect {
            try await store.record(Ballot(choices: [100: 1000, 101: 1010]), surveyID: 10, on: today)
        } throws: { error in
            let refusal = error as? SurveyStoreError
            return refusal?.code == .invalidBallot && refusal?.field == "q100"
                && refusal?.message.contains("cannot take more votes") == true
        }
        let survey = try #require(try await store.survey(id: 10))
        #expect(survey.questions.map { $0.answers.map(\.votes) } == [[Self.cap - 1, 1], [0, 1]])
        #expect(survey.questions[0].totalVotes == Self.cap)
    }

    /// What `votes = votes + 1` made of `Int64.max` before the cap: a REAL that no `Int` holds.
    /// GRDB's subscript trapped on it; now every read of it fails alone, with the column named.
    @Test func aCountThatOverflowedIntoARealIsADatabaseErrorNotATrap() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteSurveyStore(configuration: .init(path: directory.path + "/surveys.sqlite3"))
        try await store.importDocument(openSurvey(votes: [5, 0]))
        try await store.importDocument(
            SurveyDocument(surveys: [
                .init(
                    id: 20, title: "Other", opens: today, closes: today,
                    questions: [.init(text: "Q", answers: [.init(text: "A", votes: 3), .init(text: "B")])])
            ]))
        try await store.write { db in try db.execute(sql: "UPDATE answer SET votes = 9.3e18 WHERE id = 1000") }
        await #expect { _ = try await store.survey(id: 10) } throws: { Self.isUnreadableCount($0) }
        await #expect { _ = try await store.survey(holdingQuestion: 101) } throws: { Self.isUnreadableCount($0) }
        await #expect { _ = try await store.exportDocument() } throws: { Self.isUnreadableCount($0) }
        await #expect { _ = try await store.surveyOverviews() } throws: { Self.isUnreadableCount($0) }
        // A ballot's checks read no votes, and the cap sees the REAL: a clear refusal, nothing written.
        await #expect {
            try await store.record(Ballot(choices: [100: 1001, 101: 1010]), surveyID: 10, on: today)
        } throws: { error in
            (error as? SurveyStoreError)?.code == .invalidBallot && (error as? SurveyStoreError)?.field == "q100"
        }
        // The other survey in the file is untouched.
        #expect(try await store.survey(id: 20)?.questions.first?.answers.map(\.votes) == [3, 0])
        #expect(try await store.surveyOverview(id: 20)?.ballots == 3)
    }

    /// A count at `Int64.max` (written before imports had a cap) stays readable, its question's
    /// total saturates, and a ballot is refused instead of overflowing it into a REAL.
    @Test func aCountAtInt64MaxTakesNoMoreVotes() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteSurveyStore(configuration: .init(path: directory.path + "/surveys.sqlite3"))
        try await store.importDocument(openSurvey(votes: [0, 1]))
        try await store.write { db in
            try db.execute(sql: "UPDATE answer SET votes = 9223372036854775807 WHERE id = 1000")
        }
        await #expect {
            try await store.record(Ballot(choices: [100: 1000, 101: 1010]), surveyID: 10, on: today)
        } throws: { error in
            (error as? SurveyStoreError)?.code == .invalidBallot && (error as? SurveyStoreError)?.field == "q100"
        }
        let survey = try #require(try await store.survey(id: 10))
        #expect(survey.questions.map { $0.answers.map(\.votes) } == [[Int.max, 1], [0, 0]])
        #expect(survey.questions[0].totalVotes == Int.max)
    }

    @Test func totalsAndPagesSaturateInsteadOfTrapping() {
        func question(_ votes: Int...) -> Question {
            let answers = votes.enumerated().map { Answer(id: Int64($0.offset), text: "A", votes: $0.element) }
            return Question(id: 1, text: "Q", answers: answers)
        }
        #expect(question(.max, .max).totalVotes == .max)
        #expect(question(.max, 1, 2).totalVotes == .max)
        #expect(question(.min, .min).totalVotes == .min)
        #expect(question(2, 3).totalVotes == 5)
        #expect(SurveyPage.offset(.max, 50) == .max)
        #expect(SurveyPage.offset(.min, 50) == 0)
        #expect(SurveyPage.offset(1, 50) == 0 && SurveyPage.offset(3, 50) == 100)
        func pages(_ total: Int, _ size: Int) -> Int {
            SurveyPage(surveys: [], total: total, number: 1, size: size).count
        }
        #expect(pages(.max, 50) == Int.max / 50 + 1)
        #expect(pages(0, 50) == 1 && pages(50, 50) == 1 && pages(101, 50) == 3)
        #expect(pages(10, 0) == 1)
    }
}
