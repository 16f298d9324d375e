import CPNG
import Foundation
import Synchronization
import Testing

@testable import PieChart

@Suite("Rendering to PNG", .timeLimit(.minutes(2)))
struct RendererTests {
    let renderer = PieChartRenderer()

    @Test func eachWedgeHasItsColourAtItsMidAngle() throws {
        for spec in [try Fixtures.newShows(), try Fixtures.favouriteType(), try Fixtures.newShows(scale: 2)] {
            let rendered = try renderer.render(spec)
            let image = try DecodedPNG(rendered.png)
            #expect(image.width == spec.width * spec.scale && image.height == spec.height * spec.scale)
            let layout = rendered.layout
            for wedge in layout.wedges {
                // Near the rim, clear of the percentage label and the borders.
                let point = PieAngle.point(center: wedge.apex, radius: layout.radius * 0.93, angle: wedge.midAngle)
                #expect(image.color(at: point, scale: spec.scale) == wedge.color.rgb, "slice \(wedge.sliceIndex)")
            }
            for entry in layout.legend {
                let middle = Point(
                    x: entry.swatch.x + entry.swatch.width / 2, y: entry.swatch.y + entry.swatch.height / 2)
                #expect(image.color(at: middle, scale: spec.scale) == entry.color.rgb)
            }
            #expect(image.color(x: 1, y: 1) == 0xFFFFFF)
        }
    }

    @Test func slicesAreOrderedClockwiseFromTwelve() throws {
        let spec = try Fixtures.newShows()
        let rendered = try renderer.render(spec)
        let image = try DecodedPNG(rendered.png)
        let colors = rendered.layout.colors
        let apex = rendered.layout.wedges[0].apex
        let r = rendered.layout.radius * 0.9
        // Just clockwise of 12 o'clock: slice 0; just anticlockwise: the last slice.
        #expect(image.color(at: PieAngle.point(center: apex, radius: r, angle: 0.2), scale: 1) == colors[0].rgb)
        let lastApex = rendered.layout.wedges[2].apex
        #expect(
            image.color(at: PieAngle.point(center: lastApex, radius: r, angle: 2 * .pi - 0.2), scale: 1)
                == colors[2].rgb)
        // At 3 o'clock (90°), 5/8 of the way round is still slice 0.
        #expect(image.color(at: PieAngle.point(center: apex, radius: r, angle: .pi / 2), scale: 1) == colors[0].rgb)
    }

    @Test func singleSliceIsAFullDiscWithoutASeam() throws {
        let spec = try ChartSpec(slices: [.init(label: "Yes", value: 42), .init(label: "No", value: 0)])
        let rendered = try renderer.render(spec)
        let image = try DecodedPNG(rendered.png)
        let layout = rendered.layout
        let color = layout.wedges[0].color.rgb
        // Walk up the 12 o'clock radius, where a wedge path would leave a border line.
        var y = layout.center.y - layout.radius + 2
        while y < layout.center.y - layout.radius * 0.3 {
            #expect(image.color(at: Point(x: layout.center.x, y: y), scale: 1) == color, "seam at y=\(y)")
            y += 1
        }
    }

    @Test func noVotesDrawsAGreyRing() throws {
        let spec = try ChartSpec(slices: [.init(label: "A", value: 0), .init(label: "B", value: 0)])
        let rendered = try renderer.render(spec)
        let image = try DecodedPNG(rendered.png)
        let layout = rendered.layout
        let ring = layout.radius * (1 - 0.08)
        for angle in stride(from: 0.0, to: 2 * Double.pi, by: 0.5) {
            let point = PieAngle.point(center: layout.center, radius: ring, angle: angle)
            #expect(image.color(at: point, scale: 1) == Palette.noVotesRing.rgb)
        }
        #expect(rendered.unknownGlyphs == 0)
    }

    @Test func sameSpecGivesIdenticalBytes() throws {
        let spec = try Fixtures.newShows()
        #expect(try renderer.render(spec).png == renderer.render(spec).png)
        // And from other threads, each with its own font map.
        let first = try renderer.render(spec).png
        let results = try DispatchQueue.concurrentPerform(producing: 8) { _ in try renderer.render(spec).png }
        #expect(results.allSatisfy { $0 == first })
    }

    @Test func fastTruecolorEncoderAndLibpngGiveIdenticalPixels() throws {
        let renderer = PieChartRenderer(options: .init(encoder: .fastTruecolor))
        var generator = SeededGenerator(seed: 3)
        var compared = 0
        for _ in 0..<12 {
            guard let spec = try? RandomSpecs.spec(using: &generator, maxSlices: 16),
                let fast = try? renderer.render(spec)
            else { continue }
            compared += 1
            let libpng = try PieChartRenderer(
                options: .init(encoder: .libpng(compressionLevel: 6, rowFilter: .adaptive))
            )
            .render(spec)
            #expect(try DecodedPNG(fast.png) == DecodedPNG(libpng.png))
        }
        #expect(compared >= 8, "most random specs must render")
        // Extremes of the fast encoder: one-pixel-high rows, huge runs, wide rows beyond the 32K window.
        for (width, height, scale) in [(100, 100, 1), (4096, 100, 3), (100, 4096, 1)] {
            let spec = try ChartSpec(
                slices: [.init(label: "A", value: 1), .init(label: "B", value: 2)], width: width, height: height,
                scale: scale)
            let fast = try renderer.render(spec)
            let libpng = try PieChartRenderer(options: .init(encoder: .libpng(compressionLevel: 1, rowFilter: .none)))
                .render(spec)
            #expect(try DecodedPNG(fast.png) == DecodedPNG(libpng.png), "\(width)×\(height)@\(scale)")
        }
    }

    @Test func pngHasNoTimestampOrTextChunks() throws {
        let png = try renderer.render(try Fixtures.favouriteType()).png
        #expect(Array(png.prefix(8)) == [137, 80, 78, 71, 13, 10, 26, 10])
        var chunks: [String] = []
        var offset = 8
        while offset + 8 <= png.count {
            let length = png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            chunks.append(String(decoding: png[offset + 4..<offset + 8], as: UTF8.self))
            offset += 12 + length
        }
        #expect(chunks == ["IHDR", "PLTE", "IDAT", "IEND"])
    }

    /// The default encoder's palette PNG against the lossless render of the same chart: a pixel
    /// whose four neighbours share its colour (a flat area) is exact, and every other pixel (edges,
    /// text) is within `paletteTolerance` on each channel.
    @Test func palettePNGKeepsFlatAreasExactAndEdgesClose() throws {
        let truecolorRenderer = PieChartRenderer(options: .init(encoder: .fastTruecolor))
        var specs = [
            try Fixtures.newShows(), try Fixtures.favouriteType(), try Fixtures.newShows(scale: 2),
            try ChartSpec(
                title: "Dark", slices: [.init(label: "A", value: 3), .init(label: "B", value: 1)], theme: .dark),
            try ChartSpec(slices: (1...20).map { .init(label: "Answer \($0)", value: $0) }),
            try ChartSpec(title: "你最喜欢哪种类型的电视节目？", slices: [.init(label: "喜剧", value: 0)]),
        ]
        let fixtureCount = specs.count
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<6 {
            if let spec = try? RandomSpecs.spec(using: &generator, maxSlices: 24) { specs.append(spec) }
        }
        var indexed = 0
        for (number, spec) in specs.enumerated() {
            guard let palette = try? renderer.render(spec).png else { continue }
            let truecolor = try truecolorRenderer.render(spec).png
            let exact = try DecodedPNG(truecolor)
            let approximate = try DecodedPNG(palette)
            try #require(exact.width == approximate.width && exact.height == approximate.height)
            guard palette[25] == 3 else {
                // More colours than a palette holds: the lossless RGB file, byte for byte.
                #expect(palette == truecolor, "spec \(number)")
                continue
            }
            indexed += 1
            #expect(palette.count < truecolor.count, "spec \(number)")
            var flatPixels = 0, flatChanged = 0, edgesTooFar = 0, largest: UInt32 = 0
            for y in 0..<exact.height {
                for x in 0..<exact.width {
                    let wanted = exact.color(x: x, y: y), got = approximate.color(x: x, y: y)
                    let flat =
                        x > 0 && y > 0 && x + 1 < exact.width && y + 1 < exact.height
                        && exact.color(x: x - 1, y: y) == wanted && exact.color(x: x + 1, y: y) == wanted
                        && exact.color(x: x, y: y - 1) == wanted && exact.color(x: x, y: y + 1) == wanted
                    if flat {
                        flatPixels += 1
                        if got != wanted { flatChanged += 1 }
                        continue
                    }
                    let difference = [16, 8, 0].map { shift in
                        let (a, b) = (wanted >> UInt32(shift) & 0xFF, got >> UInt32(shift) & 0xFF)
                        return a > b ? a - b : b - a
                    }.max()!
                    largest = max(largest, difference)
                    if difference > UInt32(PieChartRenderer.paletteTolerance) { edgesTooFar += 1 }
                }
            }
            #expect(flatPixels > exact.width * exact.height / 2, "spec \(number): a chart is mostly flat areas")
            #expect(flatChanged == 0, "spec \(number): \(flatChanged) of \(flatPixels) flat pixels changed")
            #expect(
                edgesTooFar == 0, "spec \(number): \(edgesTooFar) edge pixels beyond the tolerance (largest \(largest))"
            )
        }
        #expect(indexed >= fixtureCount, "the fixtures' charts all fit a palette (\(indexed) of \(specs.count) did)")
    }

    @Test func imagesWithMoreColoursThanAPaletteStayLosslessRGB() throws {
        // 64×64 distinct colours in flat 4×4 blocks, then a gradient of 4,096 single pixels.
        for blockSize in [4, 1] {
            let side = 64 * blockSize
            var pixels = [UInt32](repeating: 0, count: side * side)
            for y in 0..<side {
                for x in 0..<side {
                    let (bx, by) = (x / blockSize, y / blockSize)
                    pixels[y * side + x] = UInt32(bx * 4) << 16 | UInt32(by * 4) << 8 | UInt32((bx + by) % 256)
                }
            }
            var bytes: UnsafeMutablePointer<UInt8>?
            var length = 0
            var indexed: Int32 = -1
            var message = [CChar](repeating: 0, count: 256)
            let status = pixels.withUnsafeBytes { raw in
                surveycharts_png_encode_fast(
                    raw.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(side), Int32(side), Int32(side * 4),
                    Int32(PieChartRenderer.paletteTolerance), &bytes, &length, &indexed, &message, message.count)
            }
            try #require(
                status == 0,
                "\(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
            defer { surveycharts_png_free(bytes) }
            let png = Array(UnsafeBufferPointer(start: bytes, count: length))
            #expect(indexed == 0 && png[25] == 2, "block size \(blockSize)")
            #expect(try DecodedPNG(png).pixels == pixels, "block size \(blockSize)")
        }
    }

    @Test func chineseArabicAndHebrewHaveGlyphs() throws {
        let measurer = PangoTextMeasurer()
        for text in ["你最喜欢哪种类型的电视节目？", "喜剧 电视剧 真人秀", "العربية", "עברית"] {
            #expect(measurer.unknownGlyphCount(text) == 0, "\(text)")
        }
        // A private-use character has no glyph anywhere: the count really detects missing fonts.
        #expect(measurer.unknownGlyphCount("\u{E000}") > 0)
        let spec = try ChartSpec(
            title: "你最喜欢哪种类型的电视节目？",
            slices: [.init(label: "喜剧", value: 3), .init(label: "真人秀", value: 1), .init(label: "עברית", value: 1)])
        #expect(try renderer.render(spec).unknownGlyphs == 0)
    }

    @Test func hiDPIDoublesPixelsNotLayout() throws {
        let one = try renderer.render(try Fixtures.newShows(scale: 1))
        let two = try renderer.render(try Fixtures.newShows(scale: 2))
        #expect(two.pixelWidth == 1280 && two.pixelHeight == 800)
        #expect(one.layout.radius == two.layout.radius)
        #expect(one.layout.legend.map(\.label.frame) == two.layout.legend.map(\.label.frame))
    }

    @Test func darkThemePaintsADarkBackground() throws {
        let spec = try ChartSpec(slices: [.init(label: "A", value: 1)], theme: .dark)
        let image = try DecodedPNG(try renderer.render(spec).png)
        #expect(image.color(x: 1, y: 1) == 0x1E1E1E)
    }
}

extension DispatchQueue {
    static func concurrentPerform<T: Sendable>(producing count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T]
    {
        let results = Mutex<[Int: Result<T, Error>]>([:])
        concurrentPerform(iterations: count) { index in
            let result = Result { try body(index) }
            results.withLock { $0[index] = result }
        }
        let snapshot = results.withLock { $0 }
        return try (0..<count).map { try snapshot[$0]!.get() }
    }
}
