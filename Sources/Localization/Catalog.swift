import Foundation

/// The strings of one language, read from its translator-edited file (`Catalogs/<tag>.json`).
///
/// Lookups never fail: a key or plural form the file lacks falls back to English (and the
/// catalog tests fail on it), and a placeholder with no argument is left as written.
public final class Catalog: Sendable {
    /// The catalog's language (`zh-Hans`).
    public let tag: LanguageTag
    /// The language's own name for itself (`中文（简体）`), for language pickers.
    public let name: String
    /// The script it is written in (`Hans`), told or likely.
    public let script: String
    let strings: [String: String]
    let plurals: [String: [PluralCategory: String]]
    let pluralRules: PluralRules
    /// English, for whatever this one lacks; nil for English itself.
    let fallback: Catalog?

    /// The file format: `{"language": "fr", "name": "Français", "strings": {key: text},
    /// "plurals": {key: {category: text}}}`.
    struct File: Decodable {
        var language: String
        var name: String
        var strings: [String: String]
        var plurals: [String: [String: String]]
    }

    /// Reads a catalog file.
    /// - Throws: `CatalogError` naming the file and what is wrong in it.
    init(json: [UInt8], file: String, fallback: Catalog?) throws {
        let decoded: File
        do { decoded = try JSONDecoder().decode(File.self, from: Data(json)) } catch {
            throw CatalogError(file: file, "is not a catalog (\(error))")
        }
        do { tag = try LanguageTag(parsing: decoded.language) } catch {
            throw CatalogError(file: file, "has a bad \"language\": \(error)")
        }
        name = decoded.name
        script = tag.likelyScript
        strings = decoded.strings
        var plurals: [String: [PluralCategory: String]] = [:]
        for (key, forms) in decoded.plurals {
            var parsed: [PluralCategory: String] = [:]
            for (category, text) in forms {
                guard let known = PluralCategory(rawValue: category) else {
                    throw CatalogError(
                        file: file,
                        "has plural form \"\(category)\" in \"\(key)\"; CLDR's are zero, one, two, few, "
                            + "many and other")
                }
                parsed[known] = text
            }
            plurals[key] = parsed
        }
        self.plurals = plurals
        pluralRules = PluralRules(tag)
        self.fallback = fallback
    }

    /// The text of `key`, in this language or else in English.
    public func text(_ key: CatalogKey) -> String {
        strings[key.rawValue] ?? fallback?.text(key) ?? key.rawValue
    }

    /// The form of `key` for `count`, chosen by the language's CLDR plural rules.
    public func plural(_ key: PluralKey, count: Int) -> String {
        let category = pluralRules.category(count)
        if let forms = plurals[key.rawValue], let text = forms[category] ?? forms[.other] { return text }
        return fallback?.plural(key, count: count) ?? key.rawValue
    }

    /// Whether this file itself holds `key` (the catalog tests ask; lookups fall back).
    public func holds(_ key: CatalogKey) -> Bool { strings[key.rawValue] != nil }

    /// The forms this file itself holds for `key`.
    public func forms(_ key: PluralKey) -> [PluralCategory: String] { plurals[key.rawValue] ?? [:] }

    /// The category ICU's rules give `count` in this language.
    public func pluralCategory(_ count: Int) -> PluralCategory { pluralRules.category(count) }

    /// The keys the file holds that no code asks for (misspelt, or left over): the tests list them.
    public var unknownKeys: [String] {
        let known = Set(CatalogKey.allCases.map(\.rawValue))
        let knownPlurals = Set(PluralKey.allCases.map(\.rawValue))
        return (strings.keys.filter { !known.contains($0) } + plurals.keys.filter { !knownPlurals.contains($0) })
            .sorted()
    }
}

/// A catalog file that cannot be used.
public struct CatalogError: Error, CustomStringConvertible {
    public var file: String
    public var reason: String

    init(file: String, _ reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { "catalog \(file) \(reason); fix the file in Sources/Localization/Catalogs" }
}

extension String {
    /// This text with each `{name}` replaced by `arguments[name]`, in one pass: a value that
    /// itself holds `{…}` (a survey title can) is never expanded again.
    public func filling(_ arguments: [String: String]) -> String {
        guard contains("{") else { return self }
        var result = ""
        var rest = self[...]
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                result += rest[open...]
                return result
            }
            let name = rest[rest.index(after: open)..<close]
            if let value = arguments[String(name)] {
                result += value
            } else {
                result += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// The names of the `{name}` placeholders in this text, in order.
    public var placeholders: [String] {
        var names: [String] = []
        var rest = self[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}
