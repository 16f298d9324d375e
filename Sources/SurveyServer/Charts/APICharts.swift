import ChartCache
import Foundation
import Logging
import StaticFiles
import SurveyCharts
import Synchronization

/// The API charts (`c-…png`) kept in the chart directory: every use is counted, and the least
/// recently used are removed while they take more than their budget (`APIChartBudget`).
///
/// Uses come from two places: the cache's writer publishing a chart, on its pool thread (so a
/// render that outlives its request is counted too), and a request that served one found on disk.
final class APICharts: Sendable {
    private let budget: APIChartBudget
    private let directory: String
    /// The memory copies of removed charts are forgotten too; set once the chart store exists (the
    /// cache, made first, publishes through this object).
    private let charts = Mutex<StaticFileStore?>(nil)
    private let logger: Logger

    init(directory: String, maximumBytes: Int, logger: Logger) {
        budget = APIChartBudget(directory: directory, maximumBytes: maximumBytes)
        self.directory = directory
        self.logger = logger
    }

    /// The store whose memory copies go with removed files.
    func serve(from store: StaticFileStore) { charts.withLock { $0 = store } }

    /// What the cache's writer reports on publishing `name`: counted when it is an API chart.
    /// Runs on the writer's pool thread, where unlinking may block.
    func published(_ name: ChartName, bytes: Int) {
        guard APIChartNames.isAPIChart(name.fileName) else { return }
        remove(budget.use(name.fileName, bytes: bytes))
        if budget.isDueForRescan {
            remove(budget.reconcile(with: APIChartBudget.scan(directory)))
        }
    }

    /// A request used API chart `name` found on disk; removals run on `pool`.
    func used(_ name: String, bytes: Int, pool: BlockingThreadPool) async {
        let evicted = budget.use(name, bytes: bytes)
        guard !evicted.isEmpty else { return }
        _ = try? await pool.run { [self] in remove(evicted) }
    }

    private func remove(_ victims: [String]) {
        guard !victims.isEmpty else { return }
        let store = charts.withLock { $0 }
        for victim in victims {
            unlink(directory + "/" + victim)
            store?.forget([victim])
        }
        logger.debug("removed \(victims.count) least recently used API charts")
    }
}
