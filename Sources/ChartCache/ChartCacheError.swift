#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a cache request failed.
public struct ChartCacheError: Error, CustomStringConvertible, Sendable {
    /// Stable codes; the server maps them to HTTP statuses.
    public enum Code: String, Sendable {
        /// The name is unsafe or malformed (HTTP 400 or 404).
        case invalidName = "invalid_name"
        /// The deadline passed while another writer held the chart (HTTP 503 with Retry-After).
        case busy
        /// The render closure threw; nothing was stored, and the next request renders again.
        case renderFailed = "render_failed"
        /// Writing, syncing or publishing the file failed (disk full, file too large, I/O error).
        case writeFailed = "write_failed"
        /// The chart directory cannot be used (missing, not writable).
        case directoryUnusable = "directory_unusable"
    }

    /// What kind of failure.
    public var code: Code
    /// The chart concerned.
    public var name: String
    /// What happened and what to do about it.
    public var message: String
    /// The underlying error of a failed render, if any.
    public var underlying: String?
    /// Where in our sources the failure was detected.
    public var location: String

    /// Creates an error; `location` defaults to the caller's file and line.
    public init(
        _ code: Code, name: String, _ message: String, underlying: String? = nil, fileID: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.name = name
        self.message = message
        self.underlying = underlying
        self.location = "\(fileID):\(line)"
    }

    public var description: String { message }

    /// An error for a failed system call, with errno's text.
    static func system(
        _ code: Code, name: String, call: String, path: String, errno number: Int32, hint: String = "",
        fileID: String = #fileID, line: Int = #line
    ) -> ChartCacheError {
        let reason = String(cString: strerror(number))
        return ChartCacheError(
            code, name: name, "\(call) \(path) failed: \(reason)\(hint.isEmpty ? "" : "; \(hint)")", fileID: fileID,
            line: line)
    }
}
