import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PieChart
import ServiceLifecycle
import SurveyCharts
import Surveys
import SurveysPostgres
import Synchronization

/// Settings of `surveycharts serve`; new ones get defaults, so callers keep compiling.
public struct ServerConfiguration: Sendable {
    /// Where to listen. Port 0 picks a free port (reported through `onListening`).
    public var host = "127.0.0.1", port = 8080
    /// The store: a SQLite database file, or a `postgres://` URL.
    public var databasePath = "surveys.sqlite3"
    /// Most PostgreSQL connections this process opens.
    public var databasePoolSize = 8
    /// The chart directory (shared with other processes and `prerender`).
    public var chartsDirectory = "piecharts"
    /// Files under `/static`.
    public var staticDirectory = "static"
    /// Load the demo surveys into a new, empty database.
    public var loadDemo = true
    /// The time zone survey days are counted in.
    public var timeZone = TimeZone(identifier: "UTC")!
    /// Largest request body; larger ones get 413.
    public var maximumBodyBytes = 64 * 1024
    /// How long a chart request may wait for a writer before 503.
    public var chartDeadline: Duration = .seconds(10)
    /// Threads for file I/O and rendering.
    public var blockingThreads = max(2, ProcessInfo.processInfo.activeProcessorCount)
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }
    /// Log every request (at info) through swift-log.
    public var accessLog = true
    /// How long a completed survey's rendered results page is reused. The page cannot change
    /// once the survey closes; the limit only bounds how long an edit made behind our back lasts.
    public var resultsPageLifetime: Duration = .seconds(5)
    /// Run the pre-render scheduler (off for servers that should only serve).
    public var prerender = true
    /// How often a server that is not the pre-render leader tries to become it.
    public var prerenderLeaderRetry: Duration = .seconds(5)
    /// Connections served at once; beyond it, new ones wait in the kernel's backlog. Nil: derived
    /// from the file-descriptor limit (`ServerConfiguration.defaultMaximumConnections`).
    public var maximumConnections: Int?
    /// Most bytes of large files read and not yet taken by clients, across all connections
    /// (`StreamedBytesBudget`); one budget per process.
    public var maximumBufferedBytes = 64 << 20
    /// Bounds on the public chart API.
    public var chartAPI = ChartAPILimits()
    /// How long a connection may keep the server waiting before it is closed.
    public var timeouts = ConnectionTimeouts()
    /// How long a ballot may take before it gets 503 with nothing recorded (another process
    /// holding the database lock, a long queue of ballots).
    public var ballotDeadline: Duration = .seconds(5)
    /// SQLite's `synchronous=FULL` (durable ballots); off only to measure what durability costs.
    public var durableBallots = true
    /// How many ballots one browser may cast in a survey.
    public var ballotsPerBrowser = BallotsPerBrowser.one
    /// How long an operator's session lasts without use.
    public var adminSessionIdle: Duration = .seconds(12 * 3600)
    /// Reverse proxies whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Request-Id` are
    /// believed: the client address for logs and limits, and `Secure` cookies behind HTTPS.
    public var trustedProxies = TrustedProxies()
    /// With the demo surveys loaded into a new database that has no operator, create `demo` with
    /// a random password (`SurveyServer.demoOperatorPassword`), so a fresh `make run` can sign in.
    public var createDemoOperator = true
    /// Where `/metrics` is served, apart from the site (`--metrics-address`); nil serves it nowhere.
    public var metricsAddress: (host: String, port: Int)?
    /// Called once listening, with the bound host and port (after `onMetricsListening`).
    public var onListening: (@Sendable (String, Int) -> Void)?
    /// Called once the metrics listener is bound, with its host and port.
    public var onMetricsListening: (@Sendable (String, Int) -> Void)?

    /// Creates the default configuration.
    public init() {}

    /// The connection limit for a process allowed `descriptors` open files: a quarter (at least
    /// 64) stays free for chart files, static files and the database.
    public static func defaultMaximumConnections(descriptors: Int) -> Int {
        max(1, descriptors - max(64, descriptors / 4))
    }

    /// The connection limit in force: `maximumConnections`, but never more than the descriptors
    /// allow. NIO's accept back-off does not stop the event loop spinning on `accept` once
    /// descriptors run out (measured: 100 % of a core), so the server must stop accepting first.
    public var connectionLimit: Int {
        let ceiling = Self.defaultMaximumConnections(descriptors: Int(clamping: FileDescriptorLimit.current().soft))
        return min(maximumConnections ?? ceiling, ceiling)
    }

    /// Today in the service's time zone.
    public var today: CalendarDay { CalendarDay(date: now(), timeZone: timeZone) }
}

/// The survey service: pages, votes, charts and static files over HTTP.
public struct SurveyServer: Sendable {
    let configuration: ServerConfiguration
    let store: any SurveyStore
    let cache: ChartCache
    /// The one pool for blocking work, owned here.
    let pool: BlockingThreadPool
    let chartFiles: SurveyChartFiles
    let staticFiles: StaticFileStore
    let charts: StaticFileStore
    let pages: Pages
    let metrics: ServerMetrics
    let logger: Logger
    let resultsPages = ResultsPageCache()
    /// The home page's lists by day and page numbers, a few seconds old at most.
    let homePages = BoundedCache<String, ByteBuffer>(capacity: 256, byteCapacity: 16 << 20)
    /// Surveys as ballots last saw them, for a second: the store checks every ballot again
    /// inside its transaction, so this read only shapes the answer, and skipping it keeps a
    /// ballot to one trip to the database.
    let ballotSurveys = BoundedCache<Int64, Survey>(capacity: 1024)
    let scheduler: PrerenderScheduler
    let ballotIntegrity: BallotIntegrity
    let routeMethods = RouteMethods()
    let favicon: ByteBuffer
    let apiRateLimiter: ClientRateLimiter
    let apiRenders: AdmissionLimiter
    let apiChartBudget: APIChartBudget
    /// What the chart cache's writers call when they publish an API chart (set once the budget
    /// and the chart store exist; the cache is made before both).
    let publishedAPICharts: APIChartPublications
    let adminAuthentication: AdminAuthentication
    /// Password hashing's own threads and budget, apart from `pool`.
    let passwordChecks: PasswordChecks
    /// The access log (nil with `--no-access-log`).
    let accessLog: AccessLog?
    /// The demo operator's password when this start created it (printed once), else nil.
    public let demoOperatorPassword: String?

    /// Runs the start-up checks: the chart directory can be created and written, the static
    /// directory exists, the database opens and migrates.
    /// - Throws: `StartupError`, one line that says what to fix.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "surveycharts")) async throws {
        self.configuration = configuration
        self.logger = logger
        let metrics = ServerMetrics()
        self.metrics = metrics
        // The process's one pool for blocking work: charts, static files, the
        // scheduler's lock. Each thread gets its font map before its first job.
        let pool = BlockingThreadPool(
            threadCount: configuration.blockingThreads, name: "blocking", threadStart: PieChartRenderer.prepareThread)
        self.pool = pool
        let publishedAPICharts = APIChartPublications()
        self.publishedAPICharts = publishedAPICharts
        let storeSecret: [UInt8]
        do {
            var cacheConfiguration = ChartCache.Configuration(
                directory: configuration.chartsDirectory, deadline: configuration.chartDeadline)
            cacheConfiguration.pool = pool
            cacheConfiguration.renderTimeObserver = { metrics.chartRendered(in: $0) }
            // API charts are counted against their disk budget by the writer that publishes
            // them, on its pool thread: a render that outlives its request is counted too.
            cacheConfiguration.publishObserver = { [publishedAPICharts] name, bytes in
                guard ChartName.isAPIChart(name.fileName) else { return }
                publishedAPICharts.published(name.fileName, bytes: bytes)
            }
            cache = try ChartCache(configuration: cacheConfiguration)
        } catch let error as ChartCacheError {
            pool.shutdown()
            throw StartupError(error.message)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.staticDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw StartupError(
                "the static directory \(configuration.staticDirectory) does not exist; pass --static-dir with the "
                    + "project's static/ folder")
        }
        staticFiles = try StaticFileStore(
            root: configuration.staticDirectory, pool: pool, contentAddressed: false,
            cacheControl: "public, max-age=300")
        charts = try StaticFileStore(
            root: configuration.chartsDirectory, pool: pool, contentAddressed: true,
            cacheControl: StaticFileMiddleware<SurveyRequestContext>.immutable)
        var storeOptions = SurveyStores.Options()
        storeOptions.ballotDeadline = configuration.ballotDeadline
        storeOptions.durableBallots = configuration.durableBallots
        storeOptions.poolSize = configuration.databasePoolSize
        do {
            let opened = try await SurveyStores.open(configuration.databasePath, options: storeOptions, logger: logger)
            store = opened
            var demoPassword: String?
            if configuration.loadDemo, try await opened.isEmpty() {
                do {
                    try await opened.importDocument(DemoSurveys.document(today: configuration.today))
                    logger.info("loaded the demo surveys into \(Self.displayName(configuration.databasePath))")
                } catch let error as SurveyStoreError where error.code == .invalidImport {
                    // Another process sharing the database loaded them first.
                    guard try await !opened.isEmpty() else { throw error }
                }
                if configuration.createDemoOperator, try await opened.users().isEmpty {
                    let password = OperatorPasswords.random()
                    do {
                        try await opened.addUser(
                            name: "demo", passwordHash: OperatorPasswords.hash(password), at: Date())
                        demoPassword = password
                    } catch let error as SurveyStoreError where error.code == .invalidEdit {
                        logger.info("another process created the demo operator first")
                    }
                }
            }
            demoOperatorPassword = demoPassword
            let secret = try await opened.secret(
                named: BallotIntegrity.secretName, candidate: BallotIntegrity.newSecret())
            ballotIntegrity = BallotIntegrity(secret: secret, policy: configuration.ballotsPerBrowser)
            storeSecret = secret
        } catch let error as SurveyStoreError {
            throw StartupError(error.message)
        }
        favicon = ByteBuffer(string: Self.faviconSVG)
        apiRateLimiter = ClientRateLimiter(
            rate: configuration.chartAPI.requestsPerSecond, burst: configuration.chartAPI.burst)
        apiRenders = AdmissionLimiter(permits: configuration.chartAPI.rendersInFlight)
        let budget = APIChartBudget(
            directory: configuration.chartsDirectory, maximumBytes: configuration.chartAPI.cacheMaximumBytes)
        apiChartBudget = budget
        publishedAPICharts.counter.withLock { [charts, directory = configuration.chartsDirectory] in
            $0 = { name, bytes in
                for victim in budget.use(name, bytes: bytes) {
                    unlink(directory + "/" + victim)
                    charts.forget([victim])
                }
            }
        }
        let today: @Sendable () -> CalendarDay = { [configuration] in configuration.today }
        chartFiles = SurveyChartFiles(store: store, cache: cache, renderer: PieChartRenderer(), today: today)
        pages = Pages.standard
        accessLog = configuration.accessLog ? AccessLog() : nil
        passwordChecks = PasswordChecks()
        adminAuthentication = AdminAuthentication(
            store: store, passwords: passwordChecks, logger: logger, idleLimit: configuration.adminSessionIdle,
            secret: storeSecret)
        var schedule = PrerenderScheduler.Configuration(
            chartsDirectory: configuration.chartsDirectory, timeZone: configuration.timeZone)
        schedule.leaderRetry = configuration.prerenderLeaderRetry
        scheduler = PrerenderScheduler(
            configuration: schedule, store: store, cache: cache,
            clock: SystemSchedulerClock(current: configuration.now), logger: logger)
    }

    /// Builds the HTTP application.
    public func application() -> some ApplicationProtocol {
        let router = Router(context: SurveyRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ClientIdentityMiddleware(proxies: configuration.trustedProxies))
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        if let accessLog { router.add(middleware: AccessLogMiddleware(log: accessLog)) }
        router.add(
            middleware: ErrorPagesMiddleware(routes: routeMethods, maximumBodyBytes: configuration.maximumBodyBytes))
        router.add(
            middleware: StaticFileMiddleware(
                staticFiles: staticFiles, charts: charts, chartFiles: chartFiles, metrics: metrics,
                apiChartServed: { [self] name, bytes in await apiChartUsed(name, bytes: bytes) }))
        addRoutes(to: router)
        let listening = ListeningReport(
            expectsMetrics: configuration.metricsAddress != nil, onListening: configuration.onListening,
            onMetricsListening: configuration.onMetricsListening)
        let metrics = self.metrics
        var services: [any Service] = configuration.prerender ? [scheduler] : []
        if let metricsApplication = metricsApplication(listening: listening) { services.append(metricsApplication) }
        let (timeouts, maximumBodyBytes) = (configuration.timeouts, configuration.maximumBodyBytes)
        return Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [
                        RequestHeadRulesHandler.Installer(maximumBodyBytes: maximumBodyBytes),
                        ConnectionDeadlinesHandler(timeouts: timeouts) { metrics.connectionTimedOut($0.rawValue) },
                    ])),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "SurveyCharts",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.connectionLimit, logger: logger)
            ),
            services: services,
            onServerRunning: { [logger, metrics] channel in
                try? await channel.eventLoop.submit {
                    let exhaustion = AcceptExhaustionHandler(logger: logger, reserve: ReserveDescriptor()) {
                        metrics.connectionShed()
                    }
                    try channel.pipeline.syncOperations.addHandler(exhaustion, position: .first)
                }.get()
                listening.serving(channel.localAddress)
            },
            logger: logger)
    }

    /// The metrics listener (`--metrics-address`): `/metrics` alone, apart from the public site,
    /// so that it is reachable only where the operator binds it.
    func metricsApplication(listening: ListeningReport) -> (any Service)? {
        guard let (host, port) = configuration.metricsAddress else { return nil }
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.get("/metrics") { [metrics, cache, scheduler, resultsPages, homePages] _, _ in
            let pages = (
                count: resultsPages.pages.count + homePages.count, bytes: resultsPages.pages.bytes + homePages.bytes
            )
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: metrics.exposition(
                            cache: cache.statistics, prerenderLeader: scheduler.isLeader,
                            prerenderPasses: scheduler.passes, pagesCached: pages))))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "SurveyCharts"),
            onServerRunning: { channel in listening.metricsServing(channel.localAddress) }, logger: logger)
    }

    /// Serves until SIGTERM or SIGINT, then finishes the requests under way.
    public func run() async throws {
        logger.info("connection timeouts: \(configuration.timeouts)")
        StreamedBytesBudget.limit.store(configuration.maximumBufferedBytes, ordering: .relaxed)
        logger.info("large files: at most \(configuration.maximumBufferedBytes) bytes buffered for slow clients")
        let limit = FileDescriptorLimit.current()
        logger.info(
            "connections: at most \(configuration.connectionLimit) at once (file descriptors: \(limit.soft) of \(limit.hard))"
        )
        if let asked = configuration.maximumConnections, asked > configuration.connectionLimit {
            logger.warning(
                "--max-connections \(asked) is more than \(limit.soft) file descriptors allow; using \(configuration.connectionLimit)"
            )
        }
        // The scheduler runs as a service beside the HTTP server: SIGTERM stops both, then the pool.
        defer {
            pool.shutdown()
            passwordChecks.shutdown()
        }
        try await application().runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    // MARK: Routes

    /// Adds a route and records its method, so that other methods on its path get 405.
    func route(
        _ router: Router<SurveyRequestContext>, _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, SurveyRequestContext) async throws -> Response
    ) {
        routeMethods.record(path, method)
        router.on(RouterPath(path), method: method, use: handler)
    }

    func addRoutes(to router: Router<SurveyRequestContext>) {
        addAdminRoutes(to: router)
        route(router, .get, "/") { request, _ in
            let open = try Self.pageNumber(request, "open")
            let recent = try Self.pageNumber(request, "recent")
            let today = configuration.today
            let key = "\(today) \(open) \(recent)"
            if let page = homePages.fresh(key, lifetime: configuration.resultsPageLifetime) { return html(page) }
            let home = try await store.homeSurveys(
                on: today, recentDays: 14, activePage: open, completedPage: recent, pageSize: Self.homePageSize)
            guard open <= home.active.count, recent <= home.completed.count else {
                throw ServiceError(
                    .notFound, code: "no_such_page", title: "No such page",
                    "This list has no page that far; the first page has the newest surveys.")
            }
            let page = ByteBuffer(string: pages.home(active: home.active, completed: home.completed))
            homePages.store(key, page, bytes: page.readableBytes)
            return html(page)
        }
        route(router, .get, "/surveys/:id") { request, context in
            // A fresh rendered page of a completed survey needs no database read.
            if let id = Self.surveyID(context),
                let cached = resultsPages.fresh(id, lifetime: configuration.resultsPageLifetime),
                cached.survey.state(on: configuration.today) == .completed
            {
                return resultsResponse(request, page: cached.page, etag: cached.etag)
            }
            let survey = try await openSurvey(context)
            switch survey.state(on: configuration.today) {
            case .upcoming: return try notYetOpen(survey)
            case .open:
                if ballotIntegrity.hasVoted(request, surveyID: survey.id) { return html(pages.thanks(survey)) }
                var response = html(pages.form(survey))
                if let token = ballotIntegrity.tokenCookie(request, surveyID: survey.id, secure: context.client.isHTTPS)
                {
                    response.headers[.setCookie] = token
                }
                return response
            case .completed:
                let (page, etag) = try resultsPages.page(for: survey, lifetime: configuration.resultsPageLifetime) {
                    try pages.results(survey)
                }
                return resultsResponse(request, page: page, etag: etag)
            }
        }
        route(router, .post, "/surveys/:id") { request, context in
            try await vote(request, context: context)
        }
        route(router, .get, "/surveys/:id/thanks") { _, context in
            let survey = try await openSurvey(context)
            guard survey.state(on: configuration.today) != .upcoming else { return try notYetOpen(survey) }
            return html(pages.thanks(survey))
        }
        route(router, .get, "/surveys/:id/results.json") { request, context in
            let survey = try await openSurvey(context)
            if survey.state(on: configuration.today) == .upcoming { return try notYetOpen(survey) }
            guard survey.state(on: configuration.today) == .completed else {
                throw ServiceError(
                    .notFound, code: "not_completed", title: "Results not published",
                    "results are published when the survey closes")
            }
            return try SurveyResultsDocument(survey).response(from: request, context: context)
        }
        route(router, .post, "/api/charts/pie") { request, context in
            try await renderSpec(request, context: context)
        }
        route(router, .get, "/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain", .xContentTypeOptions: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        route(router, .get, "/favicon.ico") { [favicon] _, _ in
            Response(
                status: .ok,
                headers: [
                    .contentType: "image/svg+xml", .cacheControl: "public, max-age=86400",
                    .xContentTypeOptions: "nosniff",
                ],
                body: .init(byteBuffer: favicon))
        }
    }

    /// A completed survey's page never changes: it carries a strong ETag.
    private func resultsResponse(_ request: Request, page: ByteBuffer, etag: String) -> Response {
        if let match = request.headers[.ifNoneMatch], StaticFileRules.matchesWeakly(match, etag: etag) {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .xContentTypeOptions: "nosniff", .eTag: etag],
            body: .init(byteBuffer: page))
    }

    func openSurvey(_ context: SurveyRequestContext) async throws -> Survey {
        guard let id = Self.surveyID(context), let survey = try await store.survey(id: id) else {
            throw ServiceError.noSuchSurvey()
        }
        return survey
    }

    /// A survey that has not opened is answered exactly like one that does not exist: its title,
    /// and that it exists at all, are not public yet.
    private func notYetOpen(_ survey: Survey) throws -> Response { throw ServiceError.noSuchSurvey() }

    /// The survey id in the path, only in its one canonical form (`/surveys/1`, never `/surveys/01`
    /// or `/surveys/+1`): the voted cookie and every cache are keyed by the path, so one survey has
    /// one address.
    static func surveyID(_ context: SurveyRequestContext) -> Int64? {
        guard let text = context.parameters.get("id") else { return nil }
        return canonicalID(text)
    }

    /// `text` as an id when it is a canonical positive decimal that fits in 64 bits.
    static func canonicalID(_ text: some StringProtocol) -> Int64? {
        let digits = text.utf8
        guard let first = digits.first, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first), digits.count <= 19,
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int64(text)
    }

    /// The store's name for logs: a PostgreSQL URL without its password.
    static func displayName(_ database: String) -> String {
        SurveyStores.isPostgres(database) ? PostgresSurveyStore.redacted(database) : database
    }

    /// The site's icon: a small pie in the chart colours.
    static let faviconSVG = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">\
        <circle cx="16" cy="16" r="15" fill="#56B4E9"/>\
        <path d="M16 16V1a15 15 0 0 1 13 22.5z" fill="#0072B2"/>\
        <path d="M16 16l13 7.5A15 15 0 0 1 6 27.6z" fill="#E69F00"/></svg>

        """

    private func vote(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        if let reason = BallotIntegrity.crossSiteReason(request) {
            logger.notice("refused a ballot for \(request.uri.path): \(reason)")
            throw ServiceError(
                .forbidden, code: "cross_site", title: "Ballot refused",
                "This ballot was sent from another site, so it was not counted. To vote, open the survey on this "
                    + "site and use its form.")
        }
        guard let id = Self.surveyID(context) else { throw ServiceError.noSuchSurvey() }
        let survey: Survey
        if let recent = ballotSurveys.fresh(id, lifetime: .seconds(1)) {
            survey = recent
        } else {
            survey = try await openSurvey(context)
            ballotSurveys.store(survey.id, survey)
        }
        var request = request
        let body = try await request.collectBody(upTo: configuration.maximumBodyBytes)
        let today = configuration.today
        guard survey.state(on: today) == .open else { throw ServiceError.notTakingVotes(survey, today: today) }
        if ballotIntegrity.hasVoted(request, surveyID: survey.id) { throw ServiceError.alreadyVoted(survey) }
        guard let fields = FormDecoding.fields(String(buffer: body)) else {
            return badBallot(survey, "The form data could not be read.", chosen: [:], missing: [])
        }
        var choices: [Int64: Int64] = [:]
        for (name, value) in fields {
            guard name.hasPrefix("q"), let question = Int64(name.dropFirst()), let answer = Int64(value) else {
                return badBallot(survey, "Unexpected field \"\(name)\".", chosen: choices, missing: [])
            }
            guard choices[question] == nil else {
                return badBallot(survey, "Question \(question) was answered twice.", chosen: [:], missing: [])
            }
            choices[question] = answer
        }
        do {
            let browser = ballotIntegrity.browser(request, surveyID: survey.id)
            try await store.record(Ballot(choices: choices, browser: browser), surveyID: survey.id, on: today)
        } catch let error as SurveyStoreError where error.code == .invalidBallot {
            let missing = Set(survey.questions.map(\.id).filter { choices[$0] == nil })
            let message =
                missing.isEmpty
                ? error.description
                : missing.count == 1 ? "Please answer this question too:" : "Please answer these questions too:"
            return badBallot(survey, message, chosen: choices, missing: missing)
        } catch let error as SurveyStoreError where error.code == .alreadyVoted {
            throw ServiceError.alreadyVoted(survey)
        } catch let error as SurveyStoreError where error.code == .notOpen {
            throw ServiceError.notTakingVotes(survey, today: configuration.today)
        } catch let error as SurveyStoreError where error.code == .notFound {
            throw ServiceError.noSuchSurvey()  // deleted since `ballotSurveys` saw it
        }
        var response = Response(
            status: .seeOther, headers: [.location: "/surveys/\(survey.id)/thanks", .contentLength: "0"])
        if let cookie = ballotIntegrity.votedCookie(surveyID: survey.id, secure: context.client.isHTTPS) {
            response.headers[.setCookie] = cookie
        }
        return response
    }

    private func badBallot(_ survey: Survey, _ message: String, chosen: [Int64: Int64], missing: Set<Int64>) -> Response
    {
        var response = html(pages.form(survey, error: message, chosen: chosen, missing: missing))
        response.status = .badRequest
        return response
    }

    private func renderSpec(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        let limits = configuration.chartAPI
        if let keys = limits.keys {
            let bearer = request.headers[.authorization].flatMap { value -> String? in
                value.lowercased().hasPrefix("bearer ") ? String(value.dropFirst("bearer ".count)) : nil
            }
            guard let key = bearer ?? request.headers[.xAPIKey], keys.contains(key) else {
                throw ServiceError(
                    .unauthorized, code: "api_key_required", title: "Unauthorized",
                    "this chart API needs a key: send it as Authorization: Bearer <key> or X-API-Key",
                    headers: [.wwwAuthenticate: "Bearer realm=\"surveycharts\""])
            }
        }
        if let wait = apiRateLimiter.take(context.client.limitKey) {
            throw ServiceError(
                .tooManyRequests, code: "rate_limited", title: "Too many requests",
                "at most \(limits.requestsPerSecond) charts a second per client; try again in \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        var request = request
        // Too large a body (413) and a spec that breaks the rules (400) answer for themselves.
        let body = try await request.collectBody(upTo: configuration.maximumBodyBytes)
        let spec = try ChartSpec(json: body.readableBytesView)
        let pixels = spec.width * spec.height * spec.scale * spec.scale
        guard pixels <= limits.maximumPixels else {
            throw ServiceError(
                .badRequest, code: "too_many_pixels", title: "Bad chart spec",
                "\(spec.width)×\(spec.height) at scale \(spec.scale) is \(pixels) pixels; this API draws at most "
                    + "\(limits.maximumPixels)", field: "width")
        }
        do {
            let chart = try await apiRenders.run(deadline: configuration.chartDeadline) {
                try await chartFiles.render(spec)
            }
            charts.remember(
                [chart.name.fileName], bytes: chart.bytes, modified: chart.modificationTime, device: chart.device,
                inode: chart.inode)
            // A chart this request rendered was counted by its writer; one found on disk is a use.
            if chart.outcome != .rendered { await apiChartUsed(chart.name.fileName, bytes: chart.bytes.count) }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "image/png", .contentLocation: "/piecharts/\(chart.name.fileName)",
                    .cacheControl: StaticFileMiddleware<SurveyRequestContext>.immutable,
                    .xContentTypeOptions: "nosniff",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: chart.bytes)))
        } catch let error as ChartCacheError where error.code == .renderFailed {
            // The client's spec was valid but cannot be drawn on its canvas (a legend that cannot
            // fit): the request's fault here, where a question's chart failing would be the server's.
            throw ServiceError(
                .badRequest, code: "cannot_render", title: "Bad chart spec", error.underlying ?? error.message,
                field: "slices")
        }
    }

    /// Records a use of API chart `name`, and removes the least recently used API charts while
    /// they take more than their budget.
    func apiChartUsed(_ name: String, bytes: Int) async {
        let evicted = apiChartBudget.use(name, bytes: bytes)
        guard !evicted.isEmpty else { return }
        let directory = configuration.chartsDirectory
        _ = try? await pool.run {
            for victim in evicted { unlink(directory + "/" + victim) }
        }
        for victim in evicted { charts.forget([victim]) }
        logger.debug("removed \(evicted.count) least recently used API charts")
    }

    func html(_ page: String) -> Response { html(ByteBuffer(string: page)) }

    func html(_ page: ByteBuffer) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: page))
    }

    /// Surveys per page of each home-page list.
    static let homePageSize = 50

    /// The page number in query parameter `name` (1 when absent).
    static func pageNumber(_ request: Request, _ name: String) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return 1 }
        guard let number = Int(text), (1...1_000_000).contains(number) else {
            throw ServiceError(
                .badRequest, code: "bad_page", title: "Bad request",
                "The page number “\(text)” is not a whole number from 1.")
        }
        return number
    }
}

/// The body of `results.json` (DESIGN "HTTP"): the shown integer percentages, exact counts, and
/// the chart URLs of each variant.
struct SurveyResultsDocument: ResponseCodable, Sendable {
    struct QuestionResult: Codable, Sendable {
        var id: Int64
        var text: String
        var total: Int
        var winners: [Int64]
        /// The wide chart, `{"1x": url, "2x": url}`.
        var chart: [String: String]
        /// The narrow (phone) chart, `{"1x": url, "2x": url}`.
        var narrowChart: [String: String]
        var answers: [AnswerResult]
    }

    struct AnswerResult: Codable, Sendable {
        var id: Int64
        var text: String
        var votes: Int
        var percent: Int
    }

    var id: Int64
    var title: String
    var opens: String
    var closes: String
    var questions: [QuestionResult]

    init(_ survey: Survey) throws {
        id = survey.id
        title = survey.title
        opens = "\(survey.opens)"
        closes = "\(survey.closes)"
        questions = try survey.questions.map { question in
            let results = try QuestionResults(question)
            return QuestionResult(
                id: question.id, text: question.text, total: results.total, winners: results.winners.map(\.id),
                chart: ["1x": results.chart1x, "2x": results.chart2x],
                narrowChart: ["1x": results.narrow1x, "2x": results.narrow2x],
                answers: results.rows.map {
                    AnswerResult(id: $0.answer.id, text: $0.answer.text, votes: $0.answer.votes, percent: $0.percent)
                })
        }
    }
}

/// Rendered results pages of completed surveys, with their ETags: at most `capacity` pages and
/// `byteCapacity` bytes, so crawling every results page of a large site cannot grow the server.
final class ResultsPageCache: Sendable {
    struct Page: Sendable {
        var survey: Survey
        var page: ByteBuffer
        var etag: String
    }

    let pages: BoundedCache<Int64, Page>

    init(capacity: Int = 512, byteCapacity: Int = 32 << 20) {
        pages = BoundedCache(capacity: capacity, byteCapacity: byteCapacity)
    }

    /// The cached page of survey `id`, if it is younger than `lifetime`.
    func fresh(_ id: Int64, lifetime: Duration) -> (survey: Survey, page: ByteBuffer, etag: String)? {
        pages.fresh(id, lifetime: lifetime).map { ($0.survey, $0.page, $0.etag) }
    }

    /// The page for `survey`, rendered by `render` unless a fresh copy of the same survey exists.
    func page(for survey: Survey, lifetime: Duration, render: () throws -> String) rethrows -> (ByteBuffer, String) {
        if let cached = pages.fresh(survey.id, lifetime: lifetime), cached.survey == survey {
            return (cached.page, cached.etag)
        }
        let text = try render()
        let etag = "\"\(ChartKey(material: Array(text.utf8)).shortHex)\""
        let page = ByteBuffer(string: text)
        pages.store(survey.id, Page(survey: survey, page: page, etag: etag), bytes: page.readableBytes)
        return (page, etag)
    }
}

/// Where the chart cache's writers report the API charts they publish; the counter is set once
/// the budget exists (the cache, made first, needs this box already).
final class APIChartPublications: Sendable {
    let counter = Mutex<(@Sendable (String, Int) -> Void)?>(nil)

    /// Runs on the writer's pool thread, where unlinking evicted files may block.
    func published(_ name: String, bytes: Int) { counter.withLock { $0 }?(name, bytes) }
}

/// Reports the listeners once all are bound: the metrics listener first, then the site, so that
/// whoever waits for "listening" knows every address.
final class ListeningReport: Sendable {
    private struct State {
        var site: SocketAddress?
        var metricsBound: Bool
        var reported = false
    }

    private let state: Mutex<State>
    private let onListening: (@Sendable (String, Int) -> Void)?
    private let onMetricsListening: (@Sendable (String, Int) -> Void)?

    init(
        expectsMetrics: Bool, onListening: (@Sendable (String, Int) -> Void)?,
        onMetricsListening: (@Sendable (String, Int) -> Void)?
    ) {
        state = Mutex(State(metricsBound: !expectsMetrics))
        self.onListening = onListening
        self.onMetricsListening = onMetricsListening
    }

    func serving(_ address: SocketAddress?) {
        let report = state.withLock { state -> Bool in
            state.site = address
            guard state.metricsBound, !state.reported else { return false }
            state.reported = true
            return true
        }
        if report { onListening?(address?.ipAddress ?? "?", address?.port ?? 0) }
    }

    func metricsServing(_ address: SocketAddress?) {
        onMetricsListening?(address?.ipAddress ?? "?", address?.port ?? 0)
        let site = state.withLock { state -> SocketAddress?? in
            state.metricsBound = true
            guard let site = state.site, !state.reported else { return nil }
            state.reported = true
            return .some(site)
        }
        if let site { onListening?(site?.ipAddress ?? "?", site?.port ?? 0) }
    }
}

/// The process's open-file limit (`RLIMIT_NOFILE`).
public struct FileDescriptorLimit: Sendable {
    /// The limit in force, and the most it may be raised to.
    public var soft: UInt64, hard: UInt64

    /// The limit now.
    public static func current() -> FileDescriptorLimit {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return FileDescriptorLimit(soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }

    /// Raises the soft limit to the hard one (servers need many descriptors; the default soft
    /// limit of 1,024 is for interactive shells) and returns the result.
    @discardableResult
    public static func raiseToHard() -> FileDescriptorLimit {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return current()
    }
}

/// The request context: Hummingbird's, plus who the client is (for logs and per-client limits).
public struct SurveyRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connected peer's address: the client, or a proxy in front of it.
    public let remoteAddress: SocketAddress?
    /// The client, as `ClientIdentityMiddleware` proved it (the peer until then).
    public var client: ClientIdentity
    /// How `ResponseEncodable` bodies (results.json, JSON errors) are written.
    public var responseEncoder: SurveyJSONEncoder { SurveyJSONEncoder() }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        client = ClientIdentity(
            peer: IPAddress(remoteAddress), headers: [:], proxies: TrustedProxies(), madeRequestID: "-")
    }
}

/// Every JSON body the service sends: sorted keys (stable bytes for caches and diffs), URLs with
/// their slashes as they are, `Content-Type: application/json` and `nosniff`.
public struct SurveyJSONEncoder: ResponseEncoder {
    /// Encodes `value` as a 200 response; callers change the status of errors.
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: .ok, headers: [.contentType: "application/json", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

extension HTTPField.Name {
    static let xAPIKey = Self("X-API-Key")!
}
