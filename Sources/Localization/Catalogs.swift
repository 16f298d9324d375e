import Synchronization

/// The catalogs this build ships, read once from the files embedded in the binary.
public enum Catalogs {
    /// The files, by name. Each is `Sources/Localization/Catalogs/<name>` embedded at build time,
    /// so a binary copied anywhere carries its languages.
    static let files: [(name: String, bytes: [UInt8])] = [
        ("en.json", PackageResources.en_json),
        ("zh-Hans.json", PackageResources.zh_Hans_json),
        ("zh-Hant.json", PackageResources.zh_Hant_json),
        ("ja.json", PackageResources.ja_json),
        ("ko.json", PackageResources.ko_json),
        ("ar.json", PackageResources.ar_json),
        ("he.json", PackageResources.he_json),
        ("es.json", PackageResources.es_json),
        ("fr.json", PackageResources.fr_json),
        ("de.json", PackageResources.de_json),
        ("pt-BR.json", PackageResources.pt_BR_json),
        ("ru.json", PackageResources.ru_json),
    ]

    /// English: the fallback of every other catalog, and of every key.
    public static var english: Catalog { all[0] }

    /// Every catalog, English first. A file that does not parse is a build bug: every test that
    /// touches a page reports it.
    public static let all: [Catalog] = {
        do {
            let english = try Catalog(json: files[0].bytes, file: files[0].name, fallback: nil)
            return [english]
                + (try files.dropFirst().map { try Catalog(json: $0.bytes, file: $0.name, fallback: english) })
        } catch {
            fatalError("\(error)")
        }
    }()

    /// The catalog for `tag`: the same language in the same script (told or likely), preferring
    /// the same region. `zh-TW` gets `zh-Hant`, `pt-PT` gets `pt-BR`, `ar-EG` gets `ar`; nil
    /// when no catalog is in that language and script.
    public static func catalog(for tag: LanguageTag) -> Catalog? {
        // Every chart spec's validation and every page ask: ICU's likely subtags once per tag.
        if let known = matched.withLock({ $0[tag] }) { return known.map { all[$0] } }
        let found = match(tag)
        let index = found.flatMap { catalog in all.firstIndex { $0 === catalog } }
        matched.withLock { memo in
            if memo.count >= keptNegotiations { memo.removeAll(keepingCapacity: true) }
            memo[tag] = .some(index)
        }
        return found
    }

    /// Tags already matched: the catalog's index, or nil for none. Bounded.
    private static let matched = Mutex<[LanguageTag: Int?]>([:])

    private static func match(_ tag: LanguageTag) -> Catalog? {
        let script = tag.likelyScript
        let candidates = all.filter { $0.tag.language == tag.language && $0.script == script }
        return candidates.first { $0.tag.region == tag.region } ?? candidates.first { $0.tag.region == nil }
            ?? candidates.first
    }

    /// Whether pages in `tag` can be shown in its language.
    public static func supports(_ tag: LanguageTag) -> Bool { catalog(for: tag) != nil }

    /// The catalogs' tags, for error messages and the admin's list.
    public static var tags: [LanguageTag] { all.map(\.tag) }

    /// Negotiations already made, by header value: the index of the chosen catalog, or nil when
    /// no catalog serves the header (the caller's fallback then answers). A bounded memo, so the
    /// per-request work is a lookup.
    private static let negotiated = Mutex<[String: Int?]>([:])
    private static let keptNegotiations = 512

    /// The catalog that best answers an `Accept-Language` header (RFC 9110 §12.5.4): the first,
    /// by quality then order, of the ranges a catalog serves; `fallback` when none does or the
    /// header is absent.
    public static func negotiate(acceptLanguage header: String?, fallback: Catalog) -> Catalog {
        // A header too long to read names no language; it is not worth a place in the memo either.
        guard let header, !header.isEmpty, header.utf8.count <= AcceptLanguage.maximumLength else { return fallback }
        if let known = negotiated.withLock({ $0[header] }) { return known.map { all[$0] } ?? fallback }
        var chosen: Int?
        for range in AcceptLanguage.ranges(header) {
            if case .tag(let tag) = range.language, let catalog = catalog(for: tag) {
                chosen = all.firstIndex { $0 === catalog }
                break
            }
            if case .any = range.language { break }
        }
        negotiated.withLock { memo in
            if memo.count >= keptNegotiations { memo.removeAll(keepingCapacity: true) }
            memo[header] = .some(chosen)
        }
        return chosen.map { all[$0] } ?? fallback
    }
}

/// The `Accept-Language` request header, parsed strictly: ranges that are not language tags or
/// `*`, or whose quality is not `q=0…1` with at most three decimals, are skipped.
public enum AcceptLanguage {
    /// One language range and its quality.
    public struct Range: Sendable, Hashable {
        public enum Language: Sendable, Hashable {
            case tag(LanguageTag)
            /// `*`: any language.
            case any
        }

        public var language: Language
        /// 0...1000 (thousandths).
        public var quality: Int
    }

    /// The most ranges read from one header; the rest are ignored.
    public static let maximumRanges = 16
    /// A longer header is not read at all.
    public static let maximumLength = 1024

    /// The acceptable ranges (quality above 0), best first; equal qualities keep their order.
    public static func ranges(_ header: String) -> [Range] {
        guard header.utf8.count <= maximumLength else { return [] }
        var ranges: [Range] = []
        for item in header.split(separator: ",", omittingEmptySubsequences: true).prefix(maximumRanges) {
            let parts = item.split(separator: ";", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: [" ", "\t"])
            }
            guard let name = parts.first, !name.isEmpty else { continue }
            var quality = 1000
            var valid = true
            for parameter in parts.dropFirst() {
                guard parameter.hasPrefix("q=") || parameter.hasPrefix("Q="),
                    let parsed = Self.quality(parameter.dropFirst(2))
                else {
                    valid = false
                    break
                }
                quality = parsed
            }
            guard valid, quality > 0 else { continue }
            if name == "*" {
                ranges.append(Range(language: .any, quality: quality))
            } else if let tag = try? LanguageTag(parsing: Self.dropUnusedSubtags(name)) {
                ranges.append(Range(language: .tag(tag), quality: quality))
            }
        }
        return ranges.enumerated().sorted { a, b in
            a.element.quality != b.element.quality ? a.element.quality > b.element.quality : a.offset < b.offset
        }.map(\.element)
    }

    /// RFC 9110's qvalue: `0`, `0.`, `0.5`, `0.123`, `1`, `1.000`; in thousandths.
    static func quality(_ text: Substring) -> Int? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        guard bytes.count > 1 else { return value }
        guard bytes[1] == UInt8(ascii: "."), bytes.count <= 5 else { return nil }
        var scale = 100
        for digit in bytes.dropFirst(2) {
            guard (48...57).contains(digit) else { return nil }
            value += Int(digit - 48) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }

    /// Browsers send ranges such as `de-DE-1996` or `sr-Latn-RS-u-nu-latn`; only the language,
    /// script and region matter for choosing a catalog.
    static func dropUnusedSubtags(_ range: String) -> String {
        var kept: [Substring] = []
        for (index, part) in range.split(separator: "-", omittingEmptySubsequences: false).enumerated() {
            if index == 0 {
                kept.append(part)
            } else if part.count == 4 && kept.count == 1 && part.allSatisfy(\.isLetter) {
                kept.append(part)
            } else if (part.count == 2 && part.allSatisfy(\.isLetter))
                || (part.count == 3 && part.allSatisfy(\.isNumber))
            {
                kept.append(part)
                break
            } else {
                break
            }
        }
        return kept.joined(separator: "-")
    }
}
