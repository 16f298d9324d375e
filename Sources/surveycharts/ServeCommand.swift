import ArgumentParser
import CSystemShims
import Foundation
import Logging
import SurveyServer
import Surveys

extension BallotsPerBrowser: ExpressibleByArgument {}

/// `surveycharts serve`
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the survey pages, votes, charts and static files over HTTP.",
        discussion: """
            A new, empty database gets the demo surveys unless --no-demo is given. Several serve processes \
            may share one database and one chart directory. Stops gracefully on SIGTERM or SIGINT.
            """
    )

    @Option(help: "Address to listen on (SURVEYCHARTS_HOST).")
    var host: String = Environment.string("HOST", "127.0.0.1")

    @Option(help: "Port to listen on; 0 picks a free one (SURVEYCHARTS_PORT).")
    var port: Int = Environment.int("PORT", 8080)

    @OptionGroup var storage: DatabaseOption

    @OptionGroup var charts: ChartsDirectoryOption

    @Option(help: "Directory served under /static (SURVEYCHARTS_STATIC_DIR).")
    var staticDir: String = Environment.string("STATIC_DIR", "static")

    @OptionGroup var days: DayOptions

    @Flag(help: "Do not load the demo surveys into a new database (SURVEYCHARTS_NO_DEMO=1).")
    var noDemo: Bool = Environment.flag("NO_DEMO")

    @Flag(
        inversion: .prefixedNo,
        help: """
            Pre-render every chart of a survey when its closing day ends, and catch up at start-up; one server \
            per chart directory leads (SURVEYCHARTS_PRERENDER=0 turns it off).
            """)
    var prerender: Bool = ProcessInfo.processInfo.environment["SURVEYCHARTS_PRERENDER"] != "0"

    @Flag(
        inversion: .prefixedNo,
        help: "Log every request (SURVEYCHARTS_ACCESS_LOG=0 turns it off).")
    var accessLog: Bool = ProcessInfo.processInfo.environment["SURVEYCHARTS_ACCESS_LOG"] != "0"

    @Option(
        help: ArgumentHelp(
            """
            How many ballots one browser may cast in a survey: one (a signed cookie marks the browser after its \
            ballot) or any (SURVEYCHARTS_BALLOTS_PER_BROWSER).
            """, valueName: "one|any"))
    var ballotsPerBrowser: BallotsPerBrowser =
        BallotsPerBrowser(
            rawValue: Environment.string("BALLOTS_PER_BROWSER", "one")) ?? .one

    @Option(help: ArgumentHelp("Milliseconds between attempts to lead the pre-render scheduler.", visibility: .hidden))
    var prerenderRetryMs = 5000

    @Flag(help: ArgumentHelp("Stop when the parent process exits (for test harnesses).", visibility: .hidden))
    var exitWithParent = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
    }

    func run() async throws {
        if exitWithParent { surveycharts_terminate_with_parent() }
        // Logging never blocks a request: a stalled stderr pipe drops lines instead.
        let sink = BackgroundLogHandler.Sink()
        LoggingSystem.bootstrap { label in BackgroundLogHandler(label: label, sink: sink) }
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.databasePath = storage.database
        configuration.chartsDirectory = charts.chartsDir
        configuration.staticDirectory = staticDir
        configuration.loadDemo = !noDemo
        configuration.accessLog = accessLog
        configuration.prerender = prerender
        configuration.ballotsPerBrowser = ballotsPerBrowser
        configuration.prerenderLeaderRetry = .milliseconds(prerenderRetryMs)
        configuration.timeZone = days.zone
        if let day = days.pretendedDay {
            let zone = configuration.timeZone
            let offset = Date().timeIntervalSince(CalendarDay(date: Date(), timeZone: zone).start(in: zone))
            configuration.now = { day.start(in: zone).addingTimeInterval(offset) }
        }
        configuration.onListening = { host, port in
            // Written unbuffered: scripts and tests wait for this line to learn the port.
            FileHandle.standardOutput.write(Data("surveycharts: listening on http://\(host):\(port)\n".utf8))
        }
        let server: SurveyServer
        do {
            server = try await SurveyServer(configuration: configuration)
        } catch let error as StartupError {
            CommandFailure(error.message, exitCode: .cantCreate).exit()
        }
        try await server.run()
    }
}
