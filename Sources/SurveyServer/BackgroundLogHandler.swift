import Foundation
import Logging
import Synchronization

/// A swift-log handler that never blocks the caller: lines go to a `BackgroundWriter` on standard
/// error, each written as soon as its thread can. A stalled terminal or pipe drops lines and counts
/// them, instead of stopping every request that logs.
public struct BackgroundLogHandler: LogHandler {
    /// The error log's writer: standard error, every line at once, 8 MB kept while it stalls.
    public static func standardError() -> BackgroundWriter {
        BackgroundWriter(
            descriptor: 2, name: "log-writer", capacity: 8 << 20, flushBytes: 1, flushInterval: .seconds(1),
            droppedNotice: { "log: dropped \($0) lines while standard error was blocked\n" })
    }

    private let label: String
    private let output: BackgroundWriter
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    /// A handler for `label` writing through `output` (one for the process: `standardError()`).
    public init(label: String, output: BackgroundWriter, logLevel: Logger.Level = .info) {
        self.label = label
        self.output = output
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
        output.append(
            "\(timestamp) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(event.source)] \(event.message)\n"
        )
    }
}
