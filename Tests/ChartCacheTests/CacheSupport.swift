import Foundation
import Synchronization
import TestSupport

@testable import ChartCache

/// Renders counted, deterministic bytes, optionally slowly or failing, recording the thread it ran on.
final class CountingRenderer: Sendable {
    let renders = Atomic<Int>(0)
    let threadNames = Mutex<Set<String>>([])
    let delayMilliseconds: Int
    let failing: Bool

    init(delayMilliseconds: Int = 0, failing: Bool = false) {
        self.delayMilliseconds = delayMilliseconds
        self.failing = failing
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String { "renderer exploded" }
    }

    func render(_ name: String, bytes: Int = 4096) -> @Sendable () throws -> [UInt8] {
        { [self] in
            renders.add(1, ordering: .relaxed)
            threadNames.withLock { _ = $0.insert(BlockingThreadPool.currentThreadName) }
            if delayMilliseconds > 0 { usleep(UInt32(delayMilliseconds) * 1000) }
            if failing { throw Failure() }
            return Self.bytes(for: name, count: bytes)
        }
    }

    /// The same bytes the helper process renders for a name.
    static func bytes(for name: String, count: Int = 4096) -> [UInt8] {
        let seed = Array("\(name)|".utf8)
        return [137, 80, 78, 71, 13, 10, 26, 10]
            + (0..<max(0, count - 8)).map { seed[$0 % seed.count] &+ UInt8($0 & 0x7) }
    }
}

/// Records the names of the threads that call `record()`.
final class ThreadRecorder: Sendable {
    let names = Mutex<Set<String>>([])
    func record() { names.withLock { _ = $0.insert(BlockingThreadPool.currentThreadName) } }
    var recorded: Set<String> { names.withLock { $0 } }
}

/// Shared state of the outside reader thread in the stampede test.
final class ReaderState: Sendable {
    let stop = Atomic<Bool>(false)
    let observed = Atomic<Int>(0)
    let partial = Mutex<[String]>([])
}

/// A helper process, as started by a test.
struct HelperReport: Decodable {
    var outcomes: [String: Int]
    var renders: Int
    var takeovers: Int
    var waits: Int
    var busy: Int
    var failures: Int
}

enum Helper {
    static func start(
        _ directory: TemporaryDirectory, name: String, _ extra: [String] = []
    ) throws
        -> Executable.Running
    {
        try Executable.start(["--dir", directory.path, "--name", name] + extra, name: "ChartCacheTestHelper")
    }

    static func report(_ result: Executable.Result) throws -> HelperReport {
        let line = result.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONDecoder().decode(HelperReport.self, from: Data(line.utf8))
    }

    /// Waits until `path` exists (a helper reached a stage), failing after `seconds`.
    static func waitForFile(_ path: String, seconds: Double = 10) async throws {
        let end = Date().addingTimeInterval(seconds)
        while !FileManager.default.fileExists(atPath: path) {
            guard Date() < end else { throw WaitError(what: path) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits until process `pid` is stopped (state T in /proc), failing after `seconds`.
    static func waitUntilStopped(_ pid: Int32, seconds: Double = 10) async throws {
        let end = Date().addingTimeInterval(seconds)
        while true {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            if let state = status.split(separator: ")").last?.split(separator: " ").first, state == "T" { return }
            guard Date() < end else { throw WaitError(what: "process \(pid) to stop") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    struct WaitError: Error { var what: String }
}

extension ChartCache {
    /// A cache on `directory` with test-friendly settings.
    static func forTesting(
        _ directory: TemporaryDirectory, deadline: Duration = .seconds(10), grace: Duration = .seconds(1),
        sweep: Bool = false, observer: (@Sendable (WriterStage, ChartName) -> Void)? = nil
    ) throws -> ChartCache {
        try ChartCache(
            configuration: .init(
                directory: directory.path, deadline: deadline, abandonedGracePeriod: grace, blockingThreads: 4,
                sweepOnStart: sweep, writerStageObserver: observer))
    }
}

/// Sets a file's modification time `seconds` into the past.
func age(_ path: String, by seconds: Int) {
    var times = [timespec(tv_sec: time(nil) - seconds, tv_nsec: 0), timespec(tv_sec: time(nil) - seconds, tv_nsec: 0)]
    utimensat(AT_FDCWD, path, &times, 0)
}

/// Sets a file's modification time `seconds` into the past, to the nanosecond: `age(_:by:)`
/// rounds down to a whole second, which can add almost a second to the age a test relies on.
func setModificationAge(_ path: String, seconds: Double) {
    let then = Date().timeIntervalSince1970 - seconds
    let whole = then.rounded(.down)
    let time = timespec(tv_sec: Int(whole), tv_nsec: Int((then - whole) * 1e9))
    var times = [time, time]
    utimensat(AT_FDCWD, path, &times, 0)
}

/// How many seconds ago `path` was last modified: the age the cache compares with its grace period.
func modificationAge(_ path: String) throws -> Double {
    var status = stat()
    guard lstat(path, &status) == 0 else { throw Helper.WaitError(what: "the status of \(path) (errno \(errno))") }
    return Date().timeIntervalSince1970 - (Double(status.st_mtim.tv_sec) + Double(status.st_mtim.tv_nsec) / 1e9)
}
