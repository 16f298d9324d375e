import Synchronization

/// Keys in least-recently-used order, with every operation O(1): a doubly linked list threaded
/// through a dictionary.
struct LRUOrder<Key: Hashable & Sendable>: Sendable {
    private struct Links: Sendable {
        var older: Key?
        var newer: Key?
    }

    private var links: [Key: Links] = [:]
    /// The least and the most recently used keys.
    private(set) var oldest: Key?, newest: Key?

    var count: Int { links.count }

    func contains(_ key: Key) -> Bool { links[key] != nil }

    /// Makes `key` the most recently used, adding it if new.
    mutating func touch(_ key: Key) {
        if links[key] != nil {
            guard newest != key else { return }
            remove(key)
        }
        links[key] = Links(older: newest, newer: nil)
        if let newest { links[newest]?.newer = key }
        newest = key
        if oldest == nil { oldest = key }
    }

    /// Forgets `key`.
    mutating func remove(_ key: Key) {
        guard let removed = links.removeValue(forKey: key) else { return }
        if let older = removed.older { links[older]?.newer = removed.newer } else { oldest = removed.newer }
        if let newer = removed.newer { links[newer]?.older = removed.older } else { newest = removed.older }
    }

    /// Removes and returns the least recently used key.
    mutating func popOldest() -> Key? {
        guard let key = oldest else { return nil }
        remove(key)
        return key
    }
}

/// Values that may be reused while younger than a lifetime, by key, within a bound on entries
/// and on bytes: beyond either, the least recently used go first. Everything a client can make
/// the server keep in memory (rendered pages by survey or page number) goes through one of these.
final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var value: Value
        var bytes: Int
        var made: ContinuousClock.Instant
    }

    private struct State: Sendable {
        var entries: [Key: Entry] = [:]
        var order = LRUOrder<Key>()
        var bytes = 0
    }

    private let state = Mutex(State())
    /// Most entries, and most bytes (as `store` was told), kept at once.
    let capacity: Int, byteCapacity: Int

    init(capacity: Int, byteCapacity: Int = .max) {
        self.capacity = max(1, capacity)
        self.byteCapacity = max(1, byteCapacity)
    }

    /// The value under `key` if it was stored less than `lifetime` ago. An older one stays (the
    /// bounds still hold it in check) for `held`, and the next `store` replaces it.
    func fresh(_ key: Key, lifetime: Duration) -> Value? {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let entry = state.entries[key], now - entry.made < lifetime else { return nil }
            state.order.touch(key)
            return entry.value
        }
    }

    /// The value under `key`, however old: for serving what is known while its source is away.
    func held(_ key: Key) -> Value? {
        state.withLock { $0.entries[key]?.value }
    }

    /// Keeps `value` under `key`; it weighs `bytes` against the byte bound. Its age counts from
    /// `made`: when what it was made from was read, so a page rendered from a read just before an
    /// edit is not kept a whole lifetime after the edit.
    func store(_ key: Key, _ value: Value, bytes: Int = 0, made: ContinuousClock.Instant = .now) {
        let weight = max(0, bytes)
        state.withLock { state in
            if let old = state.entries[key] { state.bytes -= old.bytes }
            state.entries[key] = Entry(value: value, bytes: weight, made: made)
            state.bytes += weight
            state.order.touch(key)
            while state.entries.count > capacity || state.bytes > byteCapacity,
                let victim = state.order.oldest, victim != key || state.entries.count > 1
            {
                _ = state.order.popOldest()
                if let removed = state.entries.removeValue(forKey: victim) { state.bytes -= removed.bytes }
            }
        }
    }

    /// Entries kept now.
    var count: Int { state.withLock { $0.entries.count } }

    /// Bytes kept now.
    var bytes: Int { state.withLock { $0.bytes } }
}
