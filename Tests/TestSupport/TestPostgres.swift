import Foundation

/// The throwaway PostgreSQL cluster that `scripts/with-postgres.sh` starts for the tests (`make
/// test` runs the tests through it). Each test gets a database of its own.
public enum TestPostgres {
    /// The variable that holds the cluster's URL (`postgres://user@127.0.0.1:port/postgres`).
    public static let variable = "SURVEYCHARTS_TEST_POSTGRES_URL"

    /// Why the cluster is missing, for a failing test to say.
    public static let missing =
        "no PostgreSQL for the tests: \(variable) is not set. Run `make test`, or "
        + "`scripts/with-postgres.sh swift test …`, which start a throwaway cluster"

    /// The cluster's URL, or nil when the tests run without one.
    public static var clusterURL: String? {
        ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Creates an empty database and returns its URL.
    public static func freshDatabase(_ clusterURL: String) throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try psql(clusterURL, "CREATE DATABASE \(name)")
        guard var components = URLComponents(string: clusterURL) else {
            throw RawHTTP.Failure(description: "\(variable) is not a URL: \(clusterURL)")
        }
        components.path = "/" + name
        return components.string!
    }

    /// Runs `sql` with `psql` against `url` and returns what it printed (unaligned, tuples only).
    /// A psql that has not finished within a minute is ended and the call throws.
    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        let result = try Executable.start(
            program: "/usr/bin/env", ["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql]
        ).finish(within: .seconds(60))
        guard result.status == 0 else {
            throw RawHTTP.Failure(description: "psql failed (\(result.status)) on \(sql): \(result.standardError)")
        }
        return result.standardOutput
    }
}
