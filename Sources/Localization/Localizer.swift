/// Everything a page or a chart needs to speak one language: the catalog for the words, the
/// locale for the numbers and dates, and the direction.
///
/// Made from a survey's tag: `ar-EG` takes the Arabic catalog and Egyptian Arabic's digits.
public struct Localizer: Sendable {
    /// The tag pages declare in `lang` (the survey's own, canonical).
    public let tag: LanguageTag
    /// The words.
    public let catalog: Catalog
    /// Numbers, percentages, dates.
    public let formatter: LocaleFormatter

    /// The localizer of `tag`; English words when no catalog is in its language (stores refuse such tags).
    public init(_ tag: LanguageTag) {
        let catalog = Catalogs.catalog(for: tag)
        self.tag = catalog == nil ? .english : tag
        self.catalog = catalog ?? Catalogs.english
        formatter = LocaleFormatter(self.tag)
    }

    /// The localizer of a catalog's own language (the home page's and error pages').
    public init(catalog: Catalog) {
        tag = catalog.tag
        self.catalog = catalog
        formatter = LocaleFormatter(catalog.tag)
    }

    /// English.
    public static let english = Localizer(.english)

    /// `rtl` or `ltr`.
    public var direction: String { tag.isRightToLeft ? "rtl" : "ltr" }
    public var isRightToLeft: Bool { tag.isRightToLeft }

    /// The text of `key`, its placeholders filled.
    public func text(_ key: CatalogKey, _ arguments: [String: String] = [:]) -> String {
        catalog.text(key).filling(arguments)
    }

    /// The plural form of `key` for `count`, with `{count}` written as the locale writes numbers.
    public func plural(_ key: PluralKey, count: Int, _ arguments: [String: String] = [:]) -> String {
        var all = arguments
        all["count"] = formatter.number(count)
        return catalog.plural(key, count: count).filling(all)
    }

    /// A shown share: `44 %`, or `<1 %` for a share that has votes but rounds to 0, so no answer
    /// anyone chose reads as nothing.
    public func share(_ percent: Int, votes: Int) -> String {
        percent == 0 && votes > 0
            ? text(.chartLessThan, ["percent": formatter.percent(1)]) : formatter.percent(percent)
    }
}
