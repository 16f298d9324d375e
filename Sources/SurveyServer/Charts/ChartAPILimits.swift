import ChartCache
import Foundation
import HTTPHardening
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SurveyCharts
import Synchronization

/// Bounds on the public chart API (`POST /api/charts/pie`), which anyone can call with any
/// spec: how big a chart may be, how many render at once, how fast one client may ask, who may
/// ask, and how much disk its charts may take. Question charts are never affected.
public struct ChartAPILimits: Sendable {
    /// Most pixels of one chart (width × height × scale²).
    public var maximumPixels = 2048 * 2048
    /// API renders running at once; more wait for a turn within the chart deadline, then get 503.
    public var rendersInFlight = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Sustained requests per second one client address may make, and its burst.
    public var requestsPerSecond = 20.0, burst = 40.0
    /// When set, requests must carry one of these keys (`Authorization: Bearer …` or `X-API-Key`).
    public var keys: Set<String>?
    /// Most bytes of API charts (`c-…png`) kept in the chart directory; the least recently used
    /// go first.
    public var cacheMaximumBytes = 256 * 1024 * 1024

    /// The defaults above.
    public init() {}

    /// Reads API keys from `path`: one per line; blank lines and `#` comments are skipped.
    public static func keys(fromFile path: String) throws -> Set<String> {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let keys = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        return Set(keys)
    }
}

/// One token bucket per client (its `ClientIdentity.limitKey`): `rate` tokens a second, up to
/// `burst`. At most `capacity` buckets are kept; beyond it the least recently used goes, in O(1),
/// so a client cycling through addresses can neither grow the table nor make each request slow.
final class ClientRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private struct State {
        var buckets: [String: Bucket] = [:]
        var order = LRUOrder<String>()
    }

    private let rate: Double, burst: Double, capacity: Int
    private let state = Mutex(State())

    init(rate: Double, burst: Double, capacity: Int = 10_000) {
        self.rate = rate
        self.burst = burst
        self.capacity = max(1, capacity)
    }

    /// Takes a token for `client`; nil when allowed, else the seconds until the next token.
    func take(_ client: String) -> Int? {
        let now = ContinuousClock.now
        return state.withLock { state in
            var bucket = state.buckets[client] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated).seconds * rate)
            bucket.updated = now
            defer {
                state.buckets[client] = bucket
                state.order.touch(client)
                while state.buckets.count > capacity, let oldest = state.order.popOldest() {
                    state.buckets[oldest] = nil
                }
            }
            guard bucket.tokens >= 1 else {
                // At most an hour: a wait for a rate the command line allows is far below it.
                return Int(min(3600, max(1, ((1 - bucket.tokens) / rate).rounded(.up))))
            }
            bucket.tokens -= 1
            return nil
        }
    }
}

/// At most `permits` holders at once; others wait in order, up to a deadline.
final class AdmissionLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextID = 0
    }

    private let state: Mutex<State>
    /// Where waiting deadlines are scheduled: NIO's event loops, like every request deadline.
    private let timers: any EventLoopGroup

    init(permits: Int, timers: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        state = Mutex(State(available: permits))
        self.timers = timers
    }

    /// Runs `body` holding a permit; throws `ChartCacheError.busy`-like `ServiceError` when no
    /// permit comes within `deadline`.
    func run<T: Sendable>(deadline: Duration, _ body: () async throws -> T) async throws -> T {
        guard await acquire(deadline: deadline) else {
            throw ServiceError(
                .serviceUnavailable, code: .busy, title: "Please try again",
                "too many charts are being drawn right now; try again shortly", headers: [.retryAfter: "1"])
        }
        defer { release() }
        return try await body()
    }

    private func acquire(deadline: Duration) async -> Bool {
        let immediate: Int? = state.withLock { state in
            if state.available > 0 {
                state.available -= 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id = immediate else { return true }
        // The timer is armed only once the waiter is queued, so it always finds it (or a release
        // that came first).
        let timer = Mutex<Scheduled<Void>?>(nil)
        defer { timer.withLock { $0?.cancel() } }
        return await withCheckedContinuation { continuation in
            state.withLock { $0.waiters.append((id, continuation)) }
            let scheduled = timers.next().scheduleTask(in: TimeAmount(deadline)) { [weak self] in
                guard let self else { return }
                expire(id)
            }
            timer.withLock { $0 = scheduled }
        }
    }

    private func expire(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        waiter?.resume(returning: false)
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume(returning: true)
    }
}

/// The API charts (`c-…png`) in the chart directory, with their sizes and last use, kept under
/// a byte budget by removing the least recently used. Only final files are removed, never a
/// pending file (a writer's) or a question chart; a reader that has a file open keeps its bytes.
/// Every use is O(1) under the lock: a hit only moves its name to the end of the order.
///
/// Processes that share the chart directory each publish and remove API charts, so each reads
/// the directory again at most every `rescanInterval` (on a publish, on the writer's pool thread):
/// charts others wrote join the order as older than every chart this process used (oldest file
/// first), and charts others removed leave it. The directory as a whole then stays within the
/// budget, give or take what the others wrote since their last reading.
final class APIChartBudget: Sendable {
    private struct State {
        var sizes: [String: Int] = [:]
        var order = LRUOrder<String>()
        var total = 0
        var scanned = ContinuousClock.now
    }

    let directory: String
    let maximumBytes: Int
    let rescanInterval: Duration
    private let state = Mutex(State())

    /// Scans `directory` for API charts; the oldest files count as least recently used.
    init(directory: String, maximumBytes: Int, rescanInterval: Duration = .seconds(2)) {
        self.directory = directory
        self.maximumBytes = maximumBytes
        self.rescanInterval = rescanInterval
        let found = Self.scan(directory)
        state.withLock { state in
            for (name, bytes, _) in found {
                state.sizes[name] = bytes
                state.order.touch(name)
                state.total += bytes
            }
        }
    }

    /// The API charts in `directory`, oldest first. Blocking: for pool threads.
    static func scan(_ directory: String) -> [(name: String, bytes: Int, modified: Date)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found: [(name: String, bytes: Int, modified: Date)] = []
        for name in names where APIChartNames.isAPIChart(name) {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name) else {
                continue  // removed meanwhile
            }
            found.append(
                (name, (attributes[.size] as? Int) ?? 0, (attributes[.modificationDate] as? Date) ?? .distantPast))
        }
        return found.sorted { $0.modified < $1.modified }
    }

    /// Whether the directory is due to be read again.
    var isDueForRescan: Bool { state.withLock { ContinuousClock.now - $0.scanned >= rescanInterval } }

    /// Takes in what the directory holds now (`scan`); returns the names to remove to get back
    /// under budget, least recently used first. The caller unlinks them.
    func reconcile(with found: [(name: String, bytes: Int, modified: Date)]) -> [String] {
        state.withLock { state in
            state.scanned = .now
            let onDisk = Dictionary(found.map { ($0.name, $0.bytes) }, uniquingKeysWith: { first, _ in first })
            var known = LRUOrder<String>()
            // Others' charts first (oldest file first), then this process's, in its own order.
            for entry in found where state.sizes[entry.name] == nil { known.touch(entry.name) }
            while let name = state.order.popOldest() {
                if onDisk[name] != nil { known.touch(name) }
            }
            state.order = known
            state.sizes = onDisk
            state.total = onDisk.values.reduce(0) { $0.addingReportingOverflow($1).overflow ? Int.max : $0 + $1 }
            var evicted: [String] = []
            while state.total > maximumBytes, let victim = state.order.popOldest() {
                state.total -= state.sizes.removeValue(forKey: victim) ?? 0
                evicted.append(victim)
            }
            return evicted
        }
    }

    /// Bytes of API charts on record.
    var totalBytes: Int { state.withLock { $0.total } }

    /// Records a use of `name` (`bytes` long); returns the names to remove to get back under
    /// budget, least recently used first, never `name` itself. The caller unlinks them.
    func use(_ name: String, bytes: Int) -> [String] {
        state.withLock { state in
            if let old = state.sizes[name] { state.total -= old }
            state.sizes[name] = bytes
            state.total += bytes
            state.order.touch(name)
            var evicted: [String] = []
            while state.total > maximumBytes, let victim = state.order.oldest, victim != name {
                _ = state.order.popOldest()
                state.total -= state.sizes.removeValue(forKey: victim) ?? 0
                evicted.append(victim)
            }
            return evicted
        }
    }
}
