import CCairo
import CPNG
import ChartCache
import Foundation
import PieChart

/// Benchmarks that print medians, for scripts/bench-*.sh. Not tests: timings are never asserted.
///
///     surveycharts-bench render SPEC.json [--n 500] [--out chart.png] [--encoder fast|fast-truecolor|libpng --level L --filter F]
///
/// Prints `surveycharts: median M ms/chart, p90 P ms, B bytes, WxH`.

func argument(_ name: String, default fallback: String) -> String {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
    return arguments[index + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("surveycharts-bench: \(message)\n".utf8))
    exit(2)
}

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    sorted[min(sorted.count - 1, Int(fraction * Double(sorted.count)))]
}

func benchRender() {
    guard CommandLine.arguments.count >= 3 else { fail("usage: render SPEC.json [--n 500] [--out chart.png]") }
    let path = CommandLine.arguments[2]
    let count = Int(argument("--n", default: "500")) ?? 500
    let encoder: PieChartRenderer.PNGEncoder
    switch argument("--encoder", default: "fast") {
    case "fast": encoder = .fast
    case "fast-truecolor": encoder = .fastTruecolor
    case "libpng":
        guard let level = Int(argument("--level", default: "9")),
            let filter = PieChartRenderer.RowFilter(rawValue: Int32(argument("--filter", default: "4")) ?? -1)
        else { fail("--level takes 0...9, --filter 0...4") }
        encoder = .libpng(compressionLevel: level, rowFilter: filter)
    default: fail("--encoder takes fast, fast-truecolor or libpng")
    }
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let spec: ChartSpec
    do { spec = try ChartSpec(json: data) } catch { fail("\(path): \(error)") }
    let renderer = PieChartRenderer(options: .init(encoder: encoder))
    var last: RenderedChart
    do {
        last = try renderer.render(spec)  // warm-up: font map, fontconfig caches
        var times: [Double] = []
        times.reserveCapacity(count)
        for _ in 0..<count {
            let start = ContinuousClock.now
            last = try renderer.render(spec)
            let elapsed = ContinuousClock.now - start
            times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
        }
        times.sort()
        if let out = CommandLine.arguments.firstIndex(of: "--out").map({ CommandLine.arguments[$0 + 1] }) {
            guard FileManager.default.createFile(atPath: out, contents: Data(last.png)) else {
                fail("cannot write \(out)")
            }
        }
        print(
            String(
                format: "surveycharts: median %.2f ms/chart, p90 %.2f ms, %d bytes, %dx%d",
                percentile(times, 0.5), percentile(times, 0.9), last.png.count, spec.width, spec.height))
    } catch {
        fail("render failed: \(error)")
    }
}

/// Milliseconds since `start`.
func milliseconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
}

/// `tasks` concurrent gets of `name`; returns each one's wait in milliseconds, sorted.
func stampede(
    _ cache: ChartCache, name: ChartName, tasks: Int, render: @escaping @Sendable () throws -> [UInt8]
) async throws -> [Double] {
    let start = ContinuousClock.now
    return try await withThrowingTaskGroup(of: Double.self) { group in
        for _ in 0..<tasks {
            group.addTask {
                _ = try await cache.chart(named: name, render: render)
                return milliseconds(since: start)
            }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }.sorted()
}

/// `cache DIR`: hit latency and throughput, then a cold stampede of 1,000 gets in this process.
func benchCache() async {
    guard CommandLine.arguments.count >= 3 else { fail("usage: cache DIR") }
    let directory = CommandLine.arguments[2]
    let spec: ChartSpec
    do {
        spec = try ChartSpec(json: Array(FileManager.default.contents(atPath: "bench/tv-new-shows.json") ?? Data()))
    } catch { fail("bench/tv-new-shows.json: \(error)") }
    do {
        let cache = try ChartCache(
            configuration: .init(directory: directory, threadStart: PieChartRenderer.prepareThread))
        defer { cache.shutdown() }
        let renderer = PieChartRenderer()
        let render: @Sendable () throws -> [UInt8] = { try renderer.render(spec).png }
        let hitName = try ChartName(validating: "c-\(ChartKey(material: spec.cacheKeyMaterial).shortHex).png")
        _ = try await cache.chart(named: hitName, render: render)

        // Hits, one at a time: the latency of a request for a published chart.
        var latencies: [Double] = []
        for _ in 0..<5000 {
            let start = ContinuousClock.now
            _ = try await cache.chart(named: hitName, render: render)
            latencies.append(milliseconds(since: start))
        }
        latencies.sort()
        // Hits, 64 tasks at once for 2 seconds: throughput.
        let throughputStart = ContinuousClock.now
        let served = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var count = 0
                    while milliseconds(since: throughputStart) < 2000 {
                        _ = try await cache.chart(named: hitName, render: render)
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let seconds = milliseconds(since: throughputStart) / 1000
        print(
            String(
                format: "cache hits: median %.3f ms, p99 %.3f ms, %.0f hits/s with 64 concurrent tasks",
                percentile(latencies, 0.5), percentile(latencies, 0.99), Double(served) / seconds))

        // Cold stampede: 1,000 concurrent gets of a chart nobody has rendered.
        // One render on a warm pool thread, as the stampede's writer does it (fsync excluded).
        var renderTimes: [Double] = []
        for _ in 0..<21 {
            renderTimes.append(
                try await cache.pool.run {
                    let start = ContinuousClock.now
                    _ = try renderer.render(spec)
                    return milliseconds(since: start)
                })
        }
        let renderMilliseconds = percentile(renderTimes.sorted(), 0.5)
        let coldName = try ChartName(validating: "c-stampede-\(getpid()).png")
        let before = cache.statistics
        let waits = try await stampede(cache, name: coldName, tasks: 1000, render: render)
        let statistics = cache.statistics
        // The same 1,000 tasks on the published chart: the cost of the tasks themselves.
        let hitWaits = try await stampede(cache, name: coldName, tasks: 1000, render: render)
        print(
            String(
                format:
                    "warm stampede, 1000 tasks on the published chart: p50 %.2f ms, p99 %.2f ms (task and hit cost)",
                percentile(hitWaits, 0.5), percentile(hitWaits, 0.99)))
        print(
            String(
                format:
                    "cold stampede, 1000 tasks: renders %d, fills %d, wait p50 %.2f ms (%.1f× render), p99 %.2f ms (%.1f× render), render %.2f ms",
                statistics.renders - before.renders, statistics.fills - before.fills,
                percentile(waits, 0.5), percentile(waits, 0.5) / renderMilliseconds, percentile(waits, 0.99),
                percentile(waits, 0.99) / renderMilliseconds, renderMilliseconds))
    } catch {
        fail("cache benchmark failed: \(error)")
    }
}

/// `stampede-worker DIR NAME COUNT START`: COUNT concurrent gets of NAME, starting at the wall
/// clock time START (so several processes begin together). Prints renders and each wait in ms.
func stampedeWorker() async {
    let arguments = CommandLine.arguments
    guard arguments.count >= 6, let count = Int(arguments[4]), let start = Double(arguments[5]) else {
        fail("usage: stampede-worker DIR NAME COUNT START")
    }
    do {
        let spec = try ChartSpec(json: Array(FileManager.default.contents(atPath: "bench/tv-new-shows.json") ?? Data()))
        let cache = try ChartCache(
            configuration: .init(directory: arguments[2], threadStart: PieChartRenderer.prepareThread))
        defer { cache.shutdown() }
        let renderer = PieChartRenderer()
        usleep(300_000)  // the pool threads prepare their font maps, as in a running server
        let name = try ChartName(validating: arguments[3])
        let delay = start - Date().timeIntervalSince1970
        if delay > 0 { usleep(UInt32(delay * 1e6)) }
        let began = ContinuousClock.now
        let waits = try await withThrowingTaskGroup(of: Double.self) { group in
            for _ in 0..<count {
                group.addTask {
                    _ = try await cache.chart(named: name) { try renderer.render(spec).png }
                    return milliseconds(since: began)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        print(
            "renders \(cache.statistics.renders) waits "
                + waits.map { String(format: "%.3f", $0) }.joined(separator: ","))
    } catch {
        fail("stampede worker failed: \(error)")
    }
}

/// `png-bytes FILE...`: each PNG's size as served, and its size as lossless RGB from the same
/// encoder (decoded with libpng, re-encoded); prints the totals.
func pngBytes() {
    var served = 0
    var truecolor = 0
    for path in CommandLine.arguments.dropFirst(2) {
        guard let surface = cairo_image_surface_create_from_png(path),
            cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS
        else { fail("cannot decode \(path)") }
        defer { cairo_surface_destroy(surface) }
        cairo_surface_flush(surface)
        var bytes: UnsafeMutablePointer<UInt8>?
        var length = 0
        var indexed: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        guard
            surveycharts_png_encode_fast(
                cairo_image_surface_get_data(surface), cairo_image_surface_get_width(surface),
                cairo_image_surface_get_height(surface), cairo_image_surface_get_stride(surface), -1, &bytes, &length,
                &indexed, &message, message.count) == 0
        else { fail("cannot encode \(path)") }
        surveycharts_png_free(bytes)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        served += size
        truecolor += length
    }
    print("png-bytes: \(CommandLine.arguments.count - 2) files, \(served) bytes served, \(truecolor) bytes as RGB")
}

switch CommandLine.arguments.dropFirst().first {
case "png-bytes": pngBytes()
case "render": benchRender()
case "cache": await benchCache()
case "stampede-worker": await stampedeWorker()
default: fail("usage: surveycharts-bench render|cache|stampede-worker ...")
}
