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
    func makeStore(_ directory: TemporaryDirectory, name: String = "surveys") async throws -> any SurveyStore {
        switch self {
        case .sqlite:
            return try SQLiteSurveyStore(configuration: .init(path: directory.path + "/\(name).sqlite3"))
        case .postgres:
            let cluster = try #require(TestPostgres.clusterURL, Comment(rawValue: TestPostgres.missing))
            return try await SurveyStores.open(try TestPostgres.freshDatabase(cluster))
        }
    }
}
