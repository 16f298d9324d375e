import Foundation
import PieChart

/// Benchmarks that print medians, for scripts/bench-*.sh. Not tests: timings are never asserted.
///
///     surveycharts-bench render SPEC.json [--n 500] [--out chart.png] [--encoder fast|libpng --level L --filter F]
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
    let encoder: PieChartRenderer.PNGEncoder =
        argument("--encoder", default: "fast") == "fast"
        ? .fast
        : .libpng(
            compressionLevel: Int(argument("--level", default: "1")) ?? 1,
            rowFilter: Int(argument("--filter", default: "0")) ?? 0)
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
            FileManager.default.createFile(atPath: out, contents: Data(last.png))
        }
        print(
            String(
                format: "surveycharts: median %.2f ms/chart, p90 %.2f ms, %d bytes, %dx%d",
                percentile(times, 0.5), percentile(times, 0.9), last.png.count, spec.width, spec.height))
    } catch {
        fail("render failed: \(error)")
    }
}

switch CommandLine.arguments.dropFirst().first {
case "render": benchRender()
default: fail("usage: surveycharts-bench render|cache ...")
}
