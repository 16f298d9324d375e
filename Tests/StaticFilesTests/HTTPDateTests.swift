import Testing

@testable import StaticFiles

@Suite("HTTP dates (RFC 9110 §5.6.7)", .timeLimit(.minutes(1)))
struct HTTPDateTests {
    /// 2026-12-01, for placing RFC 850's two-digit years.
    let now: Int64 = 1_796_083_200

    @Test func theThreeFormsOfTheSameInstant() {
        #expect(HTTPDate.seconds("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == 784_111_777)
        #expect(HTTPDate.seconds("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == 784_111_777)
        #expect(HTTPDate.seconds("Sun Nov  6 08:49:37 1994", now: now) == 784_111_777)
        #expect(HTTPDate.seconds("Sun Nov 06 08:49:37 1994", now: now) == 784_111_777)
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func twoDigitYearsAreNeverMoreThanFiftyYearsAhead() {
        // 2076 is 50 years ahead of 2026: kept. 2077 would be 51: taken as 1977.
        #expect(
            HTTPDate.seconds("Sunday, 01-Nov-76 00:00:00 GMT", now: now)
                == HTTPDate.seconds("Sun, 01 Nov 2076 00:00:00 GMT"))
        #expect(
            HTTPDate.seconds("Tuesday, 01-Nov-77 00:00:00 GMT", now: now)
                == HTTPDate.seconds("Tue, 01 Nov 1977 00:00:00 GMT"))
    }

    @Test func everyFieldIsRangeChecked() {
        for bad in [
            // The finding: a year that overflowed the arithmetic and killed the process.
            "Sun, 06 Nov 99999999999999 08:49:37 GMT", "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
            "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2026 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ", " Sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1994 08:49:3 GMT",
            // The right date with the wrong weekday.
            "Mon, 06 Nov 1994 08:49:37 GMT", "Monday, 06-Nov-94 08:49:37 GMT", "Mon Nov  6 08:49:37 1994",
            "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov  6 08:49:37 99999", "Sun Nov 6 08:49:37 1994",
            "", "0", "Sun", "Sunday, ", "yesterday", "Sun, 06 Nov 1994 08:49:37 GMT\0",
        ] {
            #expect(HTTPDate.seconds(bad, now: now) == nil, "\(bad)")
        }
    }

    @Test func theCalendarEndsMeetTheirFormat() {
        let first = HTTPDate.seconds("Sat, 01 Jan 0000 00:00:00 GMT", now: now)
        let last = HTTPDate.seconds("Fri, 31 Dec 9999 23:59:59 GMT", now: now)
        #expect(first == -62_167_219_200)
        #expect(last == 253_402_300_799)
        // Modification times beyond them (a file stamped by a broken clock) are clamped, not trapped on.
        #expect(HTTPDate.format(.max) == "Fri, 31 Dec 9999 23:59:59 GMT")
        #expect(HTTPDate.format(.min) == "Sat, 01 Jan 0000 00:00:00 GMT")
        for seconds in stride(from: first!, through: last!, by: 99_999_989) {
            #expect(HTTPDate.seconds(HTTPDate.format(seconds), now: now) == seconds)
        }
        #expect(HTTPDate.format(-1) == "Wed, 31 Dec 1969 23:59:59 GMT")
        // A leap second is the minute's last second, even at the last minute an HTTP date names.
        #expect(HTTPDate.seconds("Fri, 31 Dec 9999 23:59:60 GMT", now: now) == last)
        #expect(
            HTTPDate.seconds("Wed, 31 Dec 2025 23:59:60 GMT", now: now)
                == HTTPDate.seconds("Wed, 31 Dec 2025 23:59:59 GMT"))
    }
}
