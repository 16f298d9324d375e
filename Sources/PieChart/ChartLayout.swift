import Localization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where every part of a chart goes, computed without drawing anything.
///
/// Layout is pure: given a spec and a `TextMeasuring`, it decides the pie's geometry, the shown
/// percentages, where each percentage label sits (inside its slice, or outside with a leader
/// line), and how the legend wraps. The renderer only paints what this describes, so every rule
/// of the chart can be tested here with a fake measurer.
public struct ChartLayout: Sendable {
    /// Where the legend sits relative to the pie.
    public enum LegendPlacement: Sendable, Hashable {
        /// To the right of the pie (wide canvases).
        case beside
        /// Under the pie (narrow or square canvases).
        case below
    }

    /// One drawn slice: a wedge with a non-zero value.
    public struct Wedge: Sendable, Hashable {
        /// Index of the slice in the spec.
        public var sliceIndex: Int
        /// Clock angles in radians (0 at 12 o'clock, clockwise).
        public var startAngle: Double, endAngle: Double
        /// The wedge's tip: the pie centre, moved outwards when the slice is pulled out.
        public var apex: Point
        /// Fill colour.
        public var color: RGBColor
        /// The pattern over the colour (charts of more than 12 slices).
        public var pattern: SlicePattern = .solid
        /// Whether this slice has the most votes and is pulled out.
        public var isPulledOut: Bool
        /// The angle halfway through the wedge.
        public var midAngle: Double { (startAngle + endAngle) / 2 }
    }

    /// A percentage label on or beside the pie.
    public struct PercentLabel: Sendable, Hashable {
        /// Index of the slice in the spec.
        public var sliceIndex: Int
        /// The text ("40%") and its box.
        public var text: PlacedText
        /// Inside the wedge, or outside with a leader line.
        public var isInside: Bool
        /// The leader line's points, from the wedge's edge to the label; empty when inside.
        public var leader: [Point]
        /// Text colour: chosen for contrast with the wedge when inside.
        public var color: RGBColor
        /// A plate of the wedge's own colour behind an inside label on a patterned wedge, so the
        /// text contrasts with one colour, not with the stripes.
        public var plate: Rect?
    }

    /// One legend row: swatch, answer text, and "votes · percentage".
    public struct LegendEntry: Sendable, Hashable {
        /// Index of the slice in the spec.
        public var sliceIndex: Int
        /// The colour swatch.
        public var swatch: Rect
        /// Swatch colour (the slice's colour).
        public var color: RGBColor
        /// Swatch pattern (the slice's pattern).
        public var pattern: SlicePattern = .solid
        /// The answer text, wrapped to at most three lines.
        public var label: PlacedText
        /// Votes and percentage, right-aligned.
        public var figures: PlacedText
        /// The whole row.
        public var frame: Rect
    }

    /// Canvas size in points and the pixel scale.
    public var width: Double, height: Double, scale: Int
    /// Background and text colours.
    public var theme: ChartSpec.Theme
    /// The title, if the spec has one.
    public var title: PlacedText?
    /// The pie's centre and radius. The radius depends only on the canvas size and on whether
    /// there is a title: never on labels, legend or data.
    public var center: Point, radius: Double
    /// How far a pulled-out wedge moves; the pie never reaches beyond `radius + pullOutDistance`.
    public var pullOutDistance: Double
    /// Drawn wedges in spec order; zero-valued slices have none.
    public var wedges: [Wedge]
    /// Set when every value is zero: the message in the grey ring.
    public var noVotesMessage: PlacedText?
    /// Percentage labels that are drawn on or beside the pie.
    public var percentLabels: [PercentLabel]
    /// Slices whose percentage appears only in the legend: too small for a label that would not
    /// collide with another.
    public var legendOnlySlices: [Int]
    /// One legend row per slice, in spec order, zero-valued slices included.
    public var legend: [LegendEntry]
    /// Where the legend went.
    public var legendPlacement: LegendPlacement
    /// The shown integer percentages, in spec order. They add up to 100, or are all 0.
    public var percentages: [Int]
    /// Area reserved for the pie and its outside labels, and area for the legend. Disjoint.
    public var pieRegion: Rect, legendRegion: Rect
    /// Slice colours, in spec order.
    public var colors: [RGBColor]

    /// Whether the chart is mirrored for a right-to-left locale: legend left of the pie, swatches
    /// right of their labels, wedges counter-clockwise from 12 o'clock.
    public var isMirrored: Bool = false

    /// The disc any wedge can reach, pulled out or not.
    public var outerRadius: Double { radius + pullOutDistance }

    /// No text that pages show is smaller than this, in points (CSS pixels): layout prefers it,
    /// and question charts grow taller rather than go below it.
    public static let minimumReadableTextSize = 12.0

    /// Every piece of text on the chart.
    public var texts: [PlacedText] {
        [title, noVotesMessage].compactMap { $0 } + percentLabels.map(\.text)
            + legend.flatMap { [$0.label, $0.figures] }
    }

    /// The size of the smallest text, in points.
    public var smallestTextSize: Double { texts.map(\.style.size).min() ?? .infinity }
}

extension ChartLayout {
    /// Lays out `spec`, measuring text with `measurer`.
    /// - Throws: `ChartSpecError` (`legendDoesNotFit`) when the legend cannot list every slice
    ///   on this canvas even at the smallest text size. Nothing is ever dropped silently.
    public init(spec: ChartSpec, measurer: some TextMeasuring) throws {
        var builder = LayoutBuilder(spec: spec, measurer: measurer)
        self = try builder.build()
    }
}

/// Text used in charts, shared by layout, alt text and pages.
public enum ChartText {
    /// The message drawn when no slice has a vote, in English (admin pages).
    public static let noVotes = "No votes yet"

    /// A legend row's votes and share in the chart's language: "14 votes · 44%", "14 票 · 44%".
    public static func figures(votes: Int, percent: Int, style: FiguresStyle, in localizer: Localizer) -> String {
        let count: String
        switch style {
        case .full: count = localizer.plural(.votes, count: votes)
        case .compact: count = localizer.formatter.number(votes)
        case .abbreviated: count = localizer.formatter.compact(votes)
        }
        return localizer.text(.chartFigures, ["votes": count, "percent": localizer.share(percent, votes: votes)])
    }

    /// `1,234` (grouping with commas, locale-independent so every server draws the same bytes).
    public static func grouped(_ value: Int) -> String {
        let digits = String(value)
        var result = ""
        for (offset, character) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return result
    }

    /// How much room the votes and percentage of a legend row take.
    public enum FiguresStyle: CaseIterable, Sendable {
        /// "1,234 votes · 40%"
        case full
        /// "1,234 · 40%"
        case compact
        /// "1.2k · 40%": for narrow columns of large numbers.
        case abbreviated
    }

    /// A shown percentage: "40%", or "<1%" for a slice that has votes but rounds to 0, so that
    /// no answer anyone chose reads as nothing.
    public static func percent(_ percent: Int, votes: Int) -> String {
        percent == 0 && votes > 0 ? "<1%" : "\(percent)%"
    }

    /// "1 vote · 40%", "2 votes · 60%", or a shorter form.
    public static func figures(votes: Int, percent: Int, style: FiguresStyle = .full) -> String {
        let shown = Self.percent(percent, votes: votes)
        switch style {
        case .full: return "\(grouped(votes)) \(votes == 1 ? "vote" : "votes") · \(shown)"
        case .compact: return "\(grouped(votes)) · \(shown)"
        case .abbreviated: return "\(abbreviated(votes)) · \(shown)"
        }
    }

    /// 999, 1.2k, 35k, 1.2M, 4.6G.
    public static func abbreviated(_ value: Int) -> String {
        let units: [(Double, String)] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        for (size, suffix) in units where Double(value) >= size {
            let scaled = Double(value) / size
            let digits = scaled < 10 ? (scaled * 10).rounded(.down) / 10 : scaled.rounded(.down)
            let text = digits == digits.rounded() ? String(Int(digits)) : String(digits)
            return text + suffix
        }
        return String(value)
    }

    /// Labels may come from survey text: newlines and other control characters become spaces
    /// so one answer never breaks the layout.
    public static func singleLine(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }
}

private struct LayoutBuilder<Measurer: TextMeasuring> {
    let spec: ChartSpec
    let measurer: Measurer
    let localizer: Localizer
    let width: Double
    let height: Double
    /// The text unit: everything scales with the canvas's short side, and is never below the
    /// readable minimum on a canvas of a page's size (short side 300 points or more); smaller
    /// API canvases come down to it gradually.
    let em: Double
    /// The size of a percentage label.
    let labelSize: Double

    init(spec: ChartSpec, measurer: Measurer) {
        self.spec = spec
        self.measurer = measurer
        localizer = Localizer(spec.locale)
        width = Double(spec.width)
        height = Double(spec.height)
        let shortSide = min(width, height)
        let floor = min(ChartLayout.minimumReadableTextSize, shortSide / 25)
        em = min(max(shortSide / 34, floor, 7), 40)
        labelSize = max(em * 0.95, floor)
    }

    static var pullOutFraction: Double { 0.06 }

    mutating func build() throws -> ChartLayout {
        let values = spec.slices.map(\.value)
        let percentages = Percentages.largestRemainder(values)
        let styles = Palette.styles(forValues: values)
        let colors = styles.map(\.color)
        let margin = em * 0.8

        var top = margin
        var title: PlacedText?
        if let text = spec.title.map(ChartText.singleLine), !text.isEmpty {
            let style = TextStyle(size: em * 1.3, bold: true)
            let maxWidth = width - 2 * margin
            let extent = measurer.measure(text, style: style, maxWidth: maxWidth, maxLines: 1)
            // The band's height comes from the font, not the text, so the pie never depends on it.
            let bandHeight = measurer.measure("Hg", style: style, maxWidth: nil, maxLines: 1).height
            title = PlacedText(
                text: text, style: style, maxWidth: maxWidth, maxLines: 1,
                frame: Rect(x: (width - extent.width) / 2, y: top, width: extent.width, height: extent.height))
            top += bandHeight + em * 0.5
        }
        let content = Rect(x: margin, y: top, width: width - 2 * margin, height: height - top - margin)

        let labelStyle = TextStyle(size: labelSize, bold: true)
        let widestLabel = measurer.measure("100%", style: labelStyle, maxWidth: nil, maxLines: 1)
        let leaderLength = em
        let sideAllowance = leaderLength + widestLabel.width + em * 0.3
        let verticalAllowance = widestLabel.height * 0.5 + em * 0.4

        let placement: ChartLayout.LegendPlacement = width >= height * 1.15 ? .beside : .below
        let pieRegion: Rect
        let legendRegion: Rect
        switch placement {
        case .beside:
            pieRegion = Rect(x: content.x, y: content.y, width: content.width * 0.56, height: content.height)
            let legendX = pieRegion.maxX + em
            legendRegion = Rect(x: legendX, y: content.y, width: content.maxX - legendX, height: content.height)
        case .below:
            // The pie takes the height its width allows, and no more: tall canvases (phone charts
            // whose height grows with the answers) give the rest to the legend, not to blank space.
            let widthBound = (content.width / 2 - sideAllowance) / (1 + Self.pullOutFraction)
            let needed = 2 * (widthBound * (1 + Self.pullOutFraction) + verticalAllowance)
            pieRegion = Rect(
                x: content.x, y: content.y, width: content.width, height: min(content.height * 0.58, needed))
            let legendY = pieRegion.maxY + em * 0.6
            legendRegion = Rect(x: content.x, y: legendY, width: content.width, height: content.maxY - legendY)
        }
        let reach = min(pieRegion.width / 2 - sideAllowance, pieRegion.height / 2 - verticalAllowance)
        let radius = max(reach / (1 + Self.pullOutFraction), em)
        let pullOut = radius * Self.pullOutFraction
        let center = Point(x: pieRegion.x + pieRegion.width / 2, y: pieRegion.y + pieRegion.height / 2)

        let total = values.reduce(0, +)
        var wedges: [ChartLayout.Wedge] = []
        var noVotes: PlacedText?
        if total == 0 {
            let style = TextStyle(size: em * 1.05, bold: true)
            let message = localizer.text(.chartNoVotes)
            let extent = measurer.measure(message, style: style, maxWidth: radius * 1.5, maxLines: 2)
            noVotes = PlacedText(
                text: message, style: style, maxWidth: radius * 1.5, maxLines: 2,
                frame: Rect(
                    x: center.x - extent.width / 2, y: center.y - extent.height / 2, width: extent.width,
                    height: extent.height), centered: true)
        } else {
            let drawn = values.indices.filter { values[$0] > 0 }
            let highest = values.max() ?? 0
            let winners = drawn.filter { values[$0] == highest }
            let pullWinners = drawn.count >= 2 && winners.count < drawn.count
            var running = 0
            for index in values.indices {
                let start = 2 * Double.pi * Double(running) / Double(total)
                running += values[index]
                let end = 2 * Double.pi * Double(running) / Double(total)
                guard values[index] > 0 else { continue }
                let pulled = pullWinners && values[index] == highest
                let apex = pulled ? PieAngle.point(center: center, radius: pullOut, angle: (start + end) / 2) : center
                wedges.append(
                    .init(
                        sliceIndex: index, startAngle: start, endAngle: end, apex: apex, color: colors[index],
                        pattern: styles[index].pattern, isPulledOut: pulled))
            }
        }

        let (labels, legendOnly) = placePercentLabels(
            wedges: wedges, percentages: percentages, radius: radius, pullOut: pullOut, center: center,
            pieRegion: pieRegion, style: labelStyle, leaderLength: leaderLength)

        let legend = try layOutLegend(
            in: legendRegion, placement: placement, percentages: percentages, styles: styles)

        let layout = ChartLayout(
            width: width, height: height, scale: spec.scale, theme: spec.theme, title: title, center: center,
            radius: radius, pullOutDistance: pullOut, wedges: wedges, noVotesMessage: noVotes,
            percentLabels: labels, legendOnlySlices: legendOnly, legend: legend, legendPlacement: placement,
            percentages: percentages, pieRegion: pieRegion, legendRegion: legendRegion, colors: colors)
        return localizer.isRightToLeft ? layout.mirrored() : layout
    }

    // MARK: Percentage labels

    private struct OutsideCandidate {
        var sliceIndex: Int
        var value: Int
        var text: String
        var extent: TextExtent
        var anchor: Point
        var edge: Point
        var elbow: Point
        var top: Double = 0
    }

    func placePercentLabels(
        wedges: [ChartLayout.Wedge], percentages: [Int], radius: Double, pullOut: Double, center: Point,
        pieRegion: Rect, style: TextStyle, leaderLength: Double
    ) -> ([ChartLayout.PercentLabel], [Int]) {
        var labels: [ChartLayout.PercentLabel] = []
        var right: [OutsideCandidate] = []
        var left: [OutsideCandidate] = []
        for wedge in wedges {
            let text = localizer.share(percentages[wedge.sliceIndex], votes: spec.slices[wedge.sliceIndex].value)
            let extent = measurer.measure(text, style: style, maxWidth: nil, maxLines: 1)
            if let box = insideBox(for: wedge, extent: extent, radius: radius, single: wedges.count == 1) {
                let inset = em * 0.15
                labels.append(
                    .init(
                        sliceIndex: wedge.sliceIndex,
                        text: PlacedText(text: text, style: style, maxWidth: nil, maxLines: 1, frame: box),
                        isInside: true, leader: [], color: wedge.color.contrastingText,
                        plate: wedge.pattern == .solid
                            ? nil
                            : Rect(
                                x: box.x - inset, y: box.y - inset, width: box.width + 2 * inset,
                                height: box.height + 2 * inset)))
                continue
            }
            let mid = wedge.midAngle
            let candidate = OutsideCandidate(
                sliceIndex: wedge.sliceIndex, value: spec.slices[wedge.sliceIndex].value, text: text,
                extent: extent,
                anchor: PieAngle.point(center: wedge.apex, radius: radius + leaderLength * 0.5, angle: mid),
                edge: PieAngle.point(center: wedge.apex, radius: radius, angle: mid),
                elbow: PieAngle.point(center: wedge.apex, radius: radius + leaderLength * 0.4, angle: mid))
            if mid < Double.pi { right.append(candidate) } else { left.append(candidate) }
        }
        var legendOnly: [Int] = []
        let textColor = spec.theme == .dark ? RGBColor(hex: 0xF2F2F2) : RGBColor(hex: 0x222222)
        let outer = radius + pullOut
        for (side, isRight) in [(right, true), (left, false)] {
            let (placed, dropped) = stack(side, top: pieRegion.y, bottom: pieRegion.maxY, gap: em * 0.15)
            legendOnly += dropped
            for candidate in placed {
                let textX =
                    isRight
                    ? center.x + outer + leaderLength : center.x - outer - leaderLength - candidate.extent.width
                let frame = Rect(
                    x: textX, y: candidate.top, width: candidate.extent.width, height: candidate.extent.height)
                let end = Point(x: isRight ? frame.x - em * 0.2 : frame.maxX + em * 0.2, y: frame.y + frame.height / 2)
                labels.append(
                    .init(
                        sliceIndex: candidate.sliceIndex,
                        text: PlacedText(text: candidate.text, style: style, maxWidth: nil, maxLines: 1, frame: frame),
                        isInside: false, leader: [candidate.edge, candidate.elbow, end], color: textColor))
            }
        }
        labels.sort { $0.sliceIndex < $1.sliceIndex }
        return (labels, legendOnly.sorted())
    }

    /// A box for the label inside its wedge, or nil when it does not fit with a margin.
    func insideBox(for wedge: ChartLayout.Wedge, extent: TextExtent, radius: Double, single: Bool) -> Rect? {
        if single {
            return Rect(
                x: wedge.apex.x - extent.width / 2, y: wedge.apex.y - extent.height / 2, width: extent.width,
                height: extent.height)
        }
        let padding = em * 0.2
        for fraction in [0.62, 0.5, 0.74] {
            let center = PieAngle.point(center: wedge.apex, radius: radius * fraction, angle: wedge.midAngle)
            let box = Rect(
                x: center.x - extent.width / 2, y: center.y - extent.height / 2, width: extent.width,
                height: extent.height)
            if fits(box, in: wedge, radius: radius - padding, padding: padding) { return box }
        }
        return nil
    }

    /// Whether points all around `box` lie inside the wedge, at least `padding` from its edges.
    func fits(_ box: Rect, in wedge: ChartLayout.Wedge, radius: Double, padding: Double) -> Bool {
        let span = wedge.endAngle - wedge.startAngle
        for step in 0..<4 {
            let t = Double(step) / 4
            let samples = [
                Point(x: box.x + t * box.width, y: box.y), Point(x: box.maxX, y: box.y + t * box.height),
                Point(x: box.maxX - t * box.width, y: box.maxY), Point(x: box.x, y: box.maxY - t * box.height),
            ]
            for point in samples {
                let distance = point.distance(to: wedge.apex)
                guard distance <= radius, distance > padding else { return false }
                var offset = PieAngle.angle(of: point, from: wedge.apex) - wedge.startAngle
                if offset < 0 { offset += 2 * Double.pi }
                guard offset <= span else { return false }
                // Distance from each straight edge of the wedge.
                let fromStart = distance * sin(min(offset, Double.pi / 2))
                let fromEnd = distance * sin(min(span - offset, Double.pi / 2))
                guard fromStart >= padding, fromEnd >= padding else { return false }
            }
        }
        return true
    }

    /// Stacks labels of one side top to bottom near their wedges, without overlap, inside
    /// `top...bottom`. When they cannot all fit, the smallest slices give up their label (their
    /// percentage stays in the legend).
    private func stack(
        _ candidates: [OutsideCandidate], top: Double, bottom: Double, gap: Double
    )
        -> ([OutsideCandidate], [Int])
    {
        var items = candidates.sorted { $0.anchor.y < $1.anchor.y }
        var dropped: [Int] = []
        while !items.isEmpty {
            for index in items.indices {
                let wanted = items[index].anchor.y - items[index].extent.height / 2
                let floor = index == 0 ? top : items[index - 1].top + items[index - 1].extent.height + gap
                items[index].top = max(wanted, floor)
            }
            for index in items.indices.reversed() {
                let ceiling =
                    index == items.count - 1 ? bottom : items[index + 1].top - gap
                items[index].top = min(items[index].top, ceiling - items[index].extent.height)
            }
            if items[0].top >= top - 1e-9 { return (items, dropped) }
            let smallest = items.indices.min { a, b in
                items[a].value != items[b].value
                    ? items[a].value < items[b].value : items[a].sliceIndex > items[b].sliceIndex
            }!
            dropped.append(items.remove(at: smallest).sliceIndex)
        }
        return (items, dropped)
    }

    // MARK: Legend

    func layOutLegend(
        in region: Rect, placement: ChartLayout.LegendPlacement, percentages: [Int], styles: [SliceStyle]
    ) throws -> [ChartLayout.LegendEntry] {
        let labels = spec.slices.map { ChartText.singleLine($0.label) }
        // Prefer large text, then full figures, then few columns, then full three-line labels. Sizes
        // below the readable minimum are the last resort of small API canvases: question charts
        // grow taller instead (`ChartLayout.height(fitting:)`).
        let sizes = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.42, 0.35, 0.3, 0.25].map { em * $0 }.filter { $0 >= 6 }
        for size in sizes.isEmpty ? [6] : sizes {
            for figuresStyle in ChartText.FiguresStyle.allCases {
                let figures = spec.slices.indices.map {
                    ChartText.figures(
                        votes: spec.slices[$0].value, percent: percentages[$0], style: figuresStyle, in: localizer)
                }
                let style = TextStyle(size: size)
                let figureExtents = figures.map { measurer.measure($0, style: style, maxWidth: nil, maxLines: 1) }
                let figuresWidth = figureExtents.map(\.width).max() ?? 0
                // Short labels get a compact legend rather than figures pushed to the far edge.
                let naturalLabelWidth =
                    labels.map { measurer.measure($0, style: style, maxWidth: nil, maxLines: 1).width }.max() ?? 0
                let swatch = size * 0.9
                let gap = size * 0.5
                let rowGap = size * 0.4
                let columnGap = size * 1.5
                for maxLines in [3, 1] {
                    var columns = 1
                    while true {
                        let available = (region.width - columnGap * Double(columns - 1)) / Double(columns)
                        guard available - swatch - 2 * gap - figuresWidth >= size * 4 else { break }
                        let columnWidth = min(
                            available, swatch + 2 * gap + max(naturalLabelWidth, size * 4) + figuresWidth + size * 2)
                        let labelWidth = columnWidth - swatch - 2 * gap - figuresWidth
                        if let entries = fill(
                            region: region, placement: placement, columns: columns, columnWidth: columnWidth,
                            columnGap: columnGap, labelWidth: labelWidth, labels: labels, figures: figures,
                            figureExtents: figureExtents, style: style, maxLines: maxLines, swatch: swatch, gap: gap,
                            rowGap: rowGap, styles: styles)
                        {
                            return entries
                        }
                        columns += 1
                    }
                }
            }
        }
        throw ChartSpecError(
            .legendDoesNotFit, field: "slices",
            "\(spec.slices.count) legend entries do not fit a \(spec.width)×\(spec.height) chart even at the "
                + "smallest text size; make the chart larger or use fewer slices")
    }

    private func fill(
        region: Rect, placement: ChartLayout.LegendPlacement, columns: Int, columnWidth: Double,
        columnGap: Double, labelWidth: Double, labels: [String], figures: [String], figureExtents: [TextExtent],
        style: TextStyle, maxLines: Int, swatch: Double, gap: Double, rowGap: Double, styles: [SliceStyle]
    ) -> [ChartLayout.LegendEntry]? {
        var entries: [ChartLayout.LegendEntry] = []
        var column = 0
        var y = 0.0
        var columnHeights = [Double](repeating: 0, count: columns)
        for index in labels.indices {
            let extent = measurer.measure(labels[index], style: style, maxWidth: labelWidth, maxLines: maxLines)
            let rowHeight = max(swatch, extent.height, figureExtents[index].height)
            if y > 0 && y + rowHeight > region.height {
                column += 1
                y = 0
            }
            guard column < columns, rowHeight <= region.height else { return nil }
            let x = region.x + Double(column) * (columnWidth + columnGap)
            let firstLine = extent.height / Double(max(extent.lineCount, 1))
            let frame = Rect(x: x, y: y, width: columnWidth, height: rowHeight)
            let figureExtent = figureExtents[index]
            entries.append(
                .init(
                    sliceIndex: index,
                    swatch: Rect(x: x, y: y + max(0, (firstLine - swatch) / 2), width: swatch, height: swatch),
                    color: styles[index].color, pattern: styles[index].pattern,
                    label: PlacedText(
                        text: labels[index], style: style, maxWidth: labelWidth, maxLines: maxLines,
                        frame: Rect(x: x + swatch + gap, y: y, width: extent.width, height: extent.height)),
                    figures: PlacedText(
                        text: figures[index], style: style, maxWidth: nil, maxLines: 1,
                        frame: Rect(
                            x: x + columnWidth - figureExtent.width, y: y, width: figureExtent.width,
                            height: figureExtent.height)),
                    frame: frame))
            y += rowHeight + rowGap
            columnHeights[column] = y - rowGap
        }
        // Beside the pie the block is centred vertically; below it, it starts at the top.
        let blockHeight = columnHeights.max() ?? 0
        let shift = region.y + (placement == .beside ? (region.height - blockHeight) / 2 : 0)
        return entries.map { entry in
            var moved = entry
            moved.swatch.y += shift
            moved.label.frame.y += shift
            moved.figures.frame.y += shift
            moved.frame.y += shift
            return moved
        }
    }
}
