import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ChartCache

/// The protocol and its six invariants (DESIGN "Chart cache protocol"), with real system calls
/// in a temporary directory, real threads and real processes.
@Suite("Chart cache", .serialized, .timeLimit(.minutes(5)))
struct ChartCacheTests {
    let name = try! ChartName(validating: "q1-0123456789abcdef.png")

    // MARK: Invariant 2: one render per chart

    @Test func thousandConcurrentGetsRenderOnceWithOneFill() async throws {
        let directory = try TemporaryDirectory()
        let cache = try ChartCache.forTesting(directory)
        defer { cache.shutdown() }
        let renderer = CountingRenderer(delayMilliseconds: 100)
        let results = try await withThrowingTaskGroup(of: CachedChart.self) { group in
            for _ in 0..<1000 {
                group.addTask { try await cache.chart(named: name, render: renderer.render(name.fileName)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(renderer.renders.load(ordering: .relaxed) == 1)
        #expect(results.count == 1000)
        #expect(Set(results.map(\.bytes)) == [CountingRenderer.bytes(for: name.fileName)])
        let statistics = cache.statistics
        #expect(statistics.renders == 1 && statistics.fills == 1 && statistics.coalesced == 999)
        #expect(try directory.entries() == [name.fileName])
        // Now it is a hit, with no render.
        let hit = try await cache.chart(named: name, render: renderer.render(name.fileName))
        #expect(hit.outcome == .hit && renderer.renders.load(ordering: .relaxed) == 1)
        #expect(cache.statistics.hits == 1)
    }

    @Test func severalProcessesAndThisOneRenderOnceInTotal() async throws {
        let directory = try TemporaryDirectory()
        let helpers = try (0..<4).map { _ in
            try Helper.start(directory, name: name.fileName, ["--count", "50", "--render-ms", "300"])
        }
        let cache = try ChartCache.forTesting(directory)
        defer { cache.shutdown() }
        let renderer = CountingRenderer(delayMilliseconds: 300)
        let ours = try await withThrowingTaskGroup(of: CachedChart.self) { group in
            for _ in 0..<50 {
                group.addTask { try await cache.chart(named: name, render: renderer.render(name.fileName)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let reports = try helpers.map { try Helper.report($0.finish()) }
        let total = reports.map(\.renders).reduce(0, +) + renderer.renders.load(ordering: .relaxed)
        #expect(total == 1)
        #expect(reports.allSatisfy { $0.outcomes.keys.allSatisfy { ["rendered", "waited", "hit"].contains($0) } })
        // The stampede really overlapped: requests in other processes, or here, waited for the writer.
        let waited =
            reports.map { $0.outcomes["waited", default: 0] }.reduce(0, +) + ours.filter { $0.outcome == .waited }.count
        #expect(waited >= 1, "nobody waited: \(reports.map(\.outcomes)), here \(ours.map(\.outcome))")
        #expect(Set(ours.map(\.bytes)) == [CountingRenderer.bytes(for: name.fileName)])
        #expect(try directory.entries() == [name.fileName])
    }

    // MARK: Invariant 1: the final name only ever holds a complete file

    @Test func readersNeverSeeAPartialFileDuringAStampede() async throws {
        let directory = try TemporaryDirectory()
        let names = (0..<12).map { "q\($0)-0123456789abcdef.png" }
        let state = ReaderState()
        let path = directory.path
        // An outside reader, like nginx on the same directory: open the final name, read it all.
        let reader = Thread {
            while !state.stop.load(ordering: .relaxed) {
                for name in names {
                    guard let data = FileManager.default.contents(atPath: path + "/" + name) else { continue }
                    state.observed.add(1, ordering: .relaxed)
                    if Array(data) != CountingRenderer.bytes(for: name, count: 200_000) {
                        state.partial.withLock { $0.append("\(name): \(data.count) bytes") }
                    }
                }
            }
        }
        reader.start()
        // On every way out, a failed start or a helper that timed out included: the reader stops
        // and no helper outlives the test.
        defer { state.stop.store(true, ordering: .relaxed) }
        var helpers: [Executable.Running] = []
        defer { for helper in helpers where helper.process.isRunning { ChildProcess.end(helper.process) } }
        for name in names {
            for _ in 0..<2 {
                helpers.append(try Helper.start(directory, name: name, ["--bytes", "200000", "--render-ms", "20"]))
            }
        }
        let results = try helpers.map { try $0.finish() }
        state.stop.store(true, ordering: .relaxed)
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.standardError))")
        #expect(try results.map { try Helper.report($0).renders }.reduce(0, +) == names.count)
        #expect(state.partial.withLock { $0 }.isEmpty)
        #expect(state.observed.load(ordering: .relaxed) > 0)
        #expect(try directory.entries() == names.sorted())
    }

    // MARK: Invariant 3: waiters block in flock and wake on unlock

    @Test func waitersBlockInFlockRatherThanPolling() async throws {
        let directory = try TemporaryDirectory()
        // Long deadlines on both sides: this test is about how a waiter waits, and on a loaded
        // machine more than the default 10 s passed between the writer's start and its release.
        let writer = try Helper.start(
            directory, name: name.fileName, ["--stop-at", "locked", "--deadline-ms", "60000"])
        try await Helper.waitUntilStopped(writer.pid)
        let cache = try ChartCache.forTesting(directory, deadline: .seconds(60))
        defer { cache.shutdown() }
        let waiting = Task { try await cache.chart(named: name, render: CountingRenderer().render(name.fileName)) }
        let noWaiterBy = ContinuousClock.now + .seconds(30)
        while cache.statistics.waits == 0 {
            guard ContinuousClock.now < noWaiterBy else {
                kill(writer.pid, SIGKILL)
                Issue.record("no request waited within 30 s: \(cache.statistics)")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        // While the writer holds its lock, our pool thread sits in the flock system call (73 on
        // x86-64), put to sleep by the kernel until the unlock; never in a sleep-and-poll loop.
        var samples: [String] = []
        for _ in 0..<20 {
            try await Task.sleep(for: .milliseconds(20))
            samples.append(contentsOf: Self.cacheThreadSystemCalls())
        }
        kill(writer.pid, SIGCONT)
        let chart = try await waiting.value
        #expect(try writer.finish().status == 0)
        #expect(chart.outcome == .waited)
        #expect(chart.bytes == CountingRenderer.bytes(for: name.fileName))
        #if arch(x86_64)
            #expect(samples.filter { $0 == "73" }.count == 20, "\(samples)")
            #expect(!samples.contains("35") && !samples.contains("230"), "a waiter slept: \(samples)")
        #endif
        #expect(cache.statistics.waits == 1 && cache.statistics.renders == 0)
    }

    /// The system call numbers that the cache's pool threads are blocked in right now.
    static func cacheThreadSystemCalls() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { task in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            guard comm.hasPrefix("chartcache-") else { return nil }
            let call = (try? String(contentsOfFile: "/proc/self/task/\(task)/syscall", encoding: .utf8)) ?? ""
            let number = call.split(separator: " ").first.map(String.init) ?? ""
            return number == "running" || number == "202" ? nil : number  // 202: futex, an idle pool thread
        }
    }

    // MARK: Invariant 4: no request waits past its deadline, whatever the writer does

    @Test(arguments: ["created", "locked", "rendering", "rendered", "synced"])
    func aWriterKilledAtAnyStageIsTakenOver(stage: String) async throws {
        let directory = try TemporaryDirectory()
        let writer = try Helper.start(directory, name: name.fileName, ["--kill-at", stage, "--render-ms", "200"])
        let result = try writer.finish()
        #expect(writer.process.terminationReason == .uncaughtSignal && result.status == SIGKILL)
        // Nothing partial was published; the dead writer left at most its pending file.
        #expect(try directory.entries().allSatisfy { $0 == name.pendingFileName })
        let cache = try ChartCache.forTesting(directory, deadline: .seconds(5))
        defer { cache.shutdown() }
        let renderer = CountingRenderer()
        let chart = try await cache.chart(named: name, render: renderer.render(name.fileName))
        #expect(chart.outcome == .rendered)
        #expect(chart.bytes == CountingRenderer.bytes(for: name.fileName))
        #expect(cache.statistics.takeovers == 1)
        #expect(try directory.entries() == [name.fileName])
    }

    @Test func aWaiterRecoversWhenTheWriterDiesWhileItWaits() async throws {
        let directory = try TemporaryDirectory()
        let writer = try Helper.start(directory, name: name.fileName, ["--kill-at", "rendering"])
        try await Helper.waitForFile(directory.path + "/" + name.pendingFileName)
        let cache = try ChartCache.forTesting(directory, deadline: .seconds(5))
        defer { cache.shutdown() }
        let chart = try await cache.chart(named: name, render: CountingRenderer().render(name.fileName))
        _ = try writer.finish()
        #expect(chart.bytes == CountingRenderer.bytes(for: name.fileName))
        #expect(cache.statistics.takeovers == 1 && cache.statistics.renders == 1)
    }

    @Test func aStoppedWriterMakesWaitersBusyThenStillPublishes() async throws {
        let directory = try TemporaryDirectory()
        let writer = try Helper.start(directory, name: name.fileName, ["--stop-at", "locked"])
        try await Helper.waitUntilStopped(writer.pid)
        // The live writer's pending file is made older than the grace period before the request
        // comes: with a file seconds old and a deadline of 400 ms, only the writer's lock, never
        // the file's age, can be what keeps the request from taking the chart over.
        let pending = directory.path + "/" + name.pendingFileName
        let grace = Duration.seconds(1)
        age(pending, by: 5)
        let pendingAge = try modificationAge(pending)
        #expect(pendingAge > 4, "the pending file is \(pendingAge) s old, not past the grace period of \(grace)")
        let cache = try ChartCache.forTesting(directory, deadline: .milliseconds(400), grace: grace)
        defer { cache.shutdown() }
        let renderer = CountingRenderer()
        await #expect {
            _ = try await cache.chart(named: name, render: renderer.render(name.fileName))
        } throws: { error in
            (error as? ChartCacheError)?.code == .busy
        }
        // It waited on the writer's file (not on something else) and gave up at its deadline.
        #expect(cache.statistics.waits == 1, "\(cache.statistics)")
        #expect(cache.statistics.busy == 1)
        #expect(renderer.renders.load(ordering: .relaxed) == 0)
        // Past the grace period too, a live writer's lock is respected: no takeover.
        #expect(cache.statistics.takeovers == 0)
        #expect(try directory.entries() == [name.pendingFileName], "the live writer's pending file was removed")
        kill(writer.pid, SIGCONT)
        let result = try writer.finish()
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try Helper.report(result).outcomes == ["rendered": 1])
        let after = try await cache.chart(named: name, render: renderer.render(name.fileName))
        #expect(after.outcome == .hit && after.bytes == CountingRenderer.bytes(for: name.fileName))
    }

    @Test func requestsStuckBehindAFullPoolStillAnswerAtTheirDeadline() async throws {
        let directory = try TemporaryDirectory()
        let cache = try ChartCache(
            configuration: .init(directory: directory.path, deadline: .milliseconds(300), blockingThreads: 1))
        defer { cache.shutdown() }
        let slow = CountingRenderer(delayMilliseconds: 1500)
        let blocker = Task { try await cache.chart(named: name, render: slow.render(name.fileName)) }
        while slow.renders.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let other = try ChartName(validating: "q2-0123456789abcdef.png")
        await #expect {
            _ = try await cache.chart(named: other, render: CountingRenderer().render(other.fileName))
        } throws: { error in
            (error as? ChartCacheError)?.code == .busy
        }
        _ = try? await blocker.value
        // The given-up request's fill is still queued; let it finish before the directory goes.
        try await cache.pool.run {}
    }

    /// A fill has one deadline timer, re-armed for each waiter in turn: a request that joins a
    /// stuck fill later is answered at its own deadline, not at the first waiter's, and none hangs.
    @Test func waitersJoiningAStuckFillLaterGetTheirOwnDeadlines() async throws {
        let directory = try TemporaryDirectory()
        let deadline = Duration.milliseconds(400)
        let cache = try ChartCache(
            configuration: .init(directory: directory.path, deadline: deadline, blockingThreads: 1))
        defer { cache.shutdown() }
        let slow = CountingRenderer(delayMilliseconds: 2000)
        let blocker = Task { try await cache.chart(named: name, render: slow.render(name.fileName)) }
        while slow.renders.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let other = try ChartName(validating: "q2-0123456789abcdef.png")
        let renderer = CountingRenderer()
        @Sendable func waitForOther() async -> (busy: Bool, waited: Duration) {
            let start = ContinuousClock.now
            do {
                _ = try await cache.chart(named: other, render: renderer.render(other.fileName))
                return (false, ContinuousClock.now - start)
            } catch {
                return ((error as? ChartCacheError)?.code == .busy, ContinuousClock.now - start)
            }
        }
        let first = Task { await waitForOther() }
        try await Task.sleep(for: .milliseconds(200))
        let second = Task { await waitForOther() }
        let (one, two) = (await first.value, await second.value)
        #expect(one.busy && two.busy)
        // Timers never fire early: the later waiter got its own full deadline.
        #expect(one.waited >= deadline && two.waited >= deadline, "\(one.waited), \(two.waited)")
        #expect(cache.statistics.coalesced == 1)
        _ = try? await blocker.value
        #expect(cache.statistics.busy == 3)  // the blocker's own request, then both waiters
        // The given-up fill is still queued; let it finish before the directory goes.
        try await cache.pool.run {}
    }

    // MARK: Invariant 5: failures reach every waiter and are never stored

    @Test func aFailingRenderIsReportedToEveryWaiterAndNotStored() async throws {
        let directory = try TemporaryDirectory()
        let cache = try ChartCache.forTesting(directory)
        defer { cache.shutdown() }
        let failing = CountingRenderer(delayMilliseconds: 100, failing: true)
        let errors = await withTaskGroup(of: ChartCacheError.Code?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        _ = try await cache.chart(named: name, render: failing.render(name.fileName))
                        return nil
                    } catch {
                        return (error as? ChartCacheError)?.code
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(errors == Array(repeating: .renderFailed, count: 20))
        #expect(failing.renders.load(ordering: .relaxed) == 1)
        #expect(try directory.entries().isEmpty)
        let working = CountingRenderer()
        let chart = try await cache.chart(named: name, render: working.render(name.fileName))
        #expect(chart.outcome == .rendered && working.renders.load(ordering: .relaxed) == 1)
    }

    @Test func aWriteFailureLeavesNothingAtTheFinalName() throws {
        let directory = try TemporaryDirectory()
        // The helper may write at most 1000 bytes per file; the chart has 5000.
        let result = try Helper.start(
            directory, name: name.fileName, ["--bytes", "5000", "--file-size-limit", "1000"]
        ).finish()
        #expect(result.status == 1)
        #expect(try Helper.report(result).outcomes == ["error:write_failed": 1])
        #expect(try directory.entries().isEmpty)
    }

    @Test func writeErrorsNameTheFileAndTheCause() async throws {
        let directory = try TemporaryDirectory()
        let cache = try ChartCache.forTesting(directory)
        defer { cache.shutdown() }
        try FileManager.default.removeItem(atPath: directory.path)
        await #expect {
            _ = try await cache.chart(named: name, render: CountingRenderer().render(name.fileName))
        } throws: { error in
            guard let error = error as? ChartCacheError else { return false }
            return error.code == .directoryUnusable && error.message.contains(directory.path)
                && error.message.contains("No such file")
        }
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
    }

    // MARK: Abandoned pending files

    @Test func anOldUnlockedPendingFileIsTakenOver() async throws {
        for content in ["", "\u{89}PNG\r\n partial"] {
            let directory = try TemporaryDirectory()
            let pending = try directory.write(name.pendingFileName, content)
            age(pending, by: 5)
            let cache = try ChartCache.forTesting(directory)
            defer { cache.shutdown() }
            let chart = try await cache.chart(named: name, render: CountingRenderer().render(name.fileName))
            #expect(chart.outcome == .rendered && cache.statistics.takeovers == 1)
            #expect(try directory.entries() == [name.fileName])
        }
    }

    @Test func aFreshUnlockedPendingFileIsTakenOverAfterTheGracePeriod() async throws {
        let directory = try TemporaryDirectory()
        try directory.write(name.pendingFileName, "")
        let cache = try ChartCache.forTesting(directory, deadline: .seconds(5), grace: .milliseconds(300))
        defer { cache.shutdown() }
        let chart = try await cache.chart(named: name, render: CountingRenderer().render(name.fileName))
        #expect(chart.outcome == .rendered && cache.statistics.takeovers == 1)
    }

    @Test func aWriterBetweenCreateAndLockIsProtectedByTheGracePeriod() async throws {
        let directory = try TemporaryDirectory()
        // The writer has created its pending file but not locked it yet when it is stopped.
        let writer = try Helper.start(directory, name: name.fileName, ["--stop-at", "created"])
        try await Helper.waitUntilStopped(writer.pid)
        let pending = directory.path + "/" + name.pendingFileName
        let grace = Duration.seconds(60)
        let cache = try ChartCache.forTesting(directory, deadline: .seconds(10), grace: grace)
        defer { cache.shutdown() }
        let waiting = Task { try await cache.chart(named: name, render: CountingRenderer().render(name.fileName)) }
        // The request has found the pending file and waits on it, rather than coming after the
        // writer published (a hit, which would prove nothing about the grace period).
        let noWaiterBy = ContinuousClock.now + .seconds(10)
        while cache.statistics.waits == 0 {
            guard ContinuousClock.now < noWaiterBy else {
                kill(writer.pid, SIGKILL)
                Issue.record("no request waited on the pending file within 10 s: \(cache.statistics)")
                return
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        // Now the file is made 40 s old against a grace period of 60 s: the request, which looks at
        // the unlocked file every 10 ms, finds it too young to take over for as long as the writer
        // stays stopped. A period cut short (half of it, or none) takes it over; only the whole one
        // protects it. The 20 s margin is far beyond any scheduling delay of a loaded machine.
        setModificationAge(pending, seconds: 40)
        try await Task.sleep(for: .milliseconds(500))
        kill(writer.pid, SIGCONT)
        let chart = try await waiting.value
        #expect(try Helper.report(writer.finish()).renders == 1)
        #expect(chart.outcome == .waited, "\(chart.outcome)")
        #expect(cache.statistics.takeovers == 0 && cache.statistics.renders == 0, "\(cache.statistics)")
    }

    @Test func startupSweepRemovesOnlyAbandonedPendingFiles() async throws {
        let directory = try TemporaryDirectory()
        let abandoned = try directory.write(".q9-0123456789abcdef.png.pending", "half")
        age(abandoned, by: 5)
        let young = try directory.write(".q8-0123456789abcdef.png.pending", "")
        _ = young
        try directory.write("q7-0123456789abcdef.png", "published")
        // A live writer, stopped while holding its lock.
        let writer = try Helper.start(directory, name: name.fileName, ["--stop-at", "locked"])
        try await Helper.waitUntilStopped(writer.pid)
        age(directory.path + "/" + name.pendingFileName, by: 5)
        let cache = try ChartCache.forTesting(directory, sweep: true)
        defer {
            cache.shutdown()
            kill(writer.pid, SIGKILL)
            _ = try? writer.finish()
        }
        #expect(cache.statistics.sweptPendingFiles == 1)
        #expect(
            try directory.entries()
                == [
                    name.pendingFileName, ".q8-0123456789abcdef.png.pending", "q7-0123456789abcdef.png",
                ].sorted())
    }

    // MARK: Invariant 6: blocking work stays on the cache's own threads

    @Test func blockingWorkRunsOnlyOnTheCachePool() async throws {
        let directory = try TemporaryDirectory()
        let stageThreads = ThreadRecorder()
        let cache = try ChartCache.forTesting(directory) { _, _ in stageThreads.record() }
        defer { cache.shutdown() }
        let renderer = CountingRenderer()
        _ = try await cache.chart(named: name, render: renderer.render(name.fileName))
        let names = stageThreads.recorded.union(renderer.threadNames.withLock { $0 })
        #expect(!names.isEmpty)
        #expect(names.allSatisfy { $0.hasPrefix("chartcache-") }, "\(names)")
    }

    // MARK: Start-up checks

    @Test func anUnusableDirectoryIsReportedAtStartup() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("not-a-directory", "x")
        #expect {
            _ = try ChartCache(configuration: .init(directory: file + "/charts"))
        } throws: { error in
            (error as? ChartCacheError)?.code == .directoryUnusable
                && (error as! ChartCacheError).message.contains("--charts-dir")
        }
    }
}
