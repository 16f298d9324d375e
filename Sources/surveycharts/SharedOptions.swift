import ArgumentParser
import Foundation
import Surveys

/// `--database`, shared by every command that reads or writes surveys.
struct DatabaseOption: ParsableArguments {
    @Option(help: "SQLite database file (SURVEYCHARTS_DATABASE).")
    var database: String = Environment.string("DATABASE", "surveys.sqlite3")
}

/// `--charts-dir`, shared by every command that reads or writes charts.
struct ChartsDirectoryOption: ParsableArguments {
    @Option(help: "Chart directory, shared by every process (SURVEYCHARTS_CHARTS_DIR).")
    var chartsDir: String = Environment.string("CHARTS_DIR", "piecharts")
}

/// `--time-zone` and the hidden `--today`: which calendar day it is for surveys.
struct DayOptions: ParsableArguments {
    @Option(help: "Time zone that survey days are counted in (SURVEYCHARTS_TIME_ZONE).")
    var timeZone: String = Environment.string("TIME_ZONE", "UTC")

    @Option(help: ArgumentHelp("Pretend today is this day, YYYY-MM-DD (for demos and tests).", visibility: .hidden))
    var today: String?

    func validate() throws {
        guard TimeZone(identifier: timeZone) != nil else {
            throw ValidationError("--time-zone \(timeZone) is not a time zone; use a name such as UTC or Europe/Paris")
        }
        if let today, CalendarDay(today) == nil { throw ValidationError("--today must be YYYY-MM-DD, got \(today)") }
    }

    /// The validated zone.
    var zone: TimeZone { TimeZone(identifier: timeZone)! }

    /// The day given with `--today`, if any.
    var pretendedDay: CalendarDay? { today.flatMap(CalendarDay.init) }

    /// Today: `--today`, or the current day in the zone.
    var currentDay: CalendarDay { pretendedDay ?? CalendarDay(date: Date(), timeZone: zone) }
}
