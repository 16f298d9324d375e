import CSystemShims
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The moments of a writer's life, reported to `ChartCache.Configuration.writerStageObserver`.
/// Tests kill or stop writers at each of them.
public enum WriterStage: String, Sendable, CaseIterable {
    /// The pending file was created with `O_EXCL`, not yet locked.
    case created
    /// The exclusive lock is held; rendering starts next.
    case locked
    /// The render closure returned; nothing written yet.
    case rendered
    /// The bytes are written and fsynced, not yet renamed.
    case synced
    /// The final name exists; the directory is being synced.
    case renamed
}

/// How a request was answered.
public enum CacheOutcome: String, Sendable {
    /// The final file already existed.
    case hit
    /// This process rendered and published it.
    case rendered
    /// Another writer (this process or another) published it while we waited.
    case waited
}

/// A published chart file.
public struct CachedChart: Sendable {
    /// The chart's name.
    public var name: ChartName
    /// The final file's path.
    public var path: String
    /// The file's bytes (charts are small; a hit reads them once for every coalesced caller).
    public var bytes: [UInt8]
    /// The file's size in bytes.
    public var size: Int { bytes.count }
    /// The final file's modification time.
    public var modificationTime: Date
    /// The file's inode and device, for strong ETags.
    public var inode: UInt64, device: UInt64
    /// How this request was answered.
    public var outcome: CacheOutcome
}

/// The blocking half of the cache: every system call of the protocol, run on pool threads only.
struct ChartDirectory: Sendable {
    let path: String
    let grace: Double
    let statistics: StatisticsRecorder
    let observer: (@Sendable (WriterStage, ChartName) -> Void)?
    let renderTimeObserver: (@Sendable (Duration) -> Void)?
    let publishObserver: (@Sendable (ChartName, Int) -> Void)?
    let directorySync: DirectorySync

    private func finalPath(_ name: ChartName) -> String { "\(path)/\(name.fileName)" }
    private func pendingPath(_ name: ChartName) -> String { "\(path)/\(name.pendingFileName)" }

    /// Runs the protocol of DESIGN "Chart cache protocol", step 3, until `deadline`.
    func fill(
        _ name: ChartName, deadline: ContinuousClock.Instant, render: @Sendable () throws -> [UInt8]
    ) throws -> CachedChart {
        var waited = false
        while true {
            if let chart = try readFinal(name, outcome: waited ? .waited : .hit) { return chart }
            let pending = pendingPath(name)
            let descriptor = open(pending, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 {
                return try write(name, descriptor: descriptor, deadline: deadline, render: render)
            }
            let createError = errno
            guard createError == EEXIST else {
                throw ChartCacheError.system(
                    .directoryUnusable, name: name.fileName, call: "creating", path: pending, errno: createError,
                    hint: "check that the chart directory exists and this user can write it")
            }
            let reader = open(pending, O_RDONLY | O_CLOEXEC)
            if reader < 0 {
                if errno == ENOENT || errno == EINTR { continue }  // published or removed meanwhile: look again
                throw ChartCacheError.system(
                    .directoryUnusable, name: name.fileName, call: "opening", path: pending, errno: errno)
            }
            if !waited {
                waited = true
                statistics.update { $0.waits += 1 }
            }
            let locked = surveycharts_flock_with_timeout(reader, LOCK_SH, milliseconds(until: deadline))
            if locked == -ETIMEDOUT {
                close(reader)
                throw busy(name)
            }
            if locked != 0 {
                close(reader)
                throw ChartCacheError.system(
                    .directoryUnusable, name: name.fileName, call: "flock", path: pending, errno: -locked)
            }
            if let chart = try readFinal(name, outcome: .waited) {
                close(reader)
                return chart
            }
            // The lock was free but nothing was published: the writer died, or it sits between
            // its create and its lock. Only a pending file older than the grace period is abandoned.
            var status = stat()
            fstat(reader, &status)
            let age = Date().timeIntervalSince1970 - Self.seconds(status.st_mtim)
            if age < grace {
                close(reader)
                try pause(milliseconds: 10, before: deadline, name: name)
                continue
            }
            if flock(reader, LOCK_EX | LOCK_NB) == 0 && sameFile(reader, pending) {
                unlink(pending)
                statistics.update { $0.takeovers += 1 }
                close(reader)
                continue
            }
            // Another waiter is taking over at the same moment; let it, and look again.
            close(reader)
            try pause(milliseconds: Int.random(in: 1...5), before: deadline, name: name)
        }
    }

    /// The writer's path: lock, render, write, fsync, rename, fsync the directory.
    private func write(
        _ name: ChartName, descriptor: Int32, deadline: ContinuousClock.Instant,
        render: @Sendable () throws -> [UInt8]
    ) throws -> CachedChart {
        let pending = pendingPath(name)
        let final = finalPath(name)
        var published = false
        defer {
            if !published { unlink(pending) }  // still under our lock: nobody else can own this name
            close(descriptor)
        }
        observer?(.created, name)
        // A waiter may hold a shared lock for an instant while it looks at our young file.
        let locked = surveycharts_flock_with_timeout(descriptor, LOCK_EX, max(milliseconds(until: deadline), 1000))
        guard locked == 0 else {
            throw ChartCacheError.system(
                .writeFailed, name: name.fileName, call: "flock", path: pending, errno: -locked)
        }
        observer?(.locked, name)
        if let chart = try readFinal(name, outcome: .waited) { return chart }

        let started = ContinuousClock.now
        let bytes: [UInt8]
        do {
            bytes = try render()
        } catch {
            statistics.update { $0.failures += 1 }
            throw ChartCacheError(
                .renderFailed, name: name.fileName, "rendering \(name) failed: \(error)", underlying: "\(error)")
        }
        observer?(.rendered, name)
        do {
            try writeAll(bytes, to: descriptor, path: pending, name: name)
            guard fsync(descriptor) == 0 else {
                throw ChartCacheError.system(
                    .writeFailed, name: name.fileName, call: "fsync", path: pending, errno: errno)
            }
            observer?(.synced, name)
            guard rename(pending, final) == 0 else {
                throw ChartCacheError.system(
                    .writeFailed, name: name.fileName, call: "rename", path: pending, errno: errno)
            }
        } catch {
            statistics.update { $0.failures += 1 }
            throw error
        }
        published = true
        observer?(.renamed, name)
        let syncError = directorySync.syncAfterChange()
        guard syncError == 0 else {
            // The rename may not survive a crash, so nobody may rely on the chart: it is not
            // published after all (a reader that saw it meanwhile saw a complete, synced file).
            unlink(final)
            statistics.update { $0.failures += 1 }
            throw ChartCacheError.system(
                .writeFailed, name: name.fileName, call: "fsync of the chart directory", path: path, errno: syncError)
        }
        let elapsed = ContinuousClock.now - started
        statistics.update { $0.recordRender(seconds: Self.seconds(elapsed)) }
        renderTimeObserver?(elapsed)
        publishObserver?(name, bytes.count)
        var status = stat()
        fstat(descriptor, &status)
        return CachedChart(
            name: name, path: final, bytes: bytes, modificationTime: Self.date(status.st_mtim),
            inode: UInt64(status.st_ino), device: UInt64(status.st_dev), outcome: .rendered)
    }

    /// Opens and reads the final file, or nil when it does not exist yet.
    func readFinal(_ name: ChartName, outcome: CacheOutcome) throws -> CachedChart? {
        let final = finalPath(name)
        let descriptor = open(final, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw ChartCacheError.system(
                .directoryUnusable, name: name.fileName, call: "opening", path: final, errno: errno)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw ChartCacheError.system(
                .directoryUnusable, name: name.fileName, call: "fstat", path: final, errno: errno)
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 {
                throw ChartCacheError.system(
                    .directoryUnusable, name: name.fileName, call: "reading", path: final, errno: errno)
            }
            if count == 0 { break }
            offset += count
        }
        bytes.removeSubrange(offset...)
        statistics.update { $0.hits += outcome == .hit ? 1 : 0 }
        return CachedChart(
            name: name, path: final, bytes: bytes, modificationTime: Self.date(status.st_mtim),
            inode: UInt64(status.st_ino), device: UInt64(status.st_dev), outcome: outcome)
    }

    /// Removes pending files that no process holds a lock on and that are past the grace period.
    func sweepAbandoned() -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        var removed: [String] = []
        for entry in entries where entry.hasPrefix(".") && entry.hasSuffix(".pending") {
            let pending = "\(path)/\(entry)"
            let descriptor = open(pending, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            var status = stat()
            fstat(descriptor, &status)
            guard Date().timeIntervalSince1970 - Self.seconds(status.st_mtim) >= grace else { continue }
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 && sameFile(descriptor, pending) {
                unlink(pending)
                removed.append(entry)
            }
        }
        if !removed.isEmpty {
            _ = directorySync.syncAfterChange()
            statistics.update { $0.sweptPendingFiles += removed.count }
        }
        return removed
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String, name: ChartName) throws {
        var offset = 0
        try bytes.withUnsafeBytes { buffer in
            while offset < buffer.count {
                let count = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw ChartCacheError.system(
                        .writeFailed, name: name.fileName, call: "writing", path: path, errno: errno,
                        hint: "check free space and quotas of the chart directory")
                }
                offset += count
            }
        }
    }

    /// Whether `path` still names the file open as `descriptor` (it was not replaced meanwhile).
    private func sameFile(_ descriptor: Int32, _ path: String) -> Bool {
        var open = stat()
        var named = stat()
        guard fstat(descriptor, &open) == 0, lstat(path, &named) == 0 else { return false }
        return open.st_ino == named.st_ino && open.st_dev == named.st_dev
    }

    private func busy(_ name: ChartName) -> ChartCacheError {
        ChartCacheError(
            .busy, name: name.fileName,
            "\(name) is still being rendered by another writer; retry shortly")
    }

    private func pause(milliseconds: Int, before deadline: ContinuousClock.Instant, name: ChartName) throws {
        let remaining = self.milliseconds(until: deadline)
        guard remaining > 0 else { throw busy(name) }
        usleep(UInt32(min(Int64(milliseconds), remaining)) * 1000)
    }

    private func milliseconds(until deadline: ContinuousClock.Instant) -> Int64 {
        let remaining = deadline - ContinuousClock.now
        let (seconds, attoseconds) = remaining.components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    static func seconds(_ time: timespec) -> Double { Double(time.tv_sec) + Double(time.tv_nsec) / 1e9 }
    static func date(_ time: timespec) -> Date { Date(timeIntervalSince1970: seconds(time)) }
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Syncs of the chart directory, shared between writers: a sync that starts after a writer's
/// rename makes that rename durable too, so the writers that rename while one sync runs share
/// the next one instead of queueing one each.
final class DirectorySync: @unchecked Sendable {
    let path: String
    /// The sync itself: `fsyncDirectory`, or a stand-in in tests that holds a sync open; 0 or the
    /// `errno` of the failure.
    private let perform: @Sendable (String) -> Int32
    /// Guards the counters; pool threads wait on it (never the event loop or the cooperative pool).
    private let condition = NSCondition()
    private var started = 0
    private var finished = 0
    private var running = false
    private var waiters = 0
    /// The result of the sync that finished last (the one every waiter it satisfied relied on).
    private var lastResult: Int32 = 0

    init(path: String, perform: @escaping @Sendable (String) -> Int32 = DirectorySync.fsyncDirectory) {
        self.path = path
        self.perform = perform
    }

    /// Opens the directory and `fsync`s it, so the renames in it are durable: 0, or the `errno`.
    static func fsyncDirectory(_ path: String) -> Int32 {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return errno }
        defer { close(directory) }
        return fsync(directory) == 0 ? 0 : errno
    }

    /// Syncs performed so far.
    var performed: Int {
        condition.lock()
        defer { condition.unlock() }
        return finished
    }

    /// Callers waiting for a sync under way to finish.
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return waiters
    }

    /// Returns once a directory sync that started after this call began has finished: 0, or the
    /// `errno` of that sync's failure (the change may then not survive a crash).
    @discardableResult
    func syncAfterChange() -> Int32 {
        condition.lock()
        defer { condition.unlock() }
        let needed = started + 1
        while finished < needed {
            if running {
                waiters += 1
                condition.wait()
                waiters -= 1
                continue
            }
            running = true
            started += 1
            let mine = started
            condition.unlock()
            let result = perform(path)
            condition.lock()
            running = false
            finished = mine
            lastResult = result
            condition.broadcast()
        }
        return lastResult
    }
}
