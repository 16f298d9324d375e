import Foundation
import Testing

@testable import PieChart

/// Every committed reference chart (docs/reference/) matches a fresh render, pixel by pixel: if
/// text, a legend, a colour or a slice changed, this fails. A deliberate change re-renders them
/// with `make update-reference`, in the same commit.
@Suite("Reference charts", .timeLimit(.minutes(2)))
struct ReferenceChartTests {
    static let directory =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/docs/reference"

    @Test(arguments: try ReferenceCharts.all().map(\.name))
    func aFreshRenderMatchesTheCommittedImage(name: String) throws {
        let spec = try #require(try ReferenceCharts.all().first { $0.name == name }?.spec)
        let committed = try DecodedPNG(
            Array(try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/\(name).png"))))
        let fresh = try DecodedPNG(try PieChartRenderer().render(spec).png)
        #expect(fresh.width == committed.width && fresh.height == committed.height)
        guard fresh.width == committed.width && fresh.height == committed.height else { return }
        // Font hinting or antialiasing may move an edge by a shade; a change in content moves many pixels.
        var differing = 0
        for (a, b) in zip(fresh.pixels, committed.pixels) where a != b {
            if Self.largestChannelDifference(a, b) > 24 { differing += 1 }
        }
        let share = Double(differing) / Double(fresh.pixels.count)
        #expect(share < 0.001, "\(name): \(differing) pixels differ; run `make update-reference` if this is deliberate")
    }

    /// The largest difference of the red, green or blue channel of two 0xRRGGBB pixels.
    static func largestChannelDifference(_ a: UInt32, _ b: UInt32) -> Int {
        var largest = 0
        for shift: UInt32 in [16, 8, 0] {
            let first = Int((a >> shift) & 0xFF)
            let second = Int((b >> shift) & 0xFF)
            largest = max(largest, abs(first - second))
        }
        return largest
    }

    @Test func theComparisonNoticesMissingText() throws {
        // The same chart without its title and with shorter labels must not pass as the reference.
        let reference = try DecodedPNG(
            Array(try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/tv-favourite-type.png"))))
        let altered = try ChartSpec(
            title: nil,
            slices: [.init(label: "C", value: 2), .init(label: "D", value: 2), .init(label: "R", value: 1)])
        let fresh = try DecodedPNG(try PieChartRenderer().render(altered).png)
        let differing = zip(fresh.pixels, reference.pixels).filter { $0 != $1 }.count
        #expect(Double(differing) / Double(fresh.pixels.count) > 0.001)
    }
}
