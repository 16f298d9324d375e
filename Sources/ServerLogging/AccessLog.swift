import Foundation
import NIOCore
import Synchronization

/// The access log: one line per request, in the combined format nginx writes, batched as nginx's
/// `access_log … buffer=64k flush=1s` does.
///
/// A request only formats its line and appends it to a `BackgroundWriter`, whose thread writes
/// when 64 KB are waiting or once a second. Hummingbird's `LogRequestsMiddleware` through
/// swift-log cost the results page five sixths of its throughput (metadata dictionaries, a date
/// formatter and a thread wake-up per line). If the output stalls (a full pipe), lines beyond
/// `capacity` bytes are dropped and counted, never waited for.
public final class AccessLog: Sendable {
    private let output: BackgroundWriter
    private let clock = LogClock()

    /// Starts the writer thread, writing to `descriptor` (standard error by default).
    public init(descriptor: Int32 = 2, capacity: Int = 8 << 20) {
        output = BackgroundWriter(
            descriptor: descriptor, name: "access-log", capacity: capacity, flushBytes: 64 * 1024,
            flushInterval: .seconds(1),
            droppedNotice: { "access log: dropped \($0) lines while the output was blocked\n" })
    }

    /// Lines dropped so far because the output was stalled.
    public var dropped: Int { output.dropped }

    /// Appends one request's line.
    public func record(
        client: String, method: String, target: String, status: Int, bytes: Int?, referer: String?,
        userAgent: String?, duration: Duration, requestID: String
    ) {
        var line = client
        line += " - - ["
        line += clock.now
        line += "] \""
        line += method
        line += " "
        line += Self.sanitized(target)
        line += " HTTP/1.1\" "
        line += String(status)
        line += " "
        line += bytes.map(String.init) ?? "-"
        line += " \""
        line += Self.sanitized(referer ?? "-")
        line += "\" \""
        line += Self.sanitized(userAgent ?? "-")
        line += "\" "
        // Seconds with six decimals, without Foundation's formatter (measured: the line's costliest part).
        let microseconds = TimeAmount(duration).nanoseconds / 1000
        let fraction = String(microseconds % 1_000_000)
        line += String(microseconds / 1_000_000)
        line += "."
        line += String(repeating: "0", count: 6 - fraction.count)
        line += fraction
        line += " "
        line += Self.sanitized(requestID)
        line += "\n"
        output.append(line)
    }

    /// Quotes and control characters in logged text are escaped, so a client cannot forge lines.
    static func sanitized(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                result += String(format: "\\x%02X", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

/// `24/Nov/2026:02:06:35 +0000`, formatted once a second.
final class LogClock: Sendable {
    private let cache = Mutex<(second: Int, text: String)>((-1, ""))

    var now: String {
        let second = Int(Date().timeIntervalSince1970)
        return cache.withLock { cache in
            if cache.second != second {
                var time = time_t(second)
                var parts = tm()
                gmtime_r(&time, &parts)
                let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                cache = (
                    second,
                    String(
                        format: "%02d/%@/%04d:%02d:%02d:%02d +0000", parts.tm_mday, months[Int(parts.tm_mon)],
                        Int(parts.tm_year) + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec)
                )
            }
            return cache.text
        }
    }
}
