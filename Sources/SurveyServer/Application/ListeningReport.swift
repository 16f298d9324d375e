import NIOCore
import Synchronization

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
