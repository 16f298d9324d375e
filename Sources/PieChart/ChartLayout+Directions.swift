extension ChartLayout {
    /// This layout seen in a mirror, for right-to-left locales: the legend goes left of the pie,
    /// each swatch right of its label and the figures at the left end of the row, and the wedges
    /// run counter-clockwise from 12 o'clock, so the chart reads in the page's direction.
    /// Text itself is not mirrored: Pango shapes it in its own direction inside each mirrored box.
    func mirrored() -> ChartLayout {
        func flip(_ rect: Rect) -> Rect {
            Rect(x: width - rect.maxX, y: rect.y, width: rect.width, height: rect.height)
        }
        func flip(_ point: Point) -> Point { Point(x: width - point.x, y: point.y) }
        func flip(_ text: PlacedText) -> PlacedText {
            var flipped = text
            flipped.frame = flip(text.frame)
            return flipped
        }
        var mirror = self
        mirror.isMirrored = true
        mirror.title = title.map(flip)
        mirror.center = flip(center)
        mirror.noVotesMessage = noVotesMessage.map(flip)
        mirror.pieRegion = flip(pieRegion)
        mirror.legendRegion = flip(legendRegion)
        mirror.wedges = wedges.map { wedge in
            var flipped = wedge
            flipped.startAngle = 2 * Double.pi - wedge.endAngle
            flipped.endAngle = 2 * Double.pi - wedge.startAngle
            flipped.apex = flip(wedge.apex)
            return flipped
        }
        mirror.percentLabels = percentLabels.map { label in
            var flipped = label
            flipped.text = flip(label.text)
            flipped.leader = label.leader.map(flip)
            flipped.plate = label.plate.map(flip)
            return flipped
        }
        mirror.legend = legend.map { entry in
            var flipped = entry
            flipped.swatch = flip(entry.swatch)
            flipped.label = flip(entry.label)
            flipped.figures = flip(entry.figures)
            flipped.frame = flip(entry.frame)
            return flipped
        }
        return mirror
    }

    /// The smallest height, within `heights`, at which `spec`'s chart (at `spec.width`) sets all
    /// its text at `minimumReadableTextSize` or larger and shows every answer whole (no ellipsis):
    /// many or long answers make a question's chart taller rather than its text smaller.
    /// `heights.upperBound` when none does.
    public static func height(
        fitting spec: ChartSpec, within heights: ClosedRange<Int>, measurer: some TextMeasuring
    ) -> Int {
        func readable(at height: Int) -> Bool {
            var candidate = spec
            candidate.height = height
            guard let layout = try? ChartLayout(spec: candidate, measurer: measurer),
                layout.smallestTextSize >= minimumReadableTextSize
            else { return false }
            return layout.legend.allSatisfy { entry in
                !measurer.measure(
                    entry.label.text, style: entry.label.style, maxWidth: entry.label.maxWidth,
                    maxLines: entry.label.maxLines
                ).isTruncated
            }
        }
        let lowest = max(heights.lowerBound, ChartSpec.Limits.sizeRange.lowerBound)
        let highest = min(heights.upperBound, ChartSpec.Limits.sizeRange.upperBound)
        guard lowest <= highest else { return heights.upperBound }
        if readable(at: lowest) { return lowest }
        // Binary search in steps of 10 points: more room never makes the legend need smaller text.
        var low = 0
        var high = (highest - lowest + 9) / 10
        guard readable(at: min(lowest + high * 10, highest)) else { return highest }
        while high - low > 1 {
            let middle = (low + high) / 2
            if readable(at: lowest + middle * 10) { high = middle } else { low = middle }
        }
        return min(lowest + high * 10, highest)
    }
}
