import Foundation

/// Numbers, percentages and dates as a locale writes them, through Foundation's `FormatStyle`
/// (ICU underneath): `1 234` and `30 novembre 2026` in French, `٤٤٪` in Egyptian Arabic,
/// `2026年11月30日` in Chinese. No rule here is written by hand.
public struct LocaleFormatter: Sendable {
    /// The locale, from the survey's own tag (not its catalog's): `ar-EG` gets Arabic-Indic digits
    /// and the Arabic catalog.
    public let locale: Locale
    private let integers: IntegerFormatStyle<Int>
    private let compactIntegers: IntegerFormatStyle<Int>
    private let percents: FloatingPointFormatStyle<Double>.Percent
    private let dates: Date.FormatStyle
    private static let utc = TimeZone(identifier: "UTC")!

    /// The formatter of `tag`.
    public init(_ tag: LanguageTag) {
        locale = Locale(identifier: tag.description)
        integers = IntegerFormatStyle<Int>.number.locale(locale)
        compactIntegers = IntegerFormatStyle<Int>.number.notation(.compactName).locale(locale)
        percents = FloatingPointFormatStyle<Double>.Percent.percent.locale(locale)
        var dates = Date.FormatStyle(date: .long, time: .omitted, locale: locale)
        dates.timeZone = Self.utc
        self.dates = dates
    }

    /// `1,234`, `1 234`, `١٬٢٣٤`.
    public func number(_ value: Int) -> String { integers.format(value) }

    /// `1.2K`, `1,2 k`, `1.2万`: for narrow columns of large numbers.
    public func compact(_ value: Int) -> String { compactIntegers.format(value) }

    /// A whole percentage: `44%`, `44 %`, `٤٤٪`. `percent` is clamped to 0...100.
    public func percent(_ percent: Int) -> String {
        percents.format(Double(min(max(percent, 0), 100)) / 100)
    }

    /// A calendar day in the long form (`November 30, 2026`), or nil when it is not a real day.
    public func date(year: Int, month: Int, day: Int) -> String? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.utc
        let components = DateComponents(year: year, month: month, day: day, hour: 12)
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return dates.format(date)
    }
}
