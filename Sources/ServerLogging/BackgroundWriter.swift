import Foundation
import NIOCore
import Synchronization

/// Text written to a file descriptor by a thread of its own, so that no request ever waits for
/// the output: the error log and the access log.
///
/// Writers append to a buffer under a lock. The thread writes the buffer out once it holds
/// `flushBytes`, or when `flushInterval` has passed. If the output stalls (a full pipe), text
/// beyond `capacity` bytes is dropped and counted, never waited for; the count is written as soon
/// as the output takes bytes again.
public final class BackgroundWriter: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        /// Dropped since the last notice.
        var unreported = 0
        var dropped = 0
        /// The thread is asleep and must be woken for a flush; one wake-up per flush, not per line.
        var writerWaiting = false
    }

    /// Most bytes kept while the output does not take them.
    public let capacity: Int
    private let flushBytes: Int
    private let flushInterval: Duration
    private let descriptor: Int32
    private let droppedNotice: @Sendable (Int) -> String
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// Starts a thread named `name` that writes to `descriptor`.
    /// - Parameters:
    ///   - flushBytes: buffered bytes that wake the thread at once (1: every line is written promptly).
    ///   - flushInterval: the longest a line waits when fewer bytes are buffered.
    ///   - droppedNotice: the line that reports how many appends were dropped.
    public init(
        descriptor: Int32, name: String, capacity: Int, flushBytes: Int, flushInterval: Duration,
        droppedNotice: @escaping @Sendable (Int) -> String
    ) {
        self.descriptor = descriptor
        self.capacity = capacity
        self.flushBytes = flushBytes
        self.flushInterval = flushInterval
        self.droppedNotice = droppedNotice
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Appends made so far that were dropped because the output was stalled.
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Appends `text` (whole lines, ending in a newline), or drops it when the buffer is full.
    func append(_ text: String) {
        let wakeWriter = state.withLock { state -> Bool in
            guard state.buffer.count + text.utf8.count <= capacity else {
                state.dropped += 1
                state.unreported += 1
                return false
            }
            state.buffer.append(contentsOf: text.utf8)
            if state.writerWaiting && state.buffer.count >= flushBytes {
                state.writerWaiting = false
                return true
            }
            return false
        }
        if wakeWriter { wake.signal() }
    }

    private func run() {
        let nanoseconds = Int(TimeAmount(flushInterval).nanoseconds)
        while true {
            let ready = state.withLock { state -> Bool in
                if state.buffer.count >= flushBytes { return true }
                state.writerWaiting = true
                return false
            }
            if !ready { _ = wake.wait(timeout: .now() + .nanoseconds(nanoseconds)) }
            let (bytes, dropped) = state.withLock { state -> ([UInt8], Int) in
                defer {
                    state.buffer.removeAll(keepingCapacity: true)
                    state.unreported = 0
                    state.writerWaiting = false
                }
                return (state.buffer, state.unreported)
            }
            var output = bytes
            if dropped > 0 { output += Array(droppedNotice(dropped).utf8) }
            write(output)
        }
    }

    /// Writes all of `bytes`, or as much as the descriptor takes before an error.
    private func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes {
                Foundation.write(descriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { break }
            offset += written
        }
    }
}
