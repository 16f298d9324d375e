import Foundation
import Surveys
import SurveysPostgres
import TestSupport
import Testing

/// The stores the conformance tests run against: every rule must hold on both.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// A new, empty store of this kind (a file in `directory`, or a fresh PostgreSQL database).
    ///
    /// Ballots get a minute rather than 5 s: these tests are about rules and counts, and a ballot
    /// once ran past 5 s on PostgreSQL while the whole suite loaded both cores. The deadline
    /// itself is tested against the real server.
    func makeStore(_ directory: TemporaryDirectory, name: String = "surveys") async throws -> any SurveyStore {
        switch self {
        case .sqlite:
            return try SQLiteSurveyStore(
                configuration: .init(path: directory.path + "/\(name).sqlite3", ballotDeadline: .seconds(60)))
        case .postgres:
            let cluster = try #require(TestPostgres.clusterURL, Comment(rawValue: TestPostgres.missing))
            var options = SurveyStores.Options()
            options.ballotDeadline = .seconds(60)
            return try await SurveyStores.open(try TestPostgres.freshDatabase(cluster), options: options)
        }
    }
}
