import Foundation

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

extension FileDescriptorLimit {
    /// The connection limit for a process allowed `descriptors` open files: a quarter (at least
    /// 64) stays free for chart files, static files and the database.
    public static func defaultMaximumConnections(descriptors: Int) -> Int {
        max(1, descriptors - max(64, descriptors / 4))
    }

    /// The connection limit in force: `asked`, but never more than the descriptors allow. NIO's
    /// accept back-off does not stop the event loop spinning on `accept` once descriptors run out
    /// (measured: 100 % of a core), so the server must stop accepting first.
    public static func connectionLimit(asked: Int?) -> Int {
        let ceiling = defaultMaximumConnections(descriptors: Int(clamping: current().soft))
        return min(asked ?? ceiling, ceiling)
    }
}
