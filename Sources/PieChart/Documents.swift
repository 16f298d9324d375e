import CCairo
import Foundation
import Localization

// Charts as vectors (SVG), as share cards (a 1200×630 PNG with the title and the winner) and in
// reports (PDF pages with tables): the same `ChartLayout`, painted by the same `Painter`, on
// another Cairo surface. Every format is byte-identical for identical input, in every process.

/// Bytes that Cairo streams out (SVG, PDF).
final class CairoByteSink {
    var bytes: [UInt8] = []
}

/// Cairo's write callback, appending to the `CairoByteSink` passed as the closure.
let cairoWriteToSink: cairo_write_func_t = { closure, data, length in
    guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
    let sink = Unmanaged<CairoByteSink>.fromOpaque(closure).takeUnretainedValue()
    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
    return CAIRO_STATUS_SUCCESS
}

extension PieChartRenderer {
    /// Renders `spec` as an SVG document: the PNG's layout drawn by Cairo's SVG surface (text as
    /// glyph outlines, so it needs no fonts to display), with `role="img"`, a `<title>` and the alt
    /// text as `<desc>`. Ids are renumbered per document (Cairo numbers some per process), so the
    /// bytes depend on the spec only.
    /// - Throws: `ChartSpecError` when the legend cannot fit, `ChartRenderError` when Cairo fails.
    public func renderSVG(_ spec: ChartSpec) throws -> [UInt8] {
        let state = PangoThreadState.current
        state.beginChart()
        defer { state.endChart() }
        let layout = try layout(spec)
        let sink = CairoByteSink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        guard
            let surface = cairo_svg_surface_create_for_stream(
                cairoWriteToSink, sinkPointer, Double(spec.width), Double(spec.height))
        else { throw ChartRenderError("Cairo could not create an SVG surface") }
        cairo_svg_surface_restrict_to_version(surface, CAIRO_SVG_VERSION_1_1)
        cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX)
        let cr = cairo_create(surface)!
        var painter = Painter(cr: cr, state: state, layout: layout)
        painter.paint()
        try withExtendedLifetime(sink) {
            try Self.finish(cr: cr, surface: surface, what: "SVG")
        }
        return SVGDocument.accessible(sink.bytes, title: spec.title, description: spec.altText)
    }

    /// Ends drawing on `surface` (destroying `cr` and the surface), throwing Cairo's error if any.
    static func finish(cr: OpaquePointer, surface: OpaquePointer, what: String) throws {
        let drawing = cairo_status(cr)
        cairo_destroy(cr)
        cairo_surface_finish(surface)
        let writing = cairo_surface_status(surface)
        cairo_surface_destroy(surface)
        for status in [drawing, writing] where status != CAIRO_STATUS_SUCCESS {
            throw ChartRenderError(
                "Cairo failed while making the \(what): "
                    + (String(validatingCString: cairo_status_to_string(status)) ?? "unknown status"))
        }
    }
}

/// Escaping for markup (XML, HTML), by Unicode scalar rather than by `Character`: a grapheme
/// cluster can hold a markup character (U+0600 joins the `<` after it, U+0301 the `"` before it),
/// so a check character by character would let `"\u{600}<a …>"` through as a tag.
public enum MarkupText {
    /// `text` safe as element content or a quoted attribute value. For XML (`forXML`), the
    /// control characters and the noncharacters U+FFFE and U+FFFF that XML 1.0 forbids become
    /// spaces; HTML keeps every character as written (a form shows the stored text back).
    public static func escaped(_ text: String, forXML: Bool = false) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result.append(contentsOf: "&amp;".unicodeScalars)
            case "<": result.append(contentsOf: "&lt;".unicodeScalars)
            case ">": result.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": result.append(contentsOf: "&quot;".unicodeScalars)
            case "'": result.append(contentsOf: "&#39;".unicodeScalars)
            case "\n", "\t", "\r": result.append(scalar)
            default:
                let forbidden =
                    forXML
                    && (scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0xFFFE
                        || scalar.value == 0xFFFF)
                result.append(forbidden ? " " : scalar)
            }
        }
        return String(result)
    }
}

/// The finishing of Cairo's SVG: stable ids, and what assistive technology reads.
enum SVGDocument {
    /// `bytes` with ids renumbered in order of appearance, `role="img"`, `<title>` and `<desc>`.
    static func accessible(_ bytes: [UInt8], title: String?, description: String) -> [UInt8] {
        var text = renumbered(String(decoding: bytes, as: UTF8.self))
        guard let open = text.range(of: "<svg"), let close = text[open.upperBound...].firstIndex(of: ">") else {
            return Array(text.utf8)
        }
        let heading = (title?.isEmpty == false ? title : nil) ?? description
        text.insert(contentsOf: " role=\"img\" aria-labelledby=\"chart-title chart-desc\"", at: close)
        let afterTag = text.index(after: text[open.upperBound...].firstIndex(of: ">")!)
        text.insert(
            contentsOf: "\n<title id=\"chart-title\">\(escaped(heading))</title>\n<desc id=\"chart-desc\">"
                + "\(escaped(description))</desc>", at: afterTag)
        return Array(text.utf8)
    }

    /// Every `id` renamed `c1`, `c2`… in order of first appearance, with its references
    /// (`href="#…"`, `url(#…)`).
    ///
    /// A scan of the bytes: the same rules as `id="([^"]+)"` then `(id="|href="#|url\(#)([^")]+)`,
    /// whose Swift `Regex` took an eighth of a pre-render's CPU time.
    static func renumbered(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let id = Array(#"id=""#.utf8), href = Array(##"href="#"##.utf8), url = Array("url(#".utf8)
        func starts(_ prefix: [UInt8], at index: Int) -> Bool {
            index + prefix.count <= bytes.count && bytes[index..<index + prefix.count].elementsEqual(prefix)
        }
        let quote = UInt8(ascii: "\""), parenthesis = UInt8(ascii: ")")
        var names: [[UInt8]: [UInt8]] = [:]
        var index = 0
        while index < bytes.count {
            guard starts(id, at: index) else {
                index += 1
                continue
            }
            let start = index + id.count
            var end = start
            while end < bytes.count, bytes[end] != quote { end += 1 }
            if end > start, end < bytes.count {
                let name = Array(bytes[start..<end])
                if names[name] == nil { names[name] = Array("c\(names.count + 1)".utf8) }
                index = end + 1
            } else {
                index += 1
            }
        }
        guard !names.isEmpty else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        index = 0
        while index < bytes.count {
            guard let prefix = [id, href, url].first(where: { starts($0, at: index) }) else {
                output.append(bytes[index])
                index += 1
                continue
            }
            let start = index + prefix.count
            var end = start
            while end < bytes.count, bytes[end] != quote, bytes[end] != parenthesis { end += 1 }
            guard end > start else {
                output.append(bytes[index])
                index += 1
                continue
            }
            let name = Array(bytes[start..<end])
            output += prefix
            output += names[name] ?? name
            index = end
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// XML character data and attribute values (`MarkupText`).
    static func escaped(_ text: String) -> String { MarkupText.escaped(text, forXML: true) }
}

/// Text set in a box on a document (card, report page): wrapped to the box's width on at most
/// `maxLines` lines, aligned to the document's start side (right in a right-to-left document),
/// whatever the direction of the text itself.
struct DocumentText {
    let state: PangoThreadState
    let rightToLeft: Bool

    enum Side { case start, end, center }

    /// A Pango layout of `text`; the caller unrefs it.
    func layout(_ text: String, style: TextStyle, width: Double, maxLines: Int, side: Side) -> OpaquePointer {
        let layout = pango_layout_new(state.context)!
        pango_layout_set_font_description(layout, state.font(for: style))
        ChartText.singleLine(text).withCString { pango_layout_set_text(layout, $0, -1) }
        pango_layout_set_width(layout, Int32(width * Double(PANGO_SCALE)))
        pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
        pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
        pango_layout_set_height(layout, -Int32(maxLines))
        // With automatic direction Pango swaps left and right for a right-to-left paragraph; ask
        // for the side that lands where this document wants it.
        let paragraphIsRTL = TextDirection.isRightToLeft(text) ?? false
        let wantsRight: Bool
        switch side {
        case .start: wantsRight = rightToLeft
        case .end: wantsRight = !rightToLeft
        case .center: wantsRight = false
        }
        let alignment =
            side == .center ? PANGO_ALIGN_CENTER : (wantsRight != paragraphIsRTL ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT)
        pango_layout_set_alignment(layout, alignment)
        return layout
    }

    /// The height `text` takes in a box of `width`.
    func height(_ text: String, style: TextStyle, width: Double, maxLines: Int) -> Double {
        let layout = layout(text, style: style, width: width, maxLines: maxLines, side: .start)
        defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
        var logical = PangoRectangle()
        pango_layout_get_extents(layout, nil, &logical)
        return Double(logical.height) / Double(PANGO_SCALE)
    }

    /// Draws `text` in the box at (`x`, `y`), `width` wide; returns the height it took.
    @discardableResult
    func draw(
        _ text: String, on cr: OpaquePointer, style: TextStyle, x: Double, y: Double, width: Double, maxLines: Int,
        color: RGBColor, side: Side = .start
    ) -> Double {
        let layout = layout(text, style: style, width: width, maxLines: maxLines, side: side)
        defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
        var logical = PangoRectangle()
        pango_layout_get_extents(layout, nil, &logical)
        cairo_set_source_rgb(cr, Double(color.red) / 255, Double(color.green) / 255, Double(color.blue) / 255)
        cairo_move_to(cr, x, y)
        pango_cairo_show_layout(cr, layout)
        return Double(logical.height) / Double(PANGO_SCALE)
    }

    /// `x` of a box `width` wide whose start edge is `inset` from the start side of a page `pageWidth` wide.
    func x(_ inset: Double, width: Double, pageWidth: Double) -> Double {
        rightToLeft ? pageWidth - inset - width : inset
    }
}

/// A results card for link previews (Open Graph, Twitter): 1200×630, the survey's title, its
/// first question, the winner and the question's chart, in the survey's language.
public struct ShareCard: Sendable, Hashable, Codable {
    /// The survey's title.
    public var title: String
    /// The question the chart shows.
    public var question: String
    /// The winner line ("Winner: Comedy"), already in the survey's language.
    public var highlight: String
    /// A small line at the foot ("SurveyCharts · results").
    public var footer: String
    /// The chart: its slices and locale (its size is the card's chart area).
    public var chart: ChartSpec

    /// The card's size in pixels.
    public static let width = 1200, height = 630
    /// The chart's area on the card, in points.
    static let chartSize = (width: 640, height: 520)

    /// Creates a card; the chart's size is set to the card's chart area.
    public init(title: String, question: String, highlight: String, footer: String, chart: ChartSpec) throws {
        self.title = title
        self.question = question
        self.highlight = highlight
        self.footer = footer
        var sized = chart
        sized.width = Self.chartSize.width
        sized.height = Self.chartSize.height
        sized.scale = 1
        sized.title = nil
        try sized.validate()
        self.chart = sized
    }

    /// The version of the card's drawing code, part of its cache key.
    public static let rendererVersion = "card-1"

    /// The bytes its cache key is computed from.
    public var cacheKeyMaterial: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A card of validated strings and a validated spec always encodes.
        return Array(try! encoder.encode(self)) + Array("\n\(Self.rendererVersion) \(ChartSpec.rendererVersion)".utf8)
    }
}

extension PieChartRenderer {
    /// Renders `card` to a 1200×630 PNG. Right-to-left cards put the text on the right.
    public func render(card: ShareCard) throws -> [UInt8] {
        let state = PangoThreadState.current
        state.beginChart()
        defer { state.endChart() }
        let chartLayout = try layout(card.chart)
        let (width, height) = (Double(ShareCard.width), Double(ShareCard.height))
        guard let surface = state.imageSurface(width: ShareCard.width, height: ShareCard.height) else {
            throw ChartRenderError("Cairo could not create the card's surface")
        }
        defer { if !state.isCached(surface) { cairo_surface_destroy(surface) } }
        let cr = cairo_create(surface)!
        defer { cairo_destroy(cr) }
        let text = DocumentText(state: state, rightToLeft: card.chart.locale.isRightToLeft)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        // A band of the first slice's colour along the start edge.
        let accent = chartLayout.colors.first ?? RGBColor(hex: 0x0072B2)
        cairo_set_source_rgb(cr, Double(accent.red) / 255, Double(accent.green) / 255, Double(accent.blue) / 255)
        cairo_rectangle(cr, text.x(0, width: 16, pageWidth: width), 0, 16, height)
        cairo_fill(cr)
        let column = (inset: 64.0, width: 460.0)
        let columnX = text.x(column.inset, width: column.width, pageWidth: width)
        var y = 72.0
        y += text.draw(
            card.title, on: cr, style: TextStyle(size: 46, bold: true), x: columnX, y: y, width: column.width,
            maxLines: 3, color: RGBColor(hex: 0x1A1A1A))
        y += 28
        y += text.draw(
            card.question, on: cr, style: TextStyle(size: 28), x: columnX, y: y, width: column.width, maxLines: 4,
            color: RGBColor(hex: 0x333333))
        y += 24
        text.draw(
            card.highlight, on: cr, style: TextStyle(size: 28, bold: true), x: columnX, y: y, width: column.width,
            maxLines: 3, color: RGBColor(hex: 0x0B5394))
        text.draw(
            card.footer, on: cr, style: TextStyle(size: 20), x: columnX, y: height - 72, width: column.width,
            maxLines: 1, color: RGBColor(hex: 0x595959))
        // The chart, on the end side.
        cairo_save(cr)
        cairo_translate(
            cr, text.x(width - Double(ShareCard.chartSize.width) - 24, width: chartLayout.width, pageWidth: width),
            (height - chartLayout.height) / 2)
        var painter = Painter(cr: cr, state: state, layout: chartLayout)
        painter.paint()
        cairo_restore(cr)
        guard cairo_status(cr) == CAIRO_STATUS_SUCCESS else {
            throw ChartRenderError("Cairo failed while drawing the card")
        }
        cairo_surface_flush(surface)
        return try encodePNG(surface: surface, width: ShareCard.width, height: ShareCard.height)
    }
}
