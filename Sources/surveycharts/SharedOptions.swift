import ArgumentParser
import Foundation
import Localization
import Surveys
import SurveysPostgres

/// `--database`, shared by every command that reads or writes surveys.
struct DatabaseOption: ParsableArguments {
    @Option(
        help: "A SQLite database file, or postgres://user:password@host:port/database (SURVEYCHARTS_DATABASE).")
    var database: String = Environment.string("DATABASE", "surveys.sqlite3")

    @Option(help: "Most PostgreSQL connections this process opens (SURVEYCHARTS_DATABASE_POOL_SIZE).")
    var databasePoolSize: Int = Environment.int("DATABASE_POOL_SIZE", 8)

    /// Exits with one line when the option names a SQLite file that does not exist, for commands
    /// that read a site (PostgreSQL databases are checked by connecting).
    func requireExisting() {
        guard SurveyStores.isPostgres(database) || FileManager.default.fileExists(atPath: database) else {
            CommandFailure("the database \(database) does not exist; pass --database", exitCode: .noInput).exit()
        }
    }

    /// Opens the store the option names.
    func open(_ options: SurveyStores.Options = SurveyStores.Options()) async throws -> any SurveyStore {
        var options = options
        options.poolSize = databasePoolSize
        return try await SurveyStores.open(database, options: options)
    }

    func validate() throws {
        guard (1...1000).contains(databasePoolSize) else {
            throw ValidationError("--database-pool-size must be 1 to 1000, got \(databasePoolSize)")
        }
    }
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

/// `--default-language`, shared by the commands that make surveys or show pages.
struct DefaultLanguageOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Language of surveys imported or created without one, and of pages whose reader's Accept-Language "
                + "matches no catalog: a BCP 47 tag with a catalog (SURVEYCHARTS_DEFAULT_LANGUAGE).",
            valueName: "tag"))
    var defaultLanguage: String = Environment.string("DEFAULT_LANGUAGE", "en")

    /// The validated tag (`validate` has run).
    var tag: LanguageTag { (try? LanguageTag(parsing: defaultLanguage)) ?? .english }

    func validate() throws {
        let tag: LanguageTag
        do { tag = try LanguageTag(parsing: defaultLanguage) } catch {
            throw ValidationError("--default-language: \(error)")
        }
        guard Catalogs.supports(tag) else {
            throw ValidationError(
                "--default-language: there is no catalog for \(tag); use one of "
                    + Catalogs.tags.map(\.description).joined(separator: ", "))
        }
    }
}
