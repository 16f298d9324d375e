import Foundation

/// The sign-in throttle's rule (DESIGN "Operators"), written once for every store: at most
/// `allowed` attempts per key within `window` that did not succeed. An attempt counts from the
/// moment it is reserved, before its password is checked, so a burst that arrives at once cannot
/// run more checks than the limit.
public struct SignInThrottleRule: Sendable, Hashable {
    /// How far back attempts count.
    public var window: TimeInterval
    /// Attempts allowed per key within the window.
    public var allowed: Int

    /// Five attempts in ten minutes, as OWASP's authentication cheat sheet suggests.
    public init(window: TimeInterval = 600, allowed: Int = 5) {
        self.window = window
        self.allowed = max(1, allowed)
    }

    /// Seconds until another attempt is allowed, or nil when one is allowed now.
    ///
    /// - Parameter recent: for each key, the times (seconds since 1970) of its attempts within
    ///   the window, newest first; only the first `allowed` of each matter.
    public func retryAfter(recent: [[Double]], now: Double) -> Int? {
        var wait = 0.0
        for times in recent where times.count >= allowed {
            // The key frees up when the oldest of its newest `allowed` attempts leaves the window.
            let oldestThatCounts = times[allowed - 1]
            wait = max(wait, window - (now - oldestThatCounts))
        }
        guard wait > 0 else { return nil }
        return Int(min(wait, window).rounded(.up))
    }

    /// The earliest attempt time that still counts at `now`.
    public func windowStart(at now: Double) -> Double { now - window }
}

/// What reserving a sign-in attempt gave.
public enum SignInReservation: Sendable, Hashable {
    /// The attempt may check its password; settle it with this id afterwards.
    case reserved(attempt: Int64)
    /// Too many attempts: try again after this many seconds. Nothing was recorded.
    case throttled(retryAfter: Int)
}

/// How a reserved sign-in attempt ended.
public enum SignInOutcome: Sendable, Hashable {
    /// The password matched: the attempt and every earlier failure of `clearing` are forgotten.
    case succeeded(clearing: [String])
    /// The password did not match: the attempt stays, counted as a failure until it leaves the window.
    case failed
    /// The password was never checked (the server was too busy): the attempt is forgotten.
    case notChecked
}
