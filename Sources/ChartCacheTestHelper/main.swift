import ChartCache
import Foundation

// A process for the ChartCache tests: it asks a shared chart directory for charts with a
// deliberately slow, deterministic renderer, and can die, stop or fail at a chosen moment.
//
//   ChartCacheTestHelper --dir D --name N [--count 1] [--render-ms 0] [--bytes 4096]
//       [--kill-at STAGE|rendering] [--stop-at STAGE] [--fail] [--deadline-ms 10000]
//       [--grace-ms 1000] [--file-size-limit BYTES]
//
// Prints one JSON object: outcomes, renders, errors and the SHA-256 prefix of the bytes.

func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ChartCacheTestHelper: \(message)\n".utf8))
    exit(2)
}

/// The bytes every process renders for a name: deterministic, so callers can compare them.
func chartBytes(name: String, count: Int) -> [UInt8] {
    let seed = Array("\(name)|".utf8)
    return [137, 80, 78, 71, 13, 10, 26, 10] + (0..<max(0, count - 8)).map { seed[$0 % seed.count] &+ UInt8($0 & 0x7) }
}

guard let directory = option("--dir"), let name = option("--name") else { fail("--dir and --name are required") }
let count = Int(option("--count") ?? "1") ?? 1
let renderMilliseconds = Int(option("--render-ms") ?? "0") ?? 0
let byteCount = Int(option("--bytes") ?? "4096") ?? 4096
let killAt = option("--kill-at")
let stopAt = option("--stop-at")
let failRender = CommandLine.arguments.contains("--fail")
let deadline = Int(option("--deadline-ms") ?? "10000") ?? 10000
let grace = Int(option("--grace-ms") ?? "1000") ?? 1000

if let limit = option("--file-size-limit").flatMap(Int.init) {
    // Writes past the limit fail with EFBIG instead of killing the process.
    signal(SIGXFSZ, SIG_IGN)
    var resource = rlimit(rlim_cur: rlim_t(limit), rlim_max: rlim_t(limit))
    setrlimit(Int32(RLIMIT_FSIZE.rawValue), &resource)
}

let configuration = ChartCache.Configuration(
    directory: directory, deadline: .milliseconds(deadline), abandonedGracePeriod: .milliseconds(grace),
    sweepOnStart: false,
    writerStageObserver: { stage, _ in
        // raise, not kill(getpid(), …): a signal sent to the process may be taken by another thread
        // while this one runs on into the next stage (stopped "at created", it held its lock). A
        // signal raised on this thread is delivered before raise returns.
        if stage.rawValue == killAt { raise(SIGKILL) }
        if stage.rawValue == stopAt { raise(SIGSTOP) }
    })
let cache: ChartCache
do { cache = try ChartCache(configuration: configuration) } catch { fail("\(error)") }
let chartName: ChartName
do { chartName = try ChartName(validating: name) } catch { fail("\(error)") }

struct RenderFailure: Error, CustomStringConvertible {
    var description: String { "the test renderer was told to fail" }
}

let outcomes = await withTaskGroup(of: String.self) { group in
    for _ in 0..<count {
        group.addTask {
            do {
                let chart = try await cache.chart(named: chartName) {
                    if killAt == "rendering" {
                        usleep(50_000)
                        kill(getpid(), SIGKILL)
                    }
                    usleep(UInt32(renderMilliseconds) * 1000)
                    if failRender { throw RenderFailure() }
                    return chartBytes(name: name, count: byteCount)
                }
                let expected = chartBytes(name: name, count: byteCount)
                return chart.bytes == expected ? chart.outcome.rawValue : "corrupt"
            } catch let error as ChartCacheError {
                return "error:\(error.code.rawValue)"
            } catch {
                return "error:other"
            }
        }
    }
    var collected: [String] = []
    for await outcome in group { collected.append(outcome) }
    return collected
}

let statistics = cache.statistics
var tally: [String: Int] = [:]
for outcome in outcomes { tally[outcome, default: 0] += 1 }
let report: [String: Any] = [
    "pid": Int(getpid()), "outcomes": tally, "renders": statistics.renders, "fills": statistics.fills,
    "waits": statistics.waits, "takeovers": statistics.takeovers, "failures": statistics.failures,
    "busy": statistics.busy, "hits": statistics.hits,
]
let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
cache.shutdown()
exit(tally.keys.contains { $0.hasPrefix("error") || $0 == "corrupt" } ? 1 : 0)
