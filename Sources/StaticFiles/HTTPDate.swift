import Foundation

/// HTTP dates (RFC 9110 §5.6.7): the IMF-fixdate that senders must use, and the two obsolete forms
/// that a recipient must still accept, parsed strictly.
///
/// Every field is range-checked before any arithmetic, and the arithmetic that follows cannot
/// overflow: years are four digits, so a date is at most 253,402,300,800 seconds from 1970. A
/// header that is not exactly one of the three forms is not a date (nil), and the rule that uses
/// it behaves as if it were absent, as RFC 9110 §13.1.3 says for `If-Modified-Since`.
public enum HTTPDate {
    /// The first and last years an HTTP date can name: `date1` has four digits.
    public static let years = 0...9999

    /// Seconds since 1970-01-01T00:00:00Z for `text`, or nil when it is not an HTTP date.
    ///
    /// - Parameter now: seconds since 1970, to place an RFC 850 two-digit year (a year more than
    ///   50 years ahead is taken as the most recent past year with those digits, §5.6.7).
    public static func seconds(_ text: some StringProtocol, now: Int64 = currentSeconds()) -> Int64? {
        let bytes = Array(text.utf8)
        return imfFixdate(bytes) ?? rfc850(bytes, now: now) ?? asctime(bytes)
    }

    /// `seconds` (since 1970) as an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`. Instants outside
    /// years 0 to 9999 are clamped to the first or last second that an HTTP date can name.
    public static func format(_ seconds: Int64) -> String {
        let clamped = min(max(seconds, firstSecond), lastSecond)
        let (days, rest) = floorDivision(clamped, 86_400)
        let (year, month, day) = civil(fromDays: days)
        let weekday = weekdays[Int(((days % 7) + 11) % 7)]  // 1970-01-01 was a Thursday
        var text = weekday + ", " + two(day) + " " + months[month - 1] + " " + four(year) + " "
        text += two(Int(rest / 3600)) + ":" + two(Int(rest / 60 % 60)) + ":" + two(Int(rest % 60)) + " GMT"
        return text
    }

    /// Seconds since 1970 now, from the system clock.
    public static func currentSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }

    // MARK: The three forms

    /// `Sun, 06 Nov 1994 08:49:37 GMT`: exactly 29 bytes.
    static func imfFixdate(_ b: [UInt8]) -> Int64? {
        guard b.count == 29, let weekday = name(b, 0, weekdays), b[3] == comma, b[4] == space,
            let day = digits(b, 5, 2), b[7] == space, let month = name(b, 8, months), b[11] == space,
            let year = digits(b, 12, 4), b[16] == space, let time = timeOfDay(b, 17), b[25] == space,
            b[26] == UInt8(ascii: "G"), b[27] == UInt8(ascii: "M"), b[28] == UInt8(ascii: "T")
        else { return nil }
        return instant(year: year, month: month + 1, day: day, time: time, weekday: weekday)
    }

    /// `Sunday, 06-Nov-94 08:49:37 GMT`: the full weekday name, a two-digit year.
    static func rfc850(_ b: [UInt8], now: Int64) -> Int64? {
        guard let weekday = longWeekdays.firstIndex(where: { b.starts(with: $0.utf8) }) else { return nil }
        let at = longWeekdays[weekday].utf8.count
        guard b.count == at + 24, b[at] == comma, b[at + 1] == space, let day = digits(b, at + 2, 2),
            b[at + 4] == dash, let month = name(b, at + 5, months), b[at + 8] == dash,
            let shortYear = digits(b, at + 9, 2), b[at + 11] == space, let time = timeOfDay(b, at + 12),
            b[at + 20] == space, b[at + 21] == UInt8(ascii: "G"), b[at + 22] == UInt8(ascii: "M"),
            b[at + 23] == UInt8(ascii: "T")
        else { return nil }
        // The century that puts the year no more than 50 years ahead of now.
        let thisYear = civil(fromDays: floorDivision(min(max(now, firstSecond), lastSecond), 86_400).quotient).year
        var year = thisYear - thisYear % 100 + shortYear
        if year > thisYear + 50 { year -= 100 }
        guard years.contains(year) else { return nil }
        return instant(year: year, month: month + 1, day: day, time: time, weekday: weekday)
    }

    /// `Sun Nov  6 08:49:37 1994`: C's asctime, the day padded with a space.
    static func asctime(_ b: [UInt8]) -> Int64? {
        guard b.count == 24, let weekday = name(b, 0, weekdays), b[3] == space, let month = name(b, 4, months),
            b[7] == space, b[10] == space, let time = timeOfDay(b, 11), b[19] == space,
            let year = digits(b, 20, 4)
        else { return nil }
        let day: Int
        if b[8] == space, let units = digits(b, 9, 1) {
            day = units
        } else if let both = digits(b, 8, 2) {
            day = both
        } else {
            return nil
        }
        return instant(year: year, month: month + 1, day: day, time: time, weekday: weekday)
    }

    // MARK: Fields

    private static let comma = UInt8(ascii: ","), space = UInt8(ascii: " "), dash = UInt8(ascii: "-")
    private static let colon = UInt8(ascii: ":")
    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let longWeekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The index in `names` of the three bytes at `offset` (case-sensitive, as §5.6.7 says).
    private static func name(_ b: [UInt8], _ offset: Int, _ names: [String]) -> Int? {
        guard offset + 3 <= b.count else { return nil }
        let word = b[offset..<offset + 3]
        return names.firstIndex { $0.utf8.elementsEqual(word) }
    }

    /// The value of exactly `count` ASCII digits at `offset` (at most 4, so no overflow).
    private static func digits(_ b: [UInt8], _ offset: Int, _ count: Int) -> Int? {
        guard offset + count <= b.count else { return nil }
        var value = 0
        for byte in b[offset..<offset + count] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// `HH:MM:SS` at `offset`, range-checked. RFC 9110 allows a leap second (`:60`); counted in
    /// seconds since 1970, which have none, it is the minute's last second.
    private static func timeOfDay(_ b: [UInt8], _ offset: Int) -> Int? {
        guard let hour = digits(b, offset, 2), b[offset + 2] == colon, let minute = digits(b, offset + 3, 2),
            b[offset + 5] == colon, let second = digits(b, offset + 6, 2), hour < 24, minute < 60, second <= 60
        else { return nil }
        return hour * 3600 + minute * 60 + min(second, 59)
    }

    /// The instant, if the day exists and `weekday` (0 is Sunday) is the day's own.
    private static func instant(year: Int, month: Int, day: Int, time: Int, weekday: Int) -> Int64? {
        guard years.contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        let days = self.days(year: year, month: month, day: day)
        guard Int(((days % 7) + 11) % 7) == weekday else { return nil }
        return days * 86_400 + Int64(time)
    }

    // MARK: Calendar arithmetic (proleptic Gregorian, Howard Hinnant's algorithms), on checked ranges

    private static let firstSecond = days(year: years.lowerBound, month: 1, day: 1) * 86_400
    private static let lastSecond = days(year: years.upperBound, month: 12, day: 31) * 86_400 + 86_399

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a day of a year in `years`.
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The day `days` after 1970-01-01, for days within `years`.
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0)), Int(month), Int(day))
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
        return (quotient, value - quotient * divisor)
    }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func four(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }
}
