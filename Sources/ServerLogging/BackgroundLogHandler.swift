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

    /// `text` with control characters (newlines among them, and Unicode's line and paragraph
    /// separators) as `\xNN` or `\u{NNNN}`; quotes stay, unlike the access log's fields, because
    /// error lines are not quoted.
    static func escapingControlCharacters(_ text: String) -> String {
        func isControl(_ value: UInt32) -> Bool {
            value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
        }
        guard text.unicodeScalars.contains(where: { isControl($0.value) }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value > 0xFF, isControl(scalar.value) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else if isControl(scalar.value) {
                result += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16, uppercase: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        // Every field and the message may carry text from a client (a login name, a path): control
        // characters are escaped here, once, so that no one can forge or split a line.
        let fields = merged.sorted { $0.key < $1.key }
            .map { "\(Self.escapingControlCharacters($0.key))=\(Self.escapingControlCharacters("\($0.value)"))" }
            .joined(separator: " ")
        let timestamp = ISO8601DateFormatter.string(
            from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime])
        let message = Self.escapingControlCharacters("\(event.message)")
        output.append(
            "\(timestamp) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(event.source)] \(message)\n")
    }
}
