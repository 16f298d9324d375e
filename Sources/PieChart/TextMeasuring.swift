/// How a piece of chart text is set.
public struct TextStyle: Sendable, Hashable {
    /// Font size in points.
    public var size: Double
    /// Bold or regular.
    public var bold: Bool

    /// Creates a style.
    public init(size: Double, bold: Bool = false) {
        self.size = size
        self.bold = bold
    }
}

/// The measured extent of a laid-out text.
public struct TextExtent: Sendable, Hashable {
    /// Logical width and height, in points.
    public var width: Double, height: Double
    /// Lines after wrapping.
    public var lineCount: Int
    /// Whether the text did not fit its lines and ends in an ellipsis.
    public var isTruncated: Bool

    /// Creates an extent.
    public init(width: Double, height: Double, lineCount: Int, isTruncated: Bool = false) {
        self.width = width
        self.height = height
        self.lineCount = lineCount
        self.isTruncated = isTruncated
    }
}

/// Measures text the way the renderer will draw it.
///
/// This is the seam that keeps layout pure: the Pango measurer is used for real charts, and
/// tests can pass a simple deterministic one to check layout rules without fonts.
public protocol TextMeasuring {
    /// Measures `text` wrapped to `maxWidth` points (no wrapping when nil), on at most
    /// `maxLines` lines, the last one ending in an ellipsis when the text is longer.
    func measure(_ text: String, style: TextStyle, maxWidth: Double?, maxLines: Int) -> TextExtent
}

/// One piece of text placed on the chart, with everything needed to draw it again identically.
public struct PlacedText: Sendable, Hashable {
    /// The text.
    public var text: String
    /// Font size and weight.
    public var style: TextStyle
    /// Wrap width, or nil for one unwrapped line.
    public var maxWidth: Double?
    /// Most lines; longer text ends with an ellipsis.
    public var maxLines: Int
    /// The box the text occupies (top-left origin and measured size).
    public var frame: Rect
    /// Centre the text inside `maxWidth` rather than starting at the left.
    public var centered: Bool

    /// Creates a placed text.
    public init(text: String, style: TextStyle, maxWidth: Double?, maxLines: Int, frame: Rect, centered: Bool = false) {
        self.text = text
        self.style = style
        self.maxWidth = maxWidth
        self.maxLines = maxLines
        self.frame = frame
        self.centered = centered
    }
}
