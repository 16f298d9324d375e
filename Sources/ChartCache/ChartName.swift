import Crypto

/// The content key of a chart: SHA-256 of whatever fully determines its bytes (for pie charts,
/// the canonical spec and the renderer version).
public struct ChartKey: Hashable, Sendable, CustomStringConvertible {
    /// The full digest, 64 lowercase hex digits.
    public let hex: String

    /// Hashes `material`.
    public init(material: some Sequence<UInt8>) {
        let digest = SHA256.hash(data: Array(material))
        hex = digest.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }.joined()
    }

    /// The first 16 hex digits, used in file names.
    public var shortHex: Substring { hex.prefix(16) }

    public var description: String { hex }
}

/// A validated file name inside the chart directory.
///
/// Names come from URLs, so they are checked before any system call sees them: only ASCII
/// letters, digits and `-_.@+`, no leading dot (dotfiles are the cache's own pending files), no
/// `..`, at most 200 bytes. Path separators and NUL are therefore impossible.
public struct ChartName: Hashable, Sendable, CustomStringConvertible {
    /// The file name, such as `q12-0123456789abcdef@2x.png`.
    public let fileName: String

    /// Validates a name taken from outside (a URL, a command line).
    /// - Throws: `ChartCacheError` with code `invalidName`, naming what is wrong.
    public init(validating fileName: String) throws {
        func refuse(_ reason: String) -> ChartCacheError {
            ChartCacheError(.invalidName, name: fileName, "chart name \(Self.quoted(fileName)) \(reason)")
        }
        guard !fileName.isEmpty else { throw refuse("is empty") }
        guard fileName.utf8.count <= 200 else { throw refuse("is longer than 200 bytes") }
        if fileName.utf8.contains(0) { throw refuse("contains NUL") }
        if fileName.contains("/") || fileName.contains("\\") { throw refuse("contains a path separator") }
        if fileName.hasPrefix(".") { throw refuse("starts with a dot") }
        if fileName.contains("..") { throw refuse("contains \"..\"") }
        guard fileName.utf8.allSatisfy(Self.allowedBytes.contains) else {
            throw refuse("may hold only ASCII letters, digits and -_.@+")
        }
        self.fileName = fileName
    }

    private static let allowedBytes = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@+".utf8)

    /// The hidden file a writer fills before publishing: `.<name>.pending`.
    public var pendingFileName: String { ".\(fileName).pending" }

    public var description: String { fileName }

    private static func quoted(_ text: String) -> String {
        let escaped = text.unicodeScalars.map { scalar -> String in
            scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return "\"\(escaped.joined())\""
    }
}
