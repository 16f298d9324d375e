import Foundation
import _FoundationICU

/// A BCP 47 language tag of the form this site uses: a language, then an optional script and an
/// optional region (`en`, `fr`, `zh-Hans`, `pt-BR`, `ar-EG`, `zh-Hant-TW`). Variants and extensions
/// are refused: no catalog or formatter here would use them, and a tag that means nothing to
/// the page would still reach a screen reader.
///
/// Parsing is strict and case-insensitive; the description is the canonical case (`zh-Hans`,
/// `pt-BR`), so equal tags compare and hash equal whatever case they were typed in.
public struct LanguageTag: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// Two or three lowercase letters (ISO 639).
    public let language: String
    /// Four letters, first uppercase (ISO 15924), when given.
    public let script: String?
    /// Two uppercase letters (ISO 3166) or three digits (UN M.49), when given.
    public let region: String?

    /// The longest tag accepted, in bytes: `zh-Hant-TW` is 10, and nothing valid here is longer than 15.
    public static let maximumLength = 15

    /// Parses `text`, strictly.
    /// - Throws: `LanguageTagError` saying which part is wrong.
    public init(parsing text: some StringProtocol) throws(LanguageTagError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw LanguageTagError(text: "", "is empty") }
        guard bytes.count <= Self.maximumLength else {
            throw LanguageTagError(text: String(text.prefix(40)), "is longer than \(Self.maximumLength) characters")
        }
        if bytes.contains(UInt8(ascii: "_")) {
            throw LanguageTagError(
                text: String(decoding: bytes, as: UTF8.self), "uses \"_\" where BCP 47 uses \"-\" (en-US, not en_US)")
        }
        let parts = bytes.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        func isLetters(_ part: ArraySlice<UInt8>) -> Bool {
            part.allSatisfy { (65...90).contains($0) || (97...122).contains($0) }
        }
        func isDigits(_ part: ArraySlice<UInt8>) -> Bool { part.allSatisfy { (48...57).contains($0) } }
        let whole = String(decoding: bytes, as: UTF8.self)
        guard let first = parts.first, (2...3).contains(first.count), isLetters(first) else {
            throw LanguageTagError(text: whole, "must start with a language code of 2 or 3 letters")
        }
        var language = String(decoding: first, as: UTF8.self).lowercased()
        var script: String?
        var region: String?
        for part in parts.dropFirst() {
            if part.count == 4, isLetters(part), script == nil, region == nil {
                let lower = String(decoding: part, as: UTF8.self).lowercased()
                script = lower.prefix(1).uppercased() + lower.dropFirst()
            } else if region == nil, (part.count == 2 && isLetters(part)) || (part.count == 3 && isDigits(part)) {
                region = String(decoding: part, as: UTF8.self).uppercased()
            } else {
                throw LanguageTagError(
                    text: whole,
                    "has a part \"\(String(decoding: part, as: UTF8.self))\" that is neither a script (4 letters) "
                        + "nor a region (2 letters or 3 digits) in its place")
            }
        }
        // Deprecated ISO 639 codes that ICU maps anyway: keep one spelling per language.
        switch language {
        case "iw": language = "he"
        case "in": language = "id"
        case "ji": language = "yi"
        default: break
        }
        self.language = language
        self.script = script
        self.region = region
    }

    /// The canonical spelling: `language[-Script][-REGION]`.
    public var description: String {
        [language, script, region].compactMap { $0 }.joined(separator: "-")
    }

    /// English, the language of the fallback catalog.
    public static let english = try! LanguageTag(parsing: "en")

    /// The script this tag is written in, told or inferred by ICU's likely subtags (`zh-TW` →
    /// `Hant`, `ar` → `Arab`, `en` → `Latn`).
    public var likelyScript: String {
        if let script { return script }
        return Locale.Language(identifier: description).maximalIdentifier.split(separator: "-").dropFirst().first
            .map(String.init) ?? ""
    }

    /// Whether the language is written right to left (ICU's character direction of the locale).
    public var isRightToLeft: Bool {
        Locale.Language(identifier: description).characterDirection == .rightToLeft
    }

    /// `rtl` or `ltr`, for the `dir` attribute.
    public var direction: String { isRightToLeft ? "rtl" : "ltr" }

    public static func < (left: LanguageTag, right: LanguageTag) -> Bool { left.description < right.description }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A language tag that could not be read.
public struct LanguageTagError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text as given (at most 40 characters of it).
    public var text: String
    /// What is wrong with it.
    public var reason: String

    init(text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String {
        "\"\(text)\" is not a language tag: it \(reason). Use a BCP 47 tag such as en, fr, zh-Hans, pt-BR or ar-EG"
    }
}

/// The direction of a piece of text, by its first strong character (Unicode's bidi algorithm,
/// rules P2–P3, through ICU).
public enum TextDirection {
    /// Whether `text` starts, in its first strongly directional character, right to left; nil
    /// when it has none (digits, punctuation).
    public static func isRightToLeft(_ text: String) -> Bool? {
        let units = Array(text.utf16.prefix(4096))
        let direction = units.withUnsafeBufferPointer {
            swift_ubidi_getBaseDirection($0.baseAddress, Int32($0.count))
        }
        switch direction {
        case UBIDI_RTL: return true
        case UBIDI_LTR: return false
        default: return nil
        }
    }
}
