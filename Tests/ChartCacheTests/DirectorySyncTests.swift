import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ChartCache

@Suite("Shared directory syncs", .timeLimit(.minutes(1)))
struct DirectorySyncTests {
    @Test func concurrentWritersShareSyncsAndALaterWriterGetsItsOwn() throws {
        let directory = try TemporaryDirectory()
        let sync = DirectorySync(path: directory.path)
        let callers = 64
        let returned = Atomic<Int>(0)
        // Real threads, as the cache's pool threads call it.
        let threads = (0..<callers).map { _ in
            Thread {
                sync.syncAfterChange()
                returned.add(1, ordering: .relaxed)
            }
        }
        for thread in threads { thread.start() }
        let deadline = Date().addingTimeInterval(30)
        while returned.load(ordering: .relaxed) < callers && Date() < deadline { usleep(1000) }
        #expect(returned.load(ordering: .relaxed) == callers)
        let shared = sync.performed
        #expect((1...callers).contains(shared), "\(shared) syncs for \(callers) callers")
        // Nobody is syncing now: the next caller cannot lean on an earlier sync.
        sync.syncAfterChange()
        #expect(sync.performed == shared + 1)
    }
}
