import HTTPTypes
import Testing

@testable import SurveyServer

@Suite("Client addresses, proxies and request ids", .timeLimit(.minutes(1)))
struct ClientIdentityTests {
    let proxies = TrustedProxies([IPNetwork("10.0.0.0/8")!, IPNetwork("fd00::/8")!, IPNetwork("127.0.0.1")!])

    @Test func addressesAndRanges() {
        #expect(IPAddress("::ffff:1.2.3.4") == IPAddress("1.2.3.4"))
        #expect(IPAddress("2001:DB8::1")?.description == "2001:db8::1")
        #expect(IPAddress("2001:db8:0:1:aaaa:bbbb:cccc:dddd")?.limitKey == "2001:db8:0:1::/64")
        #expect(IPAddress("192.0.2.7")?.limitKey == "192.0.2.7")
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "1.2.3.4:80", "[::1]", "fe80::1%eth0", " 1.2.3.4"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
        #expect(IPNetwork("10.0.0.0/8")?.contains(IPAddress("10.255.0.1")!) == true)
        #expect(IPNetwork("10.0.0.0/8")?.contains(IPAddress("11.0.0.1")!) == false)
        #expect(IPNetwork("10.0.0.0/9")?.contains(IPAddress("10.128.0.1")!) == false)
        #expect(IPNetwork("0.0.0.0/0")?.contains(IPAddress("203.0.113.1")!) == true)
        #expect(IPNetwork("0.0.0.0/0")?.contains(IPAddress("::1")!) == false)
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "x/8"] {
            #expect(IPNetwork(bad) == nil, "\(bad)")
        }
    }

    @Test func theClientIsTheRightMostUntrustedHop() {
        let proxy = IPAddress("10.0.0.2")
        #expect(proxies.client(peer: proxy, forwardedFor: ["198.51.100.1, 10.0.0.3"]) == IPAddress("198.51.100.1"))
        // What the client wrote left of its own address is never believed.
        #expect(proxies.client(peer: proxy, forwardedFor: ["1.1.1.1, 198.51.100.1"]) == IPAddress("198.51.100.1"))
        // Several header lines are one list, in order.
        #expect(proxies.client(peer: proxy, forwardedFor: ["1.1.1.1", "198.51.100.2"]) == IPAddress("198.51.100.2"))
        // A hop that is not an address stops the walk at the last trusted one.
        #expect(proxies.client(peer: proxy, forwardedFor: ["198.51.100.1, junk, 10.0.0.3"]) == IPAddress("10.0.0.3"))
        #expect(proxies.client(peer: proxy, forwardedFor: []) == proxy)
        // From an untrusted peer, the header means nothing.
        #expect(proxies.client(peer: IPAddress("203.0.113.5"), forwardedFor: ["10.0.0.9"]) == IPAddress("203.0.113.5"))
    }

    @Test func schemeAndRequestIDComeOnlyFromTrustedProxies() {
        var headers = HTTPFields()
        headers[.xForwardedProto] = "https"
        headers[.xRequestID] = "abc-123"
        let trusted = ClientIdentity(
            peer: IPAddress("10.0.0.2"), headers: headers, proxies: proxies, madeRequestID: "m")
        #expect(trusted.isHTTPS && trusted.requestID == "abc-123")
        let direct = ClientIdentity(
            peer: IPAddress("203.0.113.5"), headers: headers, proxies: proxies, madeRequestID: "m")
        #expect(!direct.isHTTPS && direct.requestID == "m")
        headers[.xRequestID] = String(repeating: "a", count: 129)
        #expect(
            ClientIdentity(peer: IPAddress("10.0.0.2"), headers: headers, proxies: proxies, madeRequestID: "m")
                .requestID == "m")
        headers[.xRequestID] = "a\"b"
        #expect(
            ClientIdentity(peer: IPAddress("10.0.0.2"), headers: headers, proxies: proxies, madeRequestID: "m")
                .requestID == "m")
    }
}

@Suite("Bounded caches", .timeLimit(.minutes(1)))
struct BoundedCacheTests {
    @Test func theLeastRecentlyUsedGoFirstBeyondEitherBound() {
        let cache = BoundedCache<Int, String>(capacity: 3, byteCapacity: 100)
        cache.store(1, "one", bytes: 10)
        cache.store(2, "two", bytes: 10)
        cache.store(3, "three", bytes: 10)
        #expect(cache.fresh(1, lifetime: .seconds(60)) == "one")  // 1 is now the most recent
        cache.store(4, "four", bytes: 10)
        #expect(cache.count == 3)
        #expect(cache.fresh(2, lifetime: .seconds(60)) == nil)
        #expect(cache.fresh(1, lifetime: .seconds(60)) == "one")
        // Bytes bound: a 90-byte value pushes out all but itself and what fits beside it.
        cache.store(5, "five", bytes: 90)
        #expect(cache.bytes <= 100)
        #expect(cache.fresh(5, lifetime: .seconds(60)) == "five")
        // One value larger than the bound is still kept, alone.
        cache.store(6, "six", bytes: 500)
        #expect(cache.count == 1 && cache.fresh(6, lifetime: .seconds(60)) == "six")
        // Stale entries are not served as fresh, but stay held (within the bounds) until replaced:
        // what a page serves while the database is away.
        #expect(cache.fresh(6, lifetime: .zero) == nil)
        #expect(cache.held(6) == "six" && cache.count == 1)
        cache.store(6, "six again", bytes: 5)
        #expect(cache.fresh(6, lifetime: .seconds(60)) == "six again" && cache.bytes == 5)
    }

    @Test func theOrderIsADoublyLinkedListThatStaysConsistent() {
        var order = LRUOrder<Int>()
        for key in 0..<100 { order.touch(key) }
        for key in stride(from: 0, to: 100, by: 3) { order.touch(key) }
        for key in stride(from: 1, to: 100, by: 7) { order.remove(key) }
        var popped: [Int] = []
        while let key = order.popOldest() { popped.append(key) }
        let removed = Set(stride(from: 1, to: 100, by: 7))
        let expected =
            (0..<100).filter { $0 % 3 != 0 && !removed.contains($0) }
            + stride(from: 0, to: 100, by: 3).filter { !removed.contains($0) }
        #expect(popped == expected)
        #expect(order.count == 0 && order.oldest == nil && order.newest == nil)
    }
}
