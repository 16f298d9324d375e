import Foundation
import Logging
import Synchronization

/// A swift-log handler that never blocks the caller: lines go into a bounded queue that one
/// thread of its own writes to standard error. A full queue (a stalled terminal or pipe) drops
/// lines and counts them, instead of stopping every request that logs.
public struct BackgroundLogHandler: LogHandler {
    /// The shared writer thread and queue.
    public final class Sink: Sendable {
        private let queue = Mutex<(lines: [String], dropped: Int)>(([], 0))
        private let wake = DispatchSemaphore(value: 0)
        /// Most lines waiting to be written.
        public let capacity: Int

        /// Starts the writer thread.
        public init(capacity: Int = 10_000) {
            self.capacity = capacity
            let thread = Thread { [self] in run() }
            thread.name = "log-writer"
            thread.start()
        }

        /// Lines dropped because the queue was full.
        public var dropped: Int { queue.withLock { $0.dropped } }

        func enqueue(_ line: String) {
            let accepted = queue.withLock { state -> Bool in
                guard state.lines.count < capacity else {
                    state.dropped += 1
                    return false
                }
                state.lines.append(line)
                return true
            }
            if accepted { wake.signal() }
        }

        private func run() {
            while true {
                wake.wait()
                let (lines, dropped) = queue.withLock { state -> ([String], Int) in
                    defer {
                        state.lines.removeAll(keepingCapacity: true)
                        state.dropped = 0
                    }
                    return (state.lines, state.dropped)
                }
                var text = lines.joined()
                if dropped > 0 { text += "log: dropped \(dropped) lines while standard error was blocked\n" }
                guard !text.isEmpty else { continue }
                FileHandle.standardError.write(Data(text.utf8))
            }
        }
    }

    private let label: String
    private let sink: Sink
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    /// A handler for `label` writing through `sink`.
    public init(label: String, sink: Sink, logLevel: Logger.Level = .info) {
        self.label = label
        self.sink = sink
        self.logLevel = logLevel
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let timestamp = ISO8601DateFormatter.string(
            from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime])
        sink.enqueue(
            "\(timestamp) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(event.source)] \(event.message)\n"
        )
    }
}
