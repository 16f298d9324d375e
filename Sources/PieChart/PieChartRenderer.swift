import CCairo
import CPNG

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A rendered chart: PNG bytes and what went into them.
public struct RenderedChart: Sendable {
    /// The PNG file's bytes.
    public var png: [UInt8]
    /// The layout that was drawn.
    public var layout: ChartLayout
    /// Characters drawn without a glyph (as boxes) because no installed font has them.
    /// Non-zero means a font is missing on this machine.
    public var unknownGlyphs: Int
    /// Pixel size of the PNG.
    public var pixelWidth: Int, pixelHeight: Int
}

/// Draws chart specs into PNG bytes with Cairo, Pango and libpng.
///
/// Safe to use from many threads at once: each thread keeps its own Pango font map, made on its
/// first render. It never touches the disk or the network.
public struct PieChartRenderer: Sendable {
    /// How PNG bytes are produced.
    public enum PNGEncoder: Sendable, Hashable {
        /// Our chart-specialised deflate (runs and repeated rows, dynamic Huffman), several times
        /// faster than zlib, writing an indexed-colour PNG built from the chart's own colours when
        /// they fit in 256 entries: flat areas keep their exact colour, and antialiased edges and
        /// text move by at most `PieChartRenderer.paletteTolerance` per channel. Charts that need
        /// more colours are written as lossless RGB. The default.
        case fast
        /// The same deflate, always lossless 8-bit RGB.
        case fastTruecolor
        /// libpng with zlib at `compressionLevel` (0...9), lossless RGB, for comparisons.
        case libpng(compressionLevel: Int, rowFilter: RowFilter, strategy: ZlibStrategy = .standard)
    }

    /// PNG's row filters, as libpng chooses among them.
    public enum RowFilter: Int32, Sendable, Hashable {
        /// Rows as they are (filter type 0).
        case none = 0
        /// Each byte minus the one a pixel to its left.
        case sub = 1
        /// Each byte minus the one above.
        case up = 2
        /// SUB or UP, whichever libpng finds smaller per row.
        case subOrUp = 3
        /// libpng's adaptive choice among all five filters.
        case adaptive = 4
    }

    /// zlib's compression strategies.
    public enum ZlibStrategy: Int32, Sendable, Hashable {
        /// `Z_DEFAULT_STRATEGY`.
        case standard = 0
        /// `Z_RLE`: matches at distance one only.
        case runLength = 1
        /// `Z_FILTERED`: favours Huffman coding over short matches.
        case filtered = 2
        /// `Z_HUFFMAN_ONLY`: no matches at all.
        case huffmanOnly = 3
    }

    /// How far (per channel, 0...255) an antialiased pixel may move to share a palette entry in
    /// the `.fast` encoder. Flat areas never move.
    public static let paletteTolerance = 8

    /// Tunables that do not change what the chart shows.
    public struct Options: Sendable, Hashable {
        /// The PNG encoder.
        public var encoder: PNGEncoder

        /// Creates options; the defaults are what `make bench-render` measures.
        public init(encoder: PNGEncoder = .fast) {
            self.encoder = encoder
        }
    }

    /// The options in use.
    public var options: Options

    /// Creates a renderer.
    public init(options: Options = Options()) {
        self.options = options
    }

    /// Creates the calling thread's font map and warms its caches by drawing a small chart, so
    /// that the thread's first real chart costs what every later one does. Call it once on each
    /// thread that will render (for example as a pool's thread-start hook).
    public static func prepareThread() {
        let warmUp = try? ChartSpec(
            title: "Warm-up 你好", slices: [.init(label: "A", value: 1), .init(label: "العربية", value: 2)],
            width: 200, height: 150)
        if let warmUp { _ = try? PieChartRenderer().render(warmUp) }
    }

    /// Lays out `spec` with Pango metrics, without drawing.
    /// - Throws: `ChartSpecError` when the legend cannot fit.
    public func layout(_ spec: ChartSpec) throws -> ChartLayout {
        try ChartLayout(spec: spec, measurer: PangoTextMeasurer())
    }

    /// Renders `spec` to PNG bytes.
    /// - Throws: `ChartSpecError` when the legend cannot fit, `ChartRenderError` when Cairo or
    ///   libpng fail.
    public func render(_ spec: ChartSpec) throws -> RenderedChart {
        let state = PangoThreadState.current
        state.beginChart()
        defer { state.endChart() }
        let layout = try layout(spec)
        let pixelWidth = spec.width * spec.scale
        let pixelHeight = spec.height * spec.scale
        guard let surface = state.imageSurface(width: pixelWidth, height: pixelHeight) else {
            throw ChartRenderError("Cairo could not create a \(pixelWidth)×\(pixelHeight) surface")
        }
        defer { if !state.isCached(surface) { cairo_surface_destroy(surface) } }
        let cr = cairo_create(surface)!
        defer { cairo_destroy(cr) }
        cairo_scale(cr, Double(spec.scale), Double(spec.scale))
        var painter = Painter(cr: cr, state: state, layout: layout)
        painter.paint()
        guard cairo_status(cr) == CAIRO_STATUS_SUCCESS else {
            throw ChartRenderError(
                "Cairo failed while drawing: \(String(validatingCString: cairo_status_to_string(cairo_status(cr))) ?? "unknown status")"
            )
        }
        cairo_surface_flush(surface)
        let png = try encodePNG(surface: surface, width: pixelWidth, height: pixelHeight)
        return RenderedChart(
            png: png, layout: layout, unknownGlyphs: painter.unknownGlyphs, pixelWidth: pixelWidth,
            pixelHeight: pixelHeight)
    }

    func encodePNG(surface: OpaquePointer, width: Int, height: Int) throws -> [UInt8] {
        guard let data = cairo_image_surface_get_data(surface) else {
            throw ChartRenderError("Cairo returned no pixel data")
        }
        let stride = cairo_image_surface_get_stride(surface)
        var bytes: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 256)
        var indexed: Int32 = 0
        let status: Int32
        switch options.encoder {
        case .fast, .fastTruecolor:
            let tolerance = options.encoder == .fast ? Int32(Self.paletteTolerance) : -1
            status = surveycharts_png_encode_fast(
                data, Int32(width), Int32(height), stride, tolerance, &bytes, &length, &indexed, &message,
                message.count)
        case .libpng(let level, let filter, let strategy):
            status = surveycharts_png_encode_rgb24(
                data, Int32(width), Int32(height), stride, Int32(level), filter.rawValue, strategy.rawValue, &bytes,
                &length, &message, message.count)
        }
        guard status == 0, let bytes else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ChartRenderError("PNG encoding failed: \(text)")
        }
        defer { surveycharts_png_free(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: length))
    }
}

/// Paints a `ChartLayout` on a Cairo context, at the context's current transform (so a document
/// can place a chart anywhere on its page). Holds no state between charts.
struct Painter {
    let cr: OpaquePointer
    let state: PangoThreadState
    let layout: ChartLayout
    var unknownGlyphs = 0

    var background: RGBColor { layout.theme == .dark ? RGBColor(hex: 0x1E1E1E) : RGBColor(hex: 0xFFFFFF) }
    var foreground: RGBColor { layout.theme == .dark ? RGBColor(hex: 0xF2F2F2) : RGBColor(hex: 0x222222) }
    var muted: RGBColor { layout.theme == .dark ? RGBColor(hex: 0xA0A0A0) : RGBColor(hex: 0x666666) }

    mutating func paint() {
        setColor(background)
        cairo_rectangle(cr, 0, 0, layout.width, layout.height)
        cairo_fill(cr)
        if let title = layout.title { draw(title, color: foreground) }
        if let message = layout.noVotesMessage {
            paintNoVotes()
            draw(message, color: muted)
        } else {
            paintWedges()
        }
        for label in layout.percentLabels {
            if !label.leader.isEmpty {
                setColor(muted)
                cairo_set_line_width(cr, max(0.75, layout.radius / 160))
                cairo_move_to(cr, label.leader[0].x, label.leader[0].y)
                for point in label.leader.dropFirst() { cairo_line_to(cr, point.x, point.y) }
                cairo_stroke(cr)
            }
            if let plate = label.plate, let wedge = layout.wedges.first(where: { $0.sliceIndex == label.sliceIndex }) {
                setColor(wedge.color)
                let corner = min(plate.height, plate.width) * 0.25
                cairo_new_sub_path(cr)
                cairo_arc(cr, plate.maxX - corner, plate.y + corner, corner, -Double.pi / 2, 0)
                cairo_arc(cr, plate.maxX - corner, plate.maxY - corner, corner, 0, Double.pi / 2)
                cairo_arc(cr, plate.x + corner, plate.maxY - corner, corner, Double.pi / 2, Double.pi)
                cairo_arc(cr, plate.x + corner, plate.y + corner, corner, Double.pi, 3 * Double.pi / 2)
                cairo_close_path(cr)
                cairo_fill(cr)
            }
            draw(label.text, color: label.color)
        }
        for entry in layout.legend {
            setColor(entry.color)
            cairo_rectangle(cr, entry.swatch.x, entry.swatch.y, entry.swatch.width, entry.swatch.height)
            if entry.pattern != .solid {
                cairo_fill_preserve(cr)
                paintPattern(entry.pattern, over: entry.color, bounds: entry.swatch, spacing: entry.swatch.width / 3)
            }
            cairo_fill(cr)
            draw(entry.label, color: foreground)
            draw(entry.figures, color: muted)
        }
    }

    func paintNoVotes() {
        setColor(Palette.noVotesRing)
        let ringWidth = layout.radius * 0.16
        cairo_set_line_width(cr, ringWidth)
        cairo_new_sub_path(cr)
        cairo_arc(cr, layout.center.x, layout.center.y, layout.radius - ringWidth / 2, 0, 2 * Double.pi)
        cairo_stroke(cr)
    }

    mutating func paintWedges() {
        if layout.wedges.count == 1 {
            // One slice at 100 %: a full disc, so there is no seam at 12 o'clock.
            let wedge = layout.wedges[0]
            setColor(wedge.color)
            cairo_new_sub_path(cr)
            cairo_arc(cr, wedge.apex.x, wedge.apex.y, layout.radius, 0, 2 * Double.pi)
            cairo_fill(cr)
            return
        }
        let borderWidth = max(1, layout.radius / 110)
        for wedge in layout.wedges {
            wedgePath(wedge)
            setColor(wedge.color)
            cairo_fill_preserve(cr)
            if wedge.pattern != .solid {
                let reach = layout.outerRadius
                let bounds = Rect(
                    x: layout.center.x - reach, y: layout.center.y - reach, width: 2 * reach, height: 2 * reach)
                paintPattern(wedge.pattern, over: wedge.color, bounds: bounds, spacing: max(3, layout.radius / 16))
                wedgePath(wedge)
            }
            // A thin border in the background colour keeps equal-looking neighbours apart.
            setColor(background)
            cairo_set_line_width(cr, borderWidth)
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
            cairo_stroke(cr)
        }
    }

    /// Draws `pattern` inside the current path (which is consumed), in the colour that contrasts
    /// with `color`, half transparent so the colour still reads.
    func paintPattern(_ pattern: SlicePattern, over color: RGBColor, bounds: Rect, spacing: Double) {
        cairo_save(cr)
        cairo_clip(cr)
        let ink = color.contrastingText
        cairo_set_source_rgba(
            cr, Double(ink.red) / 255, Double(ink.green) / 255, Double(ink.blue) / 255, 0.45)
        cairo_set_line_width(cr, spacing * 0.3)
        let (x0, y0, x1, y1) = (bounds.x, bounds.y, bounds.x + bounds.width, bounds.y + bounds.height)
        let size = max(bounds.width, bounds.height)
        var offset = -size
        switch pattern {
        case .solid:
            break
        case .forwardStripes, .backwardStripes:
            while offset <= size {
                if pattern == .forwardStripes {
                    cairo_move_to(cr, x0 + offset, y1)
                    cairo_line_to(cr, x0 + offset + size, y1 - size)
                } else {
                    cairo_move_to(cr, x0 + offset, y0)
                    cairo_line_to(cr, x0 + offset + size, y0 + size)
                }
                offset += spacing
            }
            cairo_stroke(cr)
        case .horizontalStripes:
            var y = y0
            while y <= y1 {
                cairo_move_to(cr, x0, y)
                cairo_line_to(cr, x1, y)
                y += spacing
            }
            cairo_stroke(cr)
        case .verticalStripes:
            var x = x0
            while x <= x1 {
                cairo_move_to(cr, x, y0)
                cairo_line_to(cr, x, y1)
                x += spacing
            }
            cairo_stroke(cr)
        case .dots:
            var y = y0 + spacing / 2
            while y <= y1 {
                var x = x0 + spacing / 2
                while x <= x1 {
                    cairo_new_sub_path(cr)
                    cairo_arc(cr, x, y, spacing * 0.22, 0, 2 * Double.pi)
                    x += spacing
                }
                y += spacing
            }
            cairo_fill(cr)
        }
        cairo_restore(cr)
        cairo_new_path(cr)
    }

    func wedgePath(_ wedge: ChartLayout.Wedge) {
        // Cairo measures angles from 3 o'clock; ours start at 12.
        let quarter = Double.pi / 2
        cairo_new_path(cr)
        cairo_move_to(cr, wedge.apex.x, wedge.apex.y)
        cairo_arc(cr, wedge.apex.x, wedge.apex.y, layout.radius, wedge.startAngle - quarter, wedge.endAngle - quarter)
        cairo_close_path(cr)
    }

    mutating func draw(_ text: PlacedText, color: RGBColor) {
        let pango = state.makeLayout(
            text.text, style: text.style, maxWidth: text.maxWidth, maxLines: text.maxLines, centered: text.centered)
        defer { g_object_unref(UnsafeMutableRawPointer(pango)) }
        var logical = PangoRectangle()
        pango_layout_get_extents(pango, nil, &logical)
        unknownGlyphs += Int(pango_layout_get_unknown_glyphs_count(pango))
        setColor(color)
        // Line up the logical box with the frame, whatever alignment (RTL, centring) Pango chose within its width.
        cairo_move_to(
            cr, text.frame.x - Double(logical.x) / Double(PANGO_SCALE),
            text.frame.y - Double(logical.y) / Double(PANGO_SCALE))
        pango_cairo_show_layout(cr, pango)
    }

    func setColor(_ color: RGBColor) {
        cairo_set_source_rgb(cr, Double(color.red) / 255, Double(color.green) / 255, Double(color.blue) / 255)
    }
}
