import ChartCache
import ContentEncoding
import Foundation
import HTTPHardening
import Hummingbird
import HummingbirdCore
import Logging
import PieChart
import ServerLogging
import ServiceLifecycle
import StaticFiles
import SurveyCharts
import Surveys

/// The composition root: makes every part of the service once, wires them, and returns the
/// application to run. The store comes opened (the command line picks SQLite or PostgreSQL). The
/// directories are checked before anything is written to the store (`SiteSetup.prepare`), so a
/// start that fails leaves the store as it was.
///
/// - Parameter storeName: the store as logs may name it (a PostgreSQL URL without its password).
/// - Parameter services: more services to run beside the site, stopped after it.
/// - Throws: `StartupError`, one line that says what to fix.
public func buildApplication(
    configuration: ServerConfiguration, store: any SurveyStore, storeName: String, services: [any Service] = [],
    logger: Logger = Logger(label: "surveycharts")
) async throws -> some ApplicationProtocol {
    let metrics = ServerMetrics()
    // The one pool for blocking work (charts, static files, the scheduler's lock); each thread
    // gets its font map before its first job. Password hashing has threads of its own.
    let pool = BlockingThreadPool(
        threadCount: configuration.charts.blockingThreads, name: "blocking",
        threadStart: PieChartRenderer.prepareThread)
    let passwordChecks = PasswordChecks()
    let owned = OwnedThreads(pool: pool, passwordChecks: passwordChecks)
    let apiCharts = APICharts(
        directory: configuration.charts.directory, maximumBytes: configuration.charts.api.cacheMaximumBytes,
        logger: logger)
    let cache: ChartCache
    let staticFiles: StaticFileStore
    let charts: StaticFileStore
    do {
        var cacheConfiguration = ChartCache.Configuration(
            directory: configuration.charts.directory, deadline: configuration.charts.deadline)
        cacheConfiguration.pool = pool
        cacheConfiguration.renderTimeObserver = { metrics.chartRendered(in: $0) }
        cacheConfiguration.publishObserver = { name, bytes in apiCharts.published(name, bytes: bytes) }
        cache = try ChartCache(configuration: cacheConfiguration)
        charts = try StaticFileStore(
            root: configuration.charts.directory, pool: pool, contentAddressed: true,
            cacheControl: StaticFileMiddleware<SurveyRequestContext>.immutable)
    } catch {
        owned.shutDown()
        throw StartupError((error as? ChartCacheError)?.message ?? "\(error)")
    }
    do {
        staticFiles = try StaticFileStore(
            root: configuration.site.staticDirectory, pool: pool, contentAddressed: false,
            cacheControl: "public, max-age=300")
    } catch {
        owned.shutDown()
        throw StartupError(
            "the static directory \(configuration.site.staticDirectory) cannot be served (\(error)); pass --static-dir "
                + "with the project's static/ folder")
    }
    let setup: SiteSetup
    do {
        setup = try await SiteSetup.prepare(store, configuration: configuration, storeName: storeName, logger: logger)
    } catch {
        owned.shutDown()
        throw error
    }
    if let password = setup.demoOperatorPassword { configuration.site.onDemoOperatorCreated?(password) }
    StreamedBytesBudget.limit.store(configuration.listener.maximumBufferedBytes, ordering: .relaxed)
    logger.info("connection timeouts: \(configuration.listener.timeouts)")
    logger.info("large files: at most \(configuration.listener.maximumBufferedBytes) bytes buffered for slow clients")
    apiCharts.serve(from: charts)
    let site = configuration.site
    let chartFiles = SurveyChartFiles(
        store: store, cache: cache, renderer: PieChartRenderer(), today: { site.today })
    let pages = Pages.standard
    let pageCaches = PageCaches()
    let ballotIntegrity = BallotIntegrity(secret: setup.secret, policy: configuration.ballots.perBrowser)
    var schedule = PrerenderScheduler.Configuration(
        chartsDirectory: configuration.charts.directory, timeZone: site.timeZone)
    schedule.leaderRetry = configuration.charts.prerenderLeaderRetry
    let scheduler = PrerenderScheduler(
        configuration: schedule, store: store, cache: cache, clock: SystemSchedulerClock(current: site.now),
        logger: logger)
    let maximumBodyBytes = configuration.listener.maximumBodyBytes
    let readiness = Readiness(store: store)
    let operations = OperationsRoutes(
        metrics: metrics, cache: cache, scheduler: scheduler, pageCaches: pageCaches, readiness: readiness)

    let router = Router(context: SurveyRequestContext.self, options: .autoGenerateHeadEndpoints)
    let routeMethods = RouteMethods()
    router.add(middleware: ClientIdentityMiddleware(proxies: configuration.listener.trustedProxies))
    router.add(middleware: MetricsMiddleware(metrics: metrics))
    if configuration.operations.accessLog { router.add(middleware: AccessLogMiddleware(log: AccessLog())) }
    // Inside the access log (which logs the bytes sent), outside the error pages (which it compresses).
    router.add(middleware: ResponseCompressionMiddleware())
    router.add(
        middleware: ErrorPagesMiddleware(
            routes: routeMethods, maximumBodyBytes: maximumBodyBytes, fallback: configuration.site.defaultCatalog))
    router.add(
        middleware: StaticFileMiddleware(mounts: [
            StaticMount("/static", source: staticFiles),
            StaticMount(
                "/piecharts",
                source: ChartFileSource(chartFiles: chartFiles, charts: charts, apiCharts: apiCharts, pool: pool)),
        ]))
    SurveyPageRoutes(
        store: store, site: site, pages: pages, ballotIntegrity: ballotIntegrity, caches: pageCaches, pool: pool
    )
    .addRoutes(to: router)
    BallotRoutes(
        store: store, pages: pages, ballotIntegrity: ballotIntegrity, maximumBodyBytes: maximumBodyBytes, site: site,
        logger: logger
    ).addRoutes(to: router)
    ChartAPIRoutes(
        limits: configuration.charts.api, chartFiles: chartFiles, charts: charts, apiCharts: apiCharts, pool: pool,
        maximumBodyBytes: maximumBodyBytes, deadline: configuration.charts.deadline
    ).addRoutes(to: router)
    operations.addRoutes(to: router)
    AdminRoutes(
        store: store, pages: pages,
        authentication: AdminAuthentication(
            store: store, passwords: passwordChecks, logger: logger, idleLimit: configuration.admin.sessionIdle,
            secret: setup.secret),
        site: site, maximumBodyBytes: maximumBodyBytes, cache: cache, chartFiles: chartFiles, logger: logger
    ).addRoutes(to: router)
    SharingRoutes(store: store, site: site, chartFiles: chartFiles, pool: pool).addRoutes(to: router)
    // Other methods on a known path get 405 with `Allow`, from the routes as added (HEAD is
    // answered wherever GET is, and `Allow` names it last).
    for route in router.routes where route.method != .head {
        routeMethods.record(route.path.components.map(\.routeMethodsSegment).joined(separator: "/"), route.method)
    }

    // Stopped in reverse order: the site first (finishing the requests under way), the threads last.
    let listening = ListeningReport(
        expectsMetrics: configuration.operations.metricsAddress != nil,
        onListening: configuration.listener.onListening,
        onMetricsListening: configuration.operations.onMetricsListening)
    var allServices: [any Service] = [owned] + services
    if configuration.charts.prerender { allServices.append(scheduler) }
    if let (host, port) = configuration.operations.metricsAddress {
        allServices.append(operations.metricsApplication(host: host, port: port, listening: listening, logger: logger))
    }
    let listener = configuration.listener
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    RequestHeadRulesHandler.Installer(maximumBodyBytes: maximumBodyBytes),
                    ConnectionDeadlinesHandler(timeouts: listener.timeouts) { metrics.connectionTimedOut($0.rawValue) },
                ])),
        configuration: .init(
            address: .hostname(listener.host, port: listener.port), serverName: "SurveyCharts",
            availableConnectionsDelegate: MaximumAvailableConnections(listener.connectionLimit, logger: logger)),
        services: allServices,
        onServerRunning: { channel in
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

/// The threads the application owns, as a service that ends them once everything else has
/// stopped (it is the first service, so the last one stopped).
struct OwnedThreads: Service {
    let pool: BlockingThreadPool
    let passwordChecks: PasswordChecks

    func run() async throws {
        try? await gracefulShutdown()
        shutDown()
    }

    func shutDown() {
        pool.shutdown()
        passwordChecks.shutdown()
    }
}

extension RouterPath.Element {
    /// The element as `RouteMethods` matches it: a parameter as `:name`, a literal as itself.
    fileprivate var routeMethodsSegment: String {
        let text = description
        guard text.hasPrefix("{"), text.hasSuffix("}") else { return text }
        return ":" + text.dropFirst().dropLast()
    }
}
