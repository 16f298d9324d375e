import CCairo

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The font family list for every chart: DejaVu for Latin, Greek, Cyrillic, Arabic and Hebrew,
/// then a CJK font. Fontconfig falls back further for any other script.
let chartFontFamilies = "DejaVu Sans,WenQuanYi Micro Hei,Noto Sans CJK SC,sans-serif"

/// Pango state owned by one thread: a font map and a context.
///
/// Creating a font map costs milliseconds (fontconfig scans, caches warm up), so each thread
/// makes one, the first time it renders, and keeps it. Pango font maps are not safe to share
/// between threads, so there is exactly one per thread.
final class PangoThreadState {
    let fontMap: OpaquePointer
    let context: OpaquePointer
    private var fonts: [TextStyle: OpaquePointer] = [:]
    /// The last image surface, reused when the next chart has the same pixel size: a new 4 MB
    /// surface per 2x chart cost page faults and zeroing for every chart.
    private var surface: (width: Int, height: Int, pointer: OpaquePointer)?
    /// Layouts made while one chart renders, so that drawing reuses what layout measured instead
    /// of shaping every string twice (shaping was a fifth of a render). Empty between charts.
    private var chartLayouts: [LayoutKey: OpaquePointer] = [:]
    private var keepsChartLayouts = false

    private struct LayoutKey: Hashable {
        var text: String, style: TextStyle, maxWidth: Double?, maxLines: Int, centered: Bool
    }

    private init() {
        fontMap = OpaquePointer(pango_cairo_font_map_new())!
        context = pango_font_map_create_context(UnsafeMutablePointer(fontMap))
        // Unhinted outlines and metrics: text measures the same at every scale and on every
        // machine with the same fonts, so layout and PNG bytes are reproducible.
        let options = cairo_font_options_create()
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        pango_cairo_context_set_font_options(context, options)
        cairo_font_options_destroy(options)
        pango_context_set_round_glyph_positions(context, 0)
    }

    deinit {
        if let surface { cairo_surface_destroy(surface.pointer) }
        endChart()
        for description in fonts.values { pango_font_description_free(description) }
        g_object_unref(UnsafeMutableRawPointer(context))
        g_object_unref(UnsafeMutableRawPointer(fontMap))
    }

    /// An RGB24 surface of this size, reused from the previous chart when possible. The caller
    /// paints every pixel and must not destroy it.
    func imageSurface(width: Int, height: Int) -> OpaquePointer? {
        if let surface, surface.width == width, surface.height == height { return surface.pointer }
        if let surface { cairo_surface_destroy(surface.pointer) }
        surface = nil
        guard let created = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)),
            cairo_surface_status(created) == CAIRO_STATUS_SUCCESS
        else { return nil }
        // Keep one modest surface (up to 2x charts); huge ones are released after use.
        if width * height <= 1600 * 1200 { surface = (width, height, created) }
        return created
    }

    /// Whether `pointer` is the cached surface (so the caller must not destroy it).
    func isCached(_ pointer: OpaquePointer) -> Bool { surface?.pointer == pointer }

    /// A font description for `style`, made once per thread.
    func font(for style: TextStyle) -> OpaquePointer {
        if let existing = fonts[style] { return existing }
        let description = pango_font_description_new()!
        pango_font_description_set_family(description, chartFontFamilies)
        pango_font_description_set_absolute_size(description, style.size * Double(PANGO_SCALE))
        pango_font_description_set_weight(description, style.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL)
        fonts[style] = description
        return description
    }

    /// Starts keeping the layouts `makeLayout` makes, until `endChart`.
    func beginChart() {
        keepsChartLayouts = true
    }

    /// Releases the layouts kept since `beginChart`.
    func endChart() {
        for layout in chartLayouts.values { g_object_unref(UnsafeMutableRawPointer(layout)) }
        chartLayouts.removeAll(keepingCapacity: true)
        keepsChartLayouts = false
    }

    /// A layout of `text` set as the layout engine measured it (between `beginChart` and `endChart`,
    /// the same one each time for the same arguments). The caller unrefs it.
    func makeLayout(
        _ text: String, style: TextStyle, maxWidth: Double?, maxLines: Int, centered: Bool = false
    )
        -> OpaquePointer
    {
        guard keepsChartLayouts else {
            return newLayout(text, style: style, maxWidth: maxWidth, maxLines: maxLines, centered: centered)
        }
        let key = LayoutKey(text: text, style: style, maxWidth: maxWidth, maxLines: maxLines, centered: centered)
        let layout =
            chartLayouts[key]
            ?? {
                let made = newLayout(text, style: style, maxWidth: maxWidth, maxLines: maxLines, centered: centered)
                chartLayouts[key] = made
                return made
            }()
        g_object_ref(UnsafeMutableRawPointer(layout))
        return layout
    }

    private func newLayout(
        _ text: String, style: TextStyle, maxWidth: Double?, maxLines: Int, centered: Bool
    )
        -> OpaquePointer
    {
        let layout = pango_layout_new(context)!
        pango_layout_set_font_description(layout, font(for: style))
        text.withCString { pango_layout_set_text(layout, $0, -1) }
        if let maxWidth {
            pango_layout_set_width(layout, Int32(maxWidth * Double(PANGO_SCALE)))
            pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
            pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
            // A negative height is a line count: wrap onto at most that many lines, then ellipsize.
            pango_layout_set_height(layout, -Int32(maxLines))
            if centered { pango_layout_set_alignment(layout, PANGO_ALIGN_CENTER) }
        } else {
            pango_layout_set_single_paragraph_mode(layout, 1)
        }
        return layout
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<PangoThreadState>.fromOpaque(pointer).release()
        }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    /// The calling thread's state, created on first use and released when the thread exits.
    static var current: PangoThreadState {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<PangoThreadState>.fromOpaque(pointer).takeUnretainedValue()
        }
        let state = PangoThreadState()
        pthread_setspecific(key, Unmanaged.passRetained(state).toOpaque())
        return state
    }
}

/// Measures text with Pango, exactly as the renderer will set it.
///
/// Uses the calling thread's font map; create it on the thread that renders.
public struct PangoTextMeasurer: TextMeasuring {
    /// Creates a measurer for the calling thread.
    public init() {}

    public func measure(_ text: String, style: TextStyle, maxWidth: Double?, maxLines: Int) -> TextExtent {
        let state = PangoThreadState.current
        let layout = state.makeLayout(text, style: style, maxWidth: maxWidth, maxLines: maxLines)
        defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
        var logical = PangoRectangle()
        pango_layout_get_extents(layout, nil, &logical)
        return TextExtent(
            width: Double(logical.width) / Double(PANGO_SCALE), height: Double(logical.height) / Double(PANGO_SCALE),
            lineCount: Int(pango_layout_get_line_count(layout)), isTruncated: pango_layout_is_ellipsized(layout) != 0)
    }

    /// How many characters of `text` have no glyph in the installed fonts (drawn as boxes).
    public func unknownGlyphCount(_ text: String, style: TextStyle = TextStyle(size: 12)) -> Int {
        let layout = PangoThreadState.current.makeLayout(text, style: style, maxWidth: nil, maxLines: 1)
        defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
        return Int(pango_layout_get_unknown_glyphs_count(layout))
    }
}
