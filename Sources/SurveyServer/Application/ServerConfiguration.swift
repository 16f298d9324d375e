import Foundation
import HTTPHardening
import Localization
import Surveys

/// Settings of `surveycharts serve`, one group per area. New settings get defaults, so callers
/// keep compiling. The store is not configured here: the command line opens it and hands it to
/// `buildApplication`.
public struct ServerConfiguration: Sendable {
    /// Where and how connections are taken.
    public var listener = ListenerConfiguration()
    /// Survey days, pages and the demo content.
    public var site = SiteConfiguration()
    /// The chart directory, its cache and the chart API.
    public var charts = ChartConfiguration()
    /// Who may vote how often.
    public var ballots = BallotConfiguration()
    /// Operators' sessions.
    public var admin = AdminConfiguration()
    /// Logs and metrics.
    public var operations = OperationsConfiguration()

    /// Creates the default configuration.
    public init() {}

    /// Today in the service's time zone.
    public var today: CalendarDay { site.today }
}

/// Where and how the site takes connections.
public struct ListenerConfiguration: Sendable {
    /// Where to listen. Port 0 picks a free port (reported through `onListening`).
    public var host = "127.0.0.1", port = 8080
    /// Connections served at once; beyond it, new ones wait in the kernel's backlog. Nil: derived
    /// from the file-descriptor limit (`FileDescriptorLimit.defaultMaximumConnections`).
    public var maximumConnections: Int?
    /// How long a connection may keep the server waiting before it is closed.
    public var timeouts = ConnectionTimeouts()
    /// Largest request body; larger ones get 413.
    public var maximumBodyBytes = 64 * 1024
    /// Most bytes of large files read and not yet taken by clients, across all connections
    /// (`StreamedBytesBudget`); one budget per process.
    public var maximumBufferedBytes = 64 << 20
    /// Reverse proxies whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Request-Id` are
    /// believed: the client address for logs and limits, and `Secure` cookies behind HTTPS.
    public var trustedProxies = TrustedProxies()
    /// Called once listening, with the bound host and port (after the metrics listener's).
    public var onListening: (@Sendable (String, Int) -> Void)?

    /// The defaults above.
    public init() {}

    /// The connection limit in force: `maximumConnections`, never more than the descriptors allow.
    public var connectionLimit: Int { FileDescriptorLimit.connectionLimit(asked: maximumConnections) }
}

/// Survey days, the pages' caches and the demo content.
public struct SiteConfiguration: Sendable {
    /// Files under `/static`.
    public var staticDirectory = "static"
    /// The time zone survey days are counted in.
    public var timeZone = TimeZone(identifier: "UTC")!
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }
    /// Load the demo surveys into a new, empty database.
    public var loadDemo = true
    /// With the demo surveys loaded into a new database that has no operator, create `demo` with
    /// a random password (`SiteSetup.demoOperatorPassword`), so a fresh `make run` can sign in.
    public var createDemoOperator = true
    /// Called with the demo operator's password when this start created it, to show it once.
    public var onDemoOperatorCreated: (@Sendable (String) -> Void)?
    /// How long a rendered page (home lists, a completed survey's results) is reused. A completed
    /// survey's page cannot change; the limit bounds how long an edit made elsewhere lasts.
    public var pageLifetime: Duration = .seconds(5)
    /// The language of a survey imported or created without one, and of pages (the home page,
    /// errors outside a survey) whose reader's `Accept-Language` matches no catalog. One with a catalog.
    public var defaultLanguage: LanguageTag = .english
    /// The site's address as readers reach it (`https://surveys.example.org`, no trailing slash):
    /// share cards, embed snippets and oEmbed need absolute URLs. Nil: pages give relative ones
    /// and no card meta that needs an absolute URL.
    public var publicURL: String?

    /// The defaults above.
    public init() {}

    /// The catalog of `defaultLanguage`.
    public var defaultCatalog: Catalog { Catalogs.catalog(for: defaultLanguage) ?? Catalogs.english }

    /// Today in the service's time zone.
    public var today: CalendarDay { CalendarDay(date: now(), timeZone: timeZone) }
}

/// The chart directory, its cache, pre-rendering and the public chart API.
public struct ChartConfiguration: Sendable {
    /// The chart directory (shared with other processes and `prerender`).
    public var directory = "piecharts"
    /// How long a chart request may wait for a writer before 503.
    public var deadline: Duration = .seconds(10)
    /// Threads for file I/O and rendering.
    public var blockingThreads = max(2, ProcessInfo.processInfo.activeProcessorCount)
    /// Run the pre-render scheduler (off for servers that should only serve).
    public var prerender = true
    /// How often a server that is not the pre-render leader tries to become it.
    public var prerenderLeaderRetry: Duration = .seconds(5)
    /// Bounds on the public chart API.
    public var api = ChartAPILimits()

    /// The defaults above.
    public init() {}
}

/// Who may vote how often.
public struct BallotConfiguration: Sendable {
    /// How many ballots one browser may cast in a survey.
    public var perBrowser = BallotsPerBrowser.one

    /// The defaults above.
    public init() {}
}

/// Operators' sessions.
public struct AdminConfiguration: Sendable {
    /// How long an operator's session lasts without use.
    public var sessionIdle: Duration = .seconds(12 * 3600)

    /// The defaults above.
    public init() {}
}

/// Logs and metrics.
public struct OperationsConfiguration: Sendable {
    /// Write the access log (one line per request, `AccessLog`).
    public var accessLog = true
    /// Where `/metrics` is served, apart from the site (`--metrics-address`); nil serves it nowhere.
    public var metricsAddress: (host: String, port: Int)?
    /// Called once the metrics listener is bound, with its host and port.
    public var onMetricsListening: (@Sendable (String, Int) -> Void)?

    /// The defaults above.
    public init() {}
}
