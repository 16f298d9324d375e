import Foundation
import TestSupport
import Testing

@testable import ChartCache

// Its own waits are bounded at 20 s; the suite limit is wider because its 64 threads can wait for
// the CPU behind the HTTP suites running beside it on a 2-core machine.
@Suite("Shared directory syncs", .timeLimit(.minutes(3)))
struct DirectorySyncTests {
    /// A sync held open until the test lets it go, counting the syncs that really ran.
    final class HeldSync: @unchecked Sendable {
        /// Guards the fields; only the test's threads wait on it.
        private let condition = NSCondition()
        private var holding = true
        private var entered = 0

        func perform(_ path: String) -> Int32 {
            condition.lock()
            entered += 1
            condition.broadcast()
            while holding && entered == 1 { condition.wait() }
            condition.unlock()
            return DirectorySync.fsyncDirectory(path)
        }

        func waitUntilEntered(before deadline: Date) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while entered == 0 { guard condition.wait(until: deadline) else { return entered > 0 } }
            return true
        }

        func release() {
            condition.lock()
            holding = false
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Writers that publish together: one sync is running (held open) when 63 others arrive;
    /// those 63 all need a sync that starts after they asked, and exactly one more serves them.
    @Test func writersThatArriveDuringASyncShareTheNextOneAndALaterWriterGetsItsOwn() throws {
        let directory = try TemporaryDirectory()
        let held = HeldSync()
        defer { held.release() }  // a failed requirement below must not leave threads blocked
        let sync = DirectorySync(path: directory.path, perform: held.perform)
        let deadline = Date().addingTimeInterval(20)
        let first = Thread { sync.syncAfterChange() }
        first.start()
        try #require(held.waitUntilEntered(before: deadline), "the first sync never started")
        let gate = StartingGate()
        defer { gate.open() }
        let callers = 63
        for _ in 0..<callers {
            Thread {
                gate.arriveAndWait()
                sync.syncAfterChange()
                gate.leave()
            }.start()
        }
        try #require(gate.waitUntil(arrived: callers, before: deadline), "the callers never all started")
        gate.open()
        // Every caller is waiting on the held sync before it ends: then none can lean on it.
        while sync.waiting < callers && Date() < deadline { usleep(1_000) }
        let waiting = sync.waiting
        held.release()
        try #require(gate.waitUntil(left: callers, before: deadline), "a caller never returned from its sync")
        #expect(waiting == callers, "\(waiting) of \(callers) callers were waiting")
        // The held one, then one for all 63 (not one each, and not none).
        #expect(sync.performed == 2, "\(sync.performed) syncs")
        // Nobody is syncing now: the next caller cannot lean on an earlier sync.
        sync.syncAfterChange()
        #expect(sync.performed == 3)
    }
}

/// Holds threads until all have arrived, then lets them go together, and counts those done.
final class StartingGate: @unchecked Sendable {
    /// Guards the counts; only the test's own threads wait on it.
    private let condition = NSCondition()
    private var arrived = 0
    private var left = 0
    private var isOpen = false

    /// Called by each thread: counts it, and returns once the gate opens.
    func arriveAndWait() {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        while !isOpen { condition.wait() }
    }

    /// Called by each thread when its work is done.
    func leave() {
        condition.lock()
        defer { condition.unlock() }
        left += 1
        condition.broadcast()
    }

    /// Lets every waiting thread go at once.
    func open() {
        condition.lock()
        defer { condition.unlock() }
        isOpen = true
        condition.broadcast()
    }

    /// Whether `count` threads have arrived by `deadline`.
    func waitUntil(arrived count: Int, before deadline: Date) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while arrived < count { guard condition.wait(until: deadline) else { return arrived >= count } }
        return true
    }

    /// Whether `count` threads have left by `deadline`.
    func waitUntil(left count: Int, before deadline: Date) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while left < count { guard condition.wait(until: deadline) else { return left >= count } }
        return true
    }
}
