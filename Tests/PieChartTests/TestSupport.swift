import CCairo
import Foundation
import Testing

@testable import PieChart

/// A deterministic text measurer for layout tests: every character is 0.6 em wide, lines are
/// 1.2 em high, wrapping breaks at spaces (or anywhere in a long word), like Pango's WORD_CHAR.
struct MonospaceMeasurer: TextMeasuring {
    func measure(_ text: String, style: TextStyle, maxWidth: Double?, maxLines: Int) -> TextExtent {
        let advance = style.size * 0.6
        let lineHeight = style.size * 1.2
        guard let maxWidth else {
            return TextExtent(width: Double(text.count) * advance, height: lineHeight, lineCount: 1)
        }
        let perLine = max(1, Int(maxWidth / advance))
        var lines: [Int] = []
        var current = 0
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            var length = word.count
            let needed = current == 0 ? length : current + 1 + length
            if needed <= perLine {
                current = needed
                continue
            }
            if current > 0 { lines.append(current) }
            current = 0
            while length > perLine {
                lines.append(perLine)
                length -= perLine
            }
            current = length
        }
        lines.append(current)
        let shown = Array(lines.prefix(maxLines))
        let width = Double(shown.max() ?? 0) * advance
        return TextExtent(width: min(width, maxWidth), height: Double(shown.count) * lineHeight, lineCount: shown.count)
    }
}

/// A small, seedable generator so property tests are reproducible (the seed is in the failure message).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum RandomSpecs {
    static let words = [
        "Comedy", "Drama", "Reality", "news", "I", "watch", "too", "much", "TV", "Hardly", "any", "documentaries",
        "喜剧", "电视剧", "真人秀", "العربية", "עברית", "supercalifragilisticexpialidocious", "3-5", "!",
    ]

    static func label(using generator: inout SeededGenerator) -> String {
        let count = Int.random(in: 1...(Bool.random(using: &generator) ? 3 : 40), using: &generator)
        let text = (0..<count).map { _ in words.randomElement(using: &generator)! }.joined(separator: " ")
        return String(text.prefix(300))
    }

    static func value(using generator: inout SeededGenerator) -> Int {
        switch Int.random(in: 0..<10, using: &generator) {
        case 0...2: return 0
        case 3...5: return Int.random(in: 1...3, using: &generator)
        case 6...8: return Int.random(in: 1...1000, using: &generator)
        default: return Int.random(in: 1...1_000_000_000, using: &generator)
        }
    }

    static func spec(using generator: inout SeededGenerator, maxSlices: Int = 64) throws -> ChartSpec {
        let count = Int.random(in: 1...maxSlices, using: &generator)
        let slices = (0..<count).map { _ in
            ChartSpec.Slice(label: label(using: &generator), value: value(using: &generator))
        }
        return try ChartSpec(
            title: Bool.random(using: &generator) ? label(using: &generator) : nil, slices: slices,
            width: Int.random(in: 100...1600, using: &generator), height: Int.random(in: 100...1200, using: &generator))
    }
}

/// A PNG decoded with Cairo's PNG reader (libpng), for pixel tests.
struct DecodedPNG {
    let width: Int
    let height: Int
    /// Every pixel as 0xRRGGBB, row by row.
    let pixels: [UInt32]

    init(_ bytes: [UInt8]) throws {
        final class Reader {
            let bytes: [UInt8]
            var offset = 0
            init(_ bytes: [UInt8]) { self.bytes = bytes }
        }
        let reader = Reader(bytes)
        let context = Unmanaged.passRetained(reader).toOpaque()
        defer { Unmanaged<Reader>.fromOpaque(context).release() }
        let surface = cairo_image_surface_create_from_png_stream(
            { closure, data, length in
                let reader = Unmanaged<Reader>.fromOpaque(closure!).takeUnretainedValue()
                guard reader.offset + Int(length) <= reader.bytes.count else { return CAIRO_STATUS_READ_ERROR }
                reader.bytes.withUnsafeBufferPointer { buffer in
                    data!.update(from: buffer.baseAddress! + reader.offset, count: Int(length))
                }
                reader.offset += Int(length)
                return CAIRO_STATUS_SUCCESS
            }, context)!
        defer { cairo_surface_destroy(surface) }
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw DecodeError(message: "Cairo could not decode the PNG: status \(cairo_surface_status(surface))")
        }
        width = Int(cairo_image_surface_get_width(surface))
        height = Int(cairo_image_surface_get_height(surface))
        let stride = Int(cairo_image_surface_get_stride(surface))
        let data = cairo_image_surface_get_data(surface)!
        var pixels: [UInt32] = []
        pixels.reserveCapacity(width * height)
        for y in 0..<height {
            let row = UnsafeRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<width { pixels.append(row[x] & 0x00FF_FFFF) }
        }
        self.pixels = pixels
    }

    struct DecodeError: Error { var message: String }

    /// The colour at a pixel, as 0xRRGGBB.
    func color(x: Int, y: Int) -> UInt32 { pixels[y * width + x] }

    /// The colour at a point in chart coordinates (points), for a chart drawn at `scale`.
    func color(at point: Point, scale: Int) -> UInt32 {
        color(x: Int(point.x * Double(scale)), y: Int(point.y * Double(scale)))
    }

    static func == (lhs: DecodedPNG, rhs: DecodedPNG) -> Bool {
        lhs.width == rhs.width && lhs.height == rhs.height && lhs.pixels == rhs.pixels
    }
}

extension RGBColor {
    var rgb: UInt32 { UInt32(red) << 16 | UInt32(green) << 8 | UInt32(blue) }
}

enum Fixtures {
    /// The seed's second Television Trends question: 5, 1, 2 votes (the origin showed 62 + 12 + 25 = 99 %).
    static func newShows(width: Int = 640, height: Int = 400, scale: Int = 1) throws -> ChartSpec {
        try ChartSpec(
            title: "How many new shows will you try this Fall?",
            slices: [
                .init(label: "Hardly any: I already watch too much TV!", value: 5),
                .init(label: "Maybe 3-5", value: 1),
                .init(label: "I'm a TV fiend, I'll try them all at least once!", value: 2),
            ], width: width, height: height, scale: scale)
    }

    static func favouriteType() throws -> ChartSpec {
        try ChartSpec(
            title: "What is your favorite type of TV show?",
            slices: [
                .init(label: "Comedy", value: 2), .init(label: "Drama", value: 2), .init(label: "Reality", value: 1),
            ])
    }
}
