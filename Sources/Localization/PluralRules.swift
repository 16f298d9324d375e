import _FoundationICU

/// A CLDR plural category: which form of a word a number takes in a language.
public enum PluralCategory: String, Sendable, Hashable, CaseIterable, Codable {
    case zero, one, two, few, many, other
}

/// ICU's plural rules for one locale (CLDR's `plurals.xml`, as shipped in the toolchain's ICU).
///
/// Opened once per catalog at start; selecting is a read of immutable rules, so one instance is
/// shared by every thread.
final class PluralRules: @unchecked Sendable {
    private let rules: OpaquePointer?

    /// The rules of `tag`; English's when ICU knows none (it always knows the catalogs' languages).
    init(_ tag: LanguageTag) {
        var status = U_ZERO_ERROR
        let opened = swift_uplrules_open(tag.description, &status)
        rules = status.rawValue <= U_ZERO_ERROR.rawValue ? opened : nil
    }

    deinit { if let rules { swift_uplrules_close(rules) } }

    /// The category of the whole number `count` (negative counts take the category of their magnitude).
    func category(_ count: Int) -> PluralCategory {
        guard let rules else { return count == 1 ? .one : .other }
        var status = U_ZERO_ERROR
        var buffer = [UChar](repeating: 0, count: 16)
        let length = swift_uplrules_select(rules, Double(count.magnitude), &buffer, 16, &status)
        guard status.rawValue <= U_ZERO_ERROR.rawValue, length > 0, length <= 16 else { return .other }
        return PluralCategory(rawValue: String(decoding: buffer[0..<Int(length)], as: UTF16.self)) ?? .other
    }
}
