import Foundation

/// The rules of DESIGN "Static handler", as pure functions: which path a URL names, and which
/// status, headers and byte range answer a request for a file. No I/O, so every rule is unit-testable.
public enum StaticFileRules {
    /// Why a path was refused.
    public enum PathRejection: Error, Equatable, Sendable {
        /// Malformed or hostile (400): bad escapes, NUL, backslash, encoded slash, `.`/`..` segments.
        case malformed(String)
        /// Not something we serve (404): empty name, dotfile, directory.
        case notServed(String)
    }

    /// Decodes the part of a URL path after the handler's prefix, exactly once, into path
    /// segments. `raw` is still percent-encoded; a query must already be cut off.
    public static func segments(ofRawPath raw: Substring) throws(PathRejection) -> [String] {
        // Byte by byte, without Foundation: this runs for every static and chart request.
        var segments: [String] = []
        var current: [UInt8] = []
        var bytes = Array(raw.utf8)[...]
        func finish(last: Bool) throws(PathRejection) {
            if current.isEmpty { throw last ? .notServed("directory") : .malformed("empty segment") }
            if current == [46] || current == [46, 46] { throw .malformed("dot segment") }
            if current.first == 46 { throw .notServed("dotfile") }
            guard let segment = String(validating: current, as: UTF8.self) else { throw .malformed("invalid UTF-8") }
            segments.append(segment)
            current.removeAll(keepingCapacity: true)
        }
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "/"):
                try finish(last: false)
            case UInt8(ascii: "%"):
                guard bytes.count >= 2, let high = hexValue(bytes.popFirst()!), let low = hexValue(bytes.popFirst()!)
                else {
                    throw .malformed("bad percent-encoding")
                }
                let decoded = high << 4 | low
                if decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "\\") {
                    throw .malformed("encoded slash or backslash")
                }
                if decoded == 0 { throw .malformed("NUL") }
                current.append(decoded)
            case 0: throw .malformed("NUL")
            case UInt8(ascii: "\\"): throw .malformed("backslash")
            default: current.append(byte)
            }
        }
        try finish(last: true)
        return segments
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The Content-Security-Policy of every SVG: an SVG opened on its own is a document, and may
    /// then run nothing and load nothing (Cairo's SVG needs only inline styles).
    public static let svgPolicy = "default-src 'none'; style-src 'unsafe-inline'"

    /// Content types by extension; anything else is `application/octet-stream`.
    public static func contentType(forName name: String) -> String {
        let types = [
            "png": "image/png", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
            "svg": "image/svg+xml", "html": "text/html; charset=utf-8", "txt": "text/plain; charset=utf-8",
            "json": "application/json", "ico": "image/vnd.microsoft.icon", "woff2": "font/woff2", "jpg": "image/jpeg",
            "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp", "pdf": "application/pdf",
        ]
        let fileExtension = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        return name.contains(".") ? types[fileExtension] ?? "application/octet-stream" : "application/octet-stream"
    }

    /// What is known about a file when answering a request for it.
    public struct FileFacts: Sendable, Hashable {
        /// Size in bytes.
        public var size: Int
        /// Modification time, whole seconds since 1970 (HTTP dates have no fractions).
        public var modified: Int
        /// The strong entity tag, quoted: `"…"`.
        public var etag: String

        /// Creates facts.
        public init(size: Int, modified: Int, etag: String) {
            self.size = size
            self.modified = modified
            self.etag = etag
        }
    }

    /// The request headers that matter here.
    public struct Conditions: Sendable, Hashable {
        public var ifNoneMatch: String?
        public var ifModifiedSince: String?
        public var range: String?
        public var ifRange: String?

        public init(
            ifNoneMatch: String? = nil, ifModifiedSince: String? = nil, range: String? = nil, ifRange: String? = nil
        ) {
            self.ifNoneMatch = ifNoneMatch
            self.ifModifiedSince = ifModifiedSince
            self.range = range
            self.ifRange = ifRange
        }
    }

    /// How to answer.
    public enum Plan: Sendable, Hashable {
        /// 200 with the whole file.
        case whole
        /// 304 Not Modified.
        case notModified
        /// 206 with bytes `range` (inclusive lower bound, exclusive upper).
        case partial(Range<Int>)
        /// 416 with `Content-Range: bytes */size`.
        case unsatisfiable
    }

    /// Decides the answer to a GET or HEAD for a file: If-None-Match before If-Modified-Since,
    /// then a single Range (with If-Range).
    public static func plan(for conditions: Conditions, file: FileFacts) -> Plan {
        if let ifNoneMatch = conditions.ifNoneMatch {
            if matchesWeakly(ifNoneMatch, etag: file.etag) { return .notModified }
        } else if let since = conditions.ifModifiedSince.flatMap(parseHTTPDate), file.modified <= since {
            return .notModified
        }
        guard let range = conditions.range else { return .whole }
        if let ifRange = conditions.ifRange, !ifRangeHolds(ifRange, file: file) { return .whole }
        return planRange(range, size: file.size)
    }

    /// A single byte range; anything else (several ranges, bad syntax) gets the whole file.
    static func planRange(_ header: String, size: Int) -> Plan {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst(6).trimmingCharacters(in: .whitespaces)
        // Many or overlapping ranges are a known abuse (and of no use for charts): send it all.
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        func number(_ text: String) -> Int? {
            guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(text)
        }
        if first.isEmpty {
            // bytes=-N: the last N bytes.
            guard let suffix = number(last) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - suffix)..<size)
        }
        guard let start = number(first) else { return .whole }
        let end: Int
        if last.isEmpty {
            end = size - 1
        } else {
            guard let value = number(last), value >= start else { return .whole }
            end = min(value, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .partial(start..<(end + 1))
    }

    /// If-None-Match uses the weak comparison: `W/"x"` matches `"x"`; `*` matches anything.
    public static func matchesWeakly(_ header: String, etag: String) -> Bool {
        let ours = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == ours { return true }
        }
        return false
    }

    /// If-Range holds for the same strong ETag, or for exactly the file's Last-Modified date.
    static func ifRangeHolds(_ header: String, file: FileFacts) -> Bool {
        let value = header.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("\"") || value.hasPrefix("W/") { return value == file.etag }
        return parseHTTPDate(value) == file.modified
    }

    /// An HTTP date (any of RFC 9110's three forms) as seconds since 1970, or nil: see `HTTPDate`.
    public static func parseHTTPDate(_ text: String) -> Int? { HTTPDate.seconds(text).map { Int($0) } }

    /// Seconds since 1970 as an IMF-fixdate (clamped to the years an HTTP date can name).
    public static func httpDate(_ seconds: Int) -> String { HTTPDate.format(Int64(seconds)) }
}
