import ChartCache

/// The names of charts that belong to no question (the chart API's): `c-<16 hex digits>[@2x].png`
/// and `c-<16 hex digits>.svg`.
/// The chart directory holds both kinds; only these count against the API's disk budget.
public enum APIChartNames {
    /// The name of an API chart whose spec (at 1x) has `key`.
    public static func name(key: ChartKey, scale: Int = 1) -> ChartName {
        // The shape is ours and always valid.
        try! ChartName(validating: "c-\(key.shortHex)\(scale == 1 ? "" : "@\(scale)x").png")
    }

    /// The name of an API chart drawn as SVG, whose spec (at 1x) has `key`.
    public static func svgName(key: ChartKey) -> ChartName {
        try! ChartName(validating: "c-\(key.shortHex).svg")
    }

    /// Whether `fileName` has the shape `name(key:scale:)` gives.
    public static func isAPIChart(_ fileName: String) -> Bool {
        var bytes = Array(fileName.utf8)[...]
        guard bytes.starts(with: "c-".utf8) else { return false }
        let isSVG = bytes.suffix(4).elementsEqual(".svg".utf8)
        guard isSVG || bytes.suffix(4).elementsEqual(".png".utf8) else { return false }
        bytes = bytes.dropFirst(2).dropLast(4)
        if !isSVG, bytes.suffix(3).elementsEqual("@2x".utf8) || bytes.suffix(3).elementsEqual("@3x".utf8) {
            bytes = bytes.dropLast(3)
        }
        return bytes.count == 16 && bytes.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
