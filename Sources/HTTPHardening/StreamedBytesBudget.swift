import Foundation
@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization

/// A process-wide bound on the bytes of large files that are read from disk but not yet taken by
/// the kernel (`--max-buffered-bytes`).
///
/// Hummingbird's body writer returns as soon as NIO has queued a chunk, before the channel can
/// report that it is no longer writable. With hundreds of clients that stop reading, each stream
/// queued about 2 MB (measured: 300 clients of an 8 MB file, 715 MB resident). Per-connection
/// backpressure cannot see that total, so the chunks are counted where they live: they are
/// allocated by `allocator`, whose hooks add and subtract their sizes, and a stream asks
/// `admit()` before it reads the next chunk. A chunk's bytes return to the budget when NIO drops
/// it: written to the socket, or the connection closed (a stalled one by the write timeout).
///
/// The allocator hooks are C functions, so the state is static: one budget per process.
public enum StreamedBytesBudget {
    /// Bytes of chunks alive now.
    public static let live = Atomic<Int>(0)
    /// The bound; set once at start-up.
    public static let limit = Atomic<Int>(64 << 20)
    /// Streams waiting for bytes to return, woken one per returned chunk in arrival order.
    private static let waiters = Mutex(Waiters())

    private struct Waiters {
        var queue: [CheckedContinuation<Void, Never>] = []
        var head = 0
        var isEmpty: Bool { head == queue.count }
    }

    /// Bytes of each allocation, stored in front of it so that `free` knows its size.
    private static let header = 16

    /// Allocates chunks whose bytes count against the budget.
    public static let allocator = ByteBufferAllocator(
        allocate: { size in
            guard let raw = malloc(size + StreamedBytesBudget.header) else { return nil }
            raw.storeBytes(of: size, as: Int.self)
            StreamedBytesBudget.live.add(size, ordering: .relaxed)
            return raw + StreamedBytesBudget.header
        },
        reallocate: { pointer, oldSize, newSize in
            let raw = pointer.map { $0 - StreamedBytesBudget.header }
            guard let moved = realloc(raw, newSize + StreamedBytesBudget.header) else { return nil }
            moved.storeBytes(of: newSize, as: Int.self)
            StreamedBytesBudget.live.add(newSize - (pointer == nil ? 0 : oldSize), ordering: .relaxed)
            return moved + StreamedBytesBudget.header
        },
        deallocate: { pointer in
            let raw = pointer - StreamedBytesBudget.header
            let size = raw.load(as: Int.self)
            free(raw)
            StreamedBytesBudget.returned(size)
        },
        copy: { target, source, count in _ = memcpy(target, source, count) })

    /// Returns once the stream may read another chunk: at once while the live bytes are under the
    /// limit, otherwise when returned chunks make room, first come first served.
    public static func admit() async {
        if live.load(ordering: .relaxed) < limit.load(ordering: .relaxed) { return }
        await withCheckedContinuation { continuation in
            let resumeNow = waiters.withLock { waiters -> Bool in
                // Checked under the lock that `returned` takes after subtracting, so a chunk
                // returned between the two checks cannot miss this waiter.
                if live.load(ordering: .relaxed) < limit.load(ordering: .relaxed) { return true }
                waiters.queue.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private static func returned(_ size: Int) {
        let now = live.subtract(size, ordering: .relaxed).newValue
        guard now < limit.load(ordering: .relaxed) else { return }
        let next = waiters.withLock { waiters -> CheckedContinuation<Void, Never>? in
            guard !waiters.isEmpty else { return nil }
            defer {
                waiters.head += 1
                if waiters.head > 1024, waiters.head * 2 > waiters.queue.count {
                    waiters.queue.removeFirst(waiters.head)
                    waiters.head = 0
                }
            }
            return waiters.queue[waiters.head]
        }
        next?.resume()
    }

    /// Streams waiting for room (for /metrics).
    public static var waiting: Int { waiters.withLock { $0.queue.count - $0.head } }
}
