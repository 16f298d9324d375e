import ArgumentParser
import CSystemShims
import Foundation
import HTTPHardening
import Hummingbird
import Logging
import ServerLogging
import ServiceLifecycle
import SurveyServer
import Surveys
import SurveysPostgres

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

    @Option(
        help: """
            HOST:PORT of a listener of its own for Prometheus's /metrics, which the site never serves; \
            keep it private, e.g. 127.0.0.1:9464. Without it, metrics are not served (SURVEYCHARTS_METRICS_ADDRESS).
            """)
    var metricsAddress: String = Environment.string("METRICS_ADDRESS", "")

    /// `metricsAddress` split into host and port; nil when absent or malformed.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let portText = text[text.index(after: colon)...]
        guard !host.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), (0...65535).contains(port)
        else { return nil }
        return (host, port)
    }

    @OptionGroup var storage: DatabaseOption

    @OptionGroup var charts: ChartsDirectoryOption

    @Option(help: "Directory served under /static (SURVEYCHARTS_STATIC_DIR).")
    var staticDir: String = Environment.string("STATIC_DIR", "static")

    @OptionGroup var days: DayOptions

    @OptionGroup var language: DefaultLanguageOption

    @Option(
        name: .customLong("public-url"),
        help: ArgumentHelp(
            "The site's address as readers reach it, for share cards, embed snippets and oEmbed "
                + "(SURVEYCHARTS_PUBLIC_URL).", valueName: "https://surveys.example.org"))
    var publicURLOption: String?

    /// `--public-url`, else `SURVEYCHARTS_PUBLIC_URL`.
    var publicURL: String? { publicURLOption ?? ProcessInfo.processInfo.environment["SURVEYCHARTS_PUBLIC_URL"] }

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

    @Option(
        help: """
            Seconds a ballot may take (queueing and waiting for another process's database lock included); later, \
            it gets 503 "try again" and nothing is recorded (SURVEYCHARTS_BALLOT_DEADLINE).
            """)
    var ballotDeadline: Double = Double(Environment.string("BALLOT_DEADLINE", "5")) ?? 5

    @Option(
        help: """
            Seconds a stop (SIGTERM, SIGINT) may take: the listener closes at once, idle connections close, \
            requests under way finish; whatever is left then is cut off (SURVEYCHARTS_SHUTDOWN_GRACE).
            """)
    var shutdownGrace: Double = Double(Environment.string("SHUTDOWN_GRACE", "10")) ?? 10

    @Option(
        help: """
            Seconds to keep trying, at start, a PostgreSQL database that cannot be reached yet (with back-off, each \
            try logged); then serve exits (SURVEYCHARTS_DATABASE_START_TIMEOUT).
            """)
    var databaseStartTimeout: Double = Double(Environment.string("DATABASE_START_TIMEOUT", "30")) ?? 30

    @Option(
        help: """
            Seconds a chart request may wait for another writer (thread or process) drawing the same chart; \
            later, it gets 503 with Retry-After (SURVEYCHARTS_CHART_DEADLINE).
            """)
    var chartDeadline: Double = Double(Environment.string("CHART_DEADLINE", "10")) ?? 10

    @Option(
        help: """
            Connections served at once; more wait in the kernel's backlog. Default: the file-descriptor limit \
            (raised to its hard limit at start) less a quarter, at least 64, kept for files (SURVEYCHARTS_MAX_CONNECTIONS).
            """)
    var maxConnections: Int?

    /// `--max-connections`, else `SURVEYCHARTS_MAX_CONNECTIONS`, else nil (derived from the descriptor limit).
    private var connectionLimit: Int? { maxConnections ?? Int(Environment.string("MAX_CONNECTIONS", "")) }

    @Option(
        help: ArgumentHelp(
            """
            A file of keys for the chart API, one per line; with it, POST /api/charts/pie needs \
            Authorization: Bearer <key> or X-API-Key (SURVEYCHARTS_API_KEYS).
            """, valueName: "file"))
    var apiKeys: String?

    @Option(
        help: """
            Most bytes of API charts kept in the chart directory; the least recently used are removed first. \
            Question charts are never removed (SURVEYCHARTS_API_CACHE_MAX_BYTES).
            """)
    var apiCacheMaxBytes: Int = Environment.int("API_CACHE_MAX_BYTES", 256 * 1024 * 1024)

    @Option(
        help:
            "Chart API requests a second one client address may make; bursts of twice that pass (SURVEYCHARTS_API_RATE)."
    )
    var apiRate: Double = Double(Environment.string("API_RATE", "20")) ?? 20

    @Option(help: "Seconds a client may take to send a request's head (SURVEYCHARTS_HEADER_TIMEOUT).")
    var headerTimeout: Double = Double(Environment.string("HEADER_TIMEOUT", "10")) ?? 10

    @Option(
        help: """
            Seconds a request body may pause; a body slower than --body-minimum-rate bytes/s is cut off too \
            (SURVEYCHARTS_BODY_TIMEOUT).
            """)
    var bodyTimeout: Double = Double(Environment.string("BODY_TIMEOUT", "10")) ?? 10

    @Option(
        help: "Slowest average, in bytes per second, a request body may arrive at (SURVEYCHARTS_BODY_MINIMUM_RATE).")
    var bodyMinimumRate: Int = Environment.int("BODY_MINIMUM_RATE", 1024)

    @Option(help: "Seconds an idle keep-alive connection stays open (SURVEYCHARTS_KEEP_ALIVE_TIMEOUT).")
    var keepAliveTimeout: Double = Double(Environment.string("KEEP_ALIVE_TIMEOUT", "60")) ?? 60

    @Option(help: "Seconds a response may stay stuck on a client that reads nothing (SURVEYCHARTS_WRITE_TIMEOUT).")
    var writeTimeout: Double = Double(Environment.string("WRITE_TIMEOUT", "30")) ?? 30

    @Option(
        help: """
            Most bytes of large files read from disk and waiting for slow clients, across all connections; \
            streams wait for room beyond it (SURVEYCHARTS_MAX_BUFFERED_BYTES).
            """)
    var maxBufferedBytes: Int = Environment.int("MAX_BUFFERED_BYTES", 64 << 20)

    @Option(
        help: """
            Address or CIDR range of reverse proxies whose X-Forwarded-For, X-Forwarded-Proto and X-Request-Id \
            are believed: the client is the right-most forwarded address that is not a trusted proxy, and cookies \
            are marked Secure behind HTTPS. Repeat it or separate entries with commas (SURVEYCHARTS_TRUSTED_PROXY).
            """)
    var trustedProxy: [String] =
        Environment.string("TRUSTED_PROXY", "").isEmpty
        ? [] : [Environment.string("TRUSTED_PROXY", "")]

    @Option(help: "Hours an operator's session lasts without use (SURVEYCHARTS_ADMIN_SESSION_HOURS).")
    var adminSessionHours: Double = Double(Environment.string("ADMIN_SESSION_HOURS", "12")) ?? 12

    @Flag(
        help: ArgumentHelp(
            "Commit ballots with synchronous=NORMAL: faster, not power-loss safe (for make bench-http only).",
            visibility: .hidden))
    var unsafeNonDurableBallots = false

    @Option(help: ArgumentHelp("Milliseconds between attempts to lead the pre-render scheduler.", visibility: .hidden))
    var prerenderRetryMs = 5000

    @Flag(help: ArgumentHelp("Stop when the parent process exits (for test harnesses).", visibility: .hidden))
    var exitWithParent = false

    func validate() throws {
        if let publicURL {
            let trimmed = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
            guard let url = URL(string: trimmed), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
                url.query == nil, url.fragment == nil, url.user == nil, url.path.isEmpty,
                trimmed.unicodeScalars.allSatisfy({
                    $0.isASCII && $0.value > 0x20 && !"\"'<>\\`".unicodeScalars.contains($0)
                })
            else {
                throw ValidationError(
                    "--public-url must be the site's origin, such as https://surveys.example.org (no path, query or "
                        + "credentials), got \(publicURL)")
            }
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        for (name, value) in [
            ("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout),
            ("--keep-alive-timeout", keepAliveTimeout), ("--write-timeout", writeTimeout),
        ] where !(value > 0 && value <= 3600) {
            throw ValidationError("\(name) must be more than 0 and at most 3600 seconds, got \(value)")
        }
        guard adminSessionHours > 0, adminSessionHours <= 24 * 90 else {
            throw ValidationError(
                "--admin-session-hours must be more than 0 and at most 2160, got \(adminSessionHours)")
        }
        guard maxBufferedBytes >= 1 << 20 else {
            throw ValidationError("--max-buffered-bytes must be at least 1048576 (1 MiB), got \(maxBufferedBytes)")
        }
        guard bodyMinimumRate >= 0 else {
            throw ValidationError("--body-minimum-rate must not be negative, got \(bodyMinimumRate)")
        }
        guard apiCacheMaxBytes >= 0 else {
            throw ValidationError("--api-cache-max-bytes must not be negative, got \(apiCacheMaxBytes)")
        }
        // A burst (twice the rate) of at least one request, and a rate a Retry-After can express.
        guard apiRate >= 0.5, apiRate <= 1_000_000 else {
            throw ValidationError("--api-rate must be from 0.5 to 1000000 requests a second, got \(apiRate)")
        }
        if !metricsAddress.isEmpty, Self.hostAndPort(metricsAddress) == nil {
            throw ValidationError(
                "--metrics-address must be HOST:PORT such as 127.0.0.1:9464, got \"\(metricsAddress)\"")
        }
        do {
            _ = try TrustedProxies(parsing: trustedProxy)
        } catch let error as StartupError {
            throw ValidationError(error.message)
        }
        if let connectionLimit, connectionLimit < 1 {
            throw ValidationError("--max-connections must be at least 1, got \(connectionLimit)")
        }
        guard ballotDeadline > 0, ballotDeadline <= 600 else {
            throw ValidationError(
                "--ballot-deadline must be more than 0 and at most 600 seconds, got \(ballotDeadline)")
        }
        guard shutdownGrace > 0, shutdownGrace <= 3600 else {
            throw ValidationError("--shutdown-grace must be more than 0 and at most 3600 seconds, got \(shutdownGrace)")
        }
        guard databaseStartTimeout >= 0, databaseStartTimeout <= 3600 else {
            throw ValidationError(
                "--database-start-timeout must be 0 to 3600 seconds, got \(databaseStartTimeout)")
        }
        guard chartDeadline > 0, chartDeadline <= 600 else {
            throw ValidationError("--chart-deadline must be more than 0 and at most 600 seconds, got \(chartDeadline)")
        }
    }

    func run() async throws {
        if exitWithParent { surveycharts_terminate_with_parent() }
        // Logging never blocks a request: a stalled stderr pipe drops lines instead.
        let errorLog = BackgroundLogHandler.standardError()
        LoggingSystem.bootstrap { label in BackgroundLogHandler(label: label, output: errorLog) }
        var configuration = ServerConfiguration()
        configuration.listener.host = host
        configuration.listener.port = port
        configuration.charts.directory = charts.chartsDir
        configuration.site.staticDirectory = staticDir
        configuration.site.loadDemo = !noDemo
        configuration.site.defaultLanguage = language.tag
        configuration.site.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        // The demo operator's password is printed once; only a person at a terminal should see it,
        // never a log or the journal, so a server whose output is not a terminal makes no operator.
        configuration.site.createDemoOperator = isatty(STDOUT_FILENO) == 1
        configuration.operations.accessLog = accessLog
        configuration.charts.prerender = prerender
        configuration.ballots.perBrowser = ballotsPerBrowser
        FileDescriptorLimit.raiseToHard()
        // A file-size limit reached while writing a chart is a failed write (EFBIG, answered 503),
        // not a reason to die.
        signal(SIGXFSZ, SIG_IGN)
        configuration.charts.api.cacheMaximumBytes = apiCacheMaxBytes
        configuration.charts.api.requestsPerSecond = apiRate
        configuration.charts.api.burst = apiRate * 2
        if let apiKeys = apiKeys ?? ProcessInfo.processInfo.environment["SURVEYCHARTS_API_KEYS"] {
            do {
                let keys = try ChartAPILimits.keys(fromFile: apiKeys)
                guard !keys.isEmpty else {
                    CommandFailure("--api-keys \(apiKeys) holds no key; add one per line", exitCode: .dataError).exit()
                }
                configuration.charts.api.keys = keys
            } catch {
                CommandFailure("cannot read --api-keys \(apiKeys): \(error.localizedDescription)", exitCode: .noInput)
                    .exit()
            }
        }
        configuration.listener.maximumConnections = connectionLimit
        configuration.charts.deadline = .milliseconds(Int64(chartDeadline * 1000))
        configuration.listener.timeouts.header = .milliseconds(Int64(headerTimeout * 1000))
        configuration.listener.timeouts.bodyIdle = .milliseconds(Int64(bodyTimeout * 1000))
        configuration.listener.timeouts.bodyMinimumBytesPerSecond = bodyMinimumRate
        configuration.listener.timeouts.keepAliveIdle = .milliseconds(Int64(keepAliveTimeout * 1000))
        configuration.listener.timeouts.writeStall = .milliseconds(Int64(writeTimeout * 1000))
        configuration.listener.maximumBufferedBytes = maxBufferedBytes
        configuration.admin.sessionIdle = .milliseconds(Int64(adminSessionHours * 3_600_000))
        // Validated in `validate()`.
        configuration.listener.trustedProxies = (try? TrustedProxies(parsing: trustedProxy)) ?? TrustedProxies()
        configuration.charts.prerenderLeaderRetry = .milliseconds(prerenderRetryMs)
        configuration.site.timeZone = days.zone
        if let day = days.pretendedDay {
            let zone = configuration.site.timeZone
            let offset = Date().timeIntervalSince(CalendarDay(date: Date(), timeZone: zone).start(in: zone))
            configuration.site.now = { day.start(in: zone).addingTimeInterval(offset) }
        }
        configuration.operations.metricsAddress = metricsAddress.isEmpty ? nil : Self.hostAndPort(metricsAddress)
        configuration.operations.onMetricsListening = { host, port in
            FileHandle.standardOutput.write(Data("surveycharts: metrics on http://\(host):\(port)/metrics\n".utf8))
        }
        configuration.site.onDemoOperatorCreated = { password in
            FileHandle.standardOutput.write(
                Data(
                    """
                    surveycharts: created the demo operator: sign in at /admin/login as demo with the password \
                    \(password) (shown only now; add your own with: surveycharts user add NAME)

                    """.utf8))
        }
        configuration.listener.onListening = { host, port in
            // Written unbuffered: scripts and tests wait for this line to learn the port.
            FileHandle.standardOutput.write(Data("surveycharts: listening on http://\(host):\(port)\n".utf8))
        }
        let logger = Logger(label: "surveycharts")
        var storeOptions = SurveyStores.Options()
        storeOptions.ballotDeadline = .milliseconds(Int64(ballotDeadline * 1000))
        storeOptions.durableBallots = !unsafeNonDurableBallots
        storeOptions.poolSize = storage.databasePoolSize
        storeOptions.startTimeout = .milliseconds(Int64(databaseStartTimeout * 1000))
        let opened: SurveyStores.Serving
        do {
            opened = try SurveyStores.openForServing(storage.database, options: storeOptions, logger: logger)
        } catch let error as SurveyStoreError {
            CommandFailure(error.message, exitCode: .cantCreate).exit()
        }
        let site = SiteService(
            configuration: configuration, opened: opened, storeName: SurveyStores.displayName(storage.database),
            logger: logger)
        // Stopped in reverse order on SIGTERM or SIGINT: the site first (it stops accepting and
        // finishes the requests under way), then the store's connections.
        var groupConfiguration = ServiceGroupConfiguration(
            services: (opened.service.map { [$0] } ?? []) + [site], gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int64(shutdownGrace * 1000))
        groupConfiguration.maximumCancellationDuration = .seconds(2)
        let group = ServiceGroup(configuration: groupConfiguration)
        try await group.run()
    }

    /// The site as a service: once the store's connections run, it prepares the store, builds the
    /// application and serves it.
    private struct SiteService: Service {
        let configuration: ServerConfiguration
        let opened: SurveyStores.Serving
        let storeName: String
        let logger: Logger

        func run() async throws {
            let application: any ApplicationProtocol
            do {
                // SIGTERM while the store is still being reached (PostgreSQL retrying) ends the start.
                application = try await cancelWhenGracefulShutdown { [self] in
                    try await opened.prepare()
                    return try await buildApplication(
                        configuration: configuration, store: opened.store, storeName: storeName, logger: logger)
                }
            } catch  where error is CancellationError || Task.isShuttingDownGracefully {
                // The store's own failure then only says it was interrupted.
                logger.notice("stopped before serving")
                return
            } catch let error as SurveyStoreError {
                CommandFailure(error.message, exitCode: .cantCreate).exit()
            } catch let error as StartupError {
                CommandFailure(error.message, exitCode: .cantCreate).exit()
            }
            ServeCommand.logConnectionLimits(configuration.listener, logger: logger)
            try await application.run()
        }
    }

    fileprivate static func logConnectionLimits(_ listener: ListenerConfiguration, logger: Logger) {
        let limit = FileDescriptorLimit.current()
        logger.info(
            "connections: at most \(listener.connectionLimit) at once (file descriptors: \(limit.soft) of \(limit.hard))"
        )
        if let asked = listener.maximumConnections, asked > listener.connectionLimit {
            logger.warning(
                "--max-connections \(asked) is more than \(limit.soft) file descriptors allow; using \(listener.connectionLimit)"
            )
        }
    }
}
