import Foundation
import Localization

/// A calendar day (no time, no zone): how surveys open and close.
///
/// A survey is open from the start of `opens` through the end of `closes`, in the service's time
/// zone, and completed from the start of the next day.
public struct CalendarDay: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// Days since 1970-01-01 (proleptic Gregorian).
    public let ordinal: Int

    /// The most days from 1970-01-01 a day may be, either way (about three billion years): every
    /// calendar computation on an ordinal within it stays far from overflow.
    public static let ordinalLimit = 1 << 40

    /// The years a day can be parsed or built from: four digits, as `YYYY-MM-DD` writes them.
    public static let years = 0...9999

    /// Creates the day `ordinal` days after 1970-01-01, clamped to ±`ordinalLimit`.
    public init(ordinal: Int) { self.ordinal = min(max(ordinal, -Self.ordinalLimit), Self.ordinalLimit) }

    /// Parses `YYYY-MM-DD`; nil for anything else, including impossible dates such as 2026-02-30.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The day `year`-`month`-`day`, or nil when there is no such day.
    public init?(year: Int, month: Int, day: Int) {
        guard Self.years.contains(year), (1...12).contains(month), day >= 1,
            day <= Self.daysIn(month: month, year: year)
        else { return nil }
        ordinal = Self.ordinal(year: year, month: month, day: day)
    }

    /// The day `date` falls on in `timeZone`.
    public init(date: Date, timeZone: TimeZone) {
        let seconds = date.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: date))
        let days = (seconds / 86_400).rounded(.down)
        let limit = Double(Self.ordinalLimit)
        self.init(ordinal: days.isNaN ? 0 : Int(min(max(days, -limit), limit)))
    }

    /// The day `count` days later (earlier when negative).
    /// Saturates at ±`ordinalLimit` rather than overflowing.
    public func adding(days count: Int) -> CalendarDay {
        let (sum, overflow) = ordinal.addingReportingOverflow(count)
        return CalendarDay(ordinal: overflow ? (count < 0 ? Int.min : Int.max) : sum)
    }

    /// The instant this day starts in `timeZone`.
    public func start(in timeZone: TimeZone) -> Date {
        let utc = Date(timeIntervalSince1970: Double(ordinal) * 86_400)
        // Two passes settle days whose offset changes at midnight (daylight saving).
        var start = utc.addingTimeInterval(-Double(timeZone.secondsFromGMT(for: utc)))
        start = utc.addingTimeInterval(-Double(timeZone.secondsFromGMT(for: start)))
        return start
    }

    /// Year, month and day.
    public var components: (year: Int, month: Int, day: Int) {
        // Howard Hinnant's civil_from_days.
        let z = ordinal + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        let (year, month, day) = components
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool { lhs.ordinal < rhs.ordinal }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = CalendarDay(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "expected a date YYYY-MM-DD, got \"\(text)\""))
        }
        self = day
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func ordinal(year: Int, month: Int, day: Int) -> Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Localizer {
    /// `day` in the long form of this locale (`30 novembre 2026`, `2026年11月30日`).
    public func date(_ day: CalendarDay) -> String {
        let (year, month, date) = day.components
        return formatter.date(year: year, month: month, day: date) ?? day.description
    }
}
