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

/// A PostgreSQL cluster of one test's own, which the test may stop and start: for the tests of a
/// database that goes away. It runs on a fixed free port of 127.0.0.1 (the same after a restart,
/// as a real server's address is), with trust authentication, and is removed when released.
public final class PrivatePostgres: @unchecked Sendable {
    /// `postgres://surveycharts@127.0.0.1:PORT/postgres`.
    public let url: String
    public let port: Int
    private let directory: TemporaryDirectory
    private let bin: String
    private let runAs: [String]

    /// Makes and starts the cluster (initdb takes a few seconds).
    public init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.sorted(by: { $0.compare($1, options: .numeric) == .orderedAscending }).last
        else {
            throw RawHTTP.Failure(description: "no PostgreSQL under /usr/lib/postgresql: `make test` installs it")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        directory = try TemporaryDirectory()
        if getuid() == 0 {
            // The server refuses to run as root: Debian's postgres user runs it.
            runAs = ["/usr/sbin/runuser", "-u", "postgres", "--"]
            guard chown(directory.path, getpwnam("postgres")?.pointee.pw_uid ?? 0, 0) == 0 else {
                throw RawHTTP.Failure(description: "cannot give \(directory.path) to the postgres user")
            }
        } else {
            runAs = []
        }
        port = try BrowserSession.freePort()
        url = "postgres://surveycharts@\(Self.address):\(port)/postgres"
        try run(
            "initdb",
            ["-D", directory.path + "/data", "-U", "surveycharts", "--auth=trust", "-E", "UTF8", "--no-locale"])
        try start()
    }

    /// Starts the server (again) on the same port, and waits until it takes connections.
    public func start() throws {
        try run(
            "pg_ctl",
            [
                "-D", directory.path + "/data", "-l", directory.path + "/server.log", "-w", "-t", "30", "-o",
                "-p \(port) -k \(directory.path) -c listen_addresses=\(Self.address) -c max_connections=100", "start",
            ])
    }

    /// A loopback address of its own: while the cluster is down, no other test's listener on
    /// 127.0.0.1 can take its port.
    public static let address = "127.0.0.2"

    /// Freezes every process of the cluster (SIGSTOP): connections stay open and nothing answers,
    /// as with a database host that hangs.
    public func freeze() throws { try signalAll(SIGSTOP) }

    /// Lets a frozen cluster run again (SIGCONT).
    public func thaw() throws { try signalAll(SIGCONT) }

    private func signalAll(_ signal: Int32) throws {
        let pidFile = (try? String(contentsOfFile: directory.path + "/data/postmaster.pid", encoding: .utf8)) ?? ""
        guard let postmaster = pid_t(pidFile.split(separator: "\n").first ?? "") else {
            throw RawHTTP.Failure(description: "the cluster is not running")
        }
        var pids = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after the command's closing parenthesis: state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        for pid in pids { kill(pid, signal) }
    }

    /// Stops the server the hard way (`pg_ctl stop -m immediate`): every backend ends at once,
    /// connections break, and the next start runs crash recovery.
    public func stopImmediately() throws {
        try run("pg_ctl", ["-D", directory.path + "/data", "-m", "immediate", "-w", "stop"])
    }

    deinit {
        if FileManager.default.fileExists(atPath: directory.path + "/data/postmaster.pid") {
            try? run("pg_ctl", ["-D", directory.path + "/data", "-m", "immediate", "-w", "stop"])
        }
    }

    /// Runs a PostgreSQL tool with its output in a file (the server `pg_ctl start` leaves running
    /// must hold no pipe of ours), waiting at most a minute. Spawned and reaped here with
    /// `posix_spawn` and `waitpid`: Foundation's `Process` never saw `runuser` exit.
    private func run(_ tool: String, _ arguments: [String]) throws {
        let output = directory.path + "/\(tool).out"
        let command = runAs + [bin + "/" + tool] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, &argv, environ)
        guard spawned == 0 else { throw RawHTTP.Failure(description: "cannot run \(tool): error \(spawned)") }
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw RawHTTP.Failure(description: "\(tool) did not finish within a minute")
            }
            usleep(20_000)
        }
        let exited = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exited == 0 else {
            let said = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: directory.path + "/server.log", encoding: .utf8)) ?? ""
            throw RawHTTP.Failure(description: "\(tool) failed (\(exited)): \(said) \(log.suffix(2000))")
        }
    }
}
