/// An opaque sRGB colour.
public struct RGBColor: Sendable, Hashable, CustomStringConvertible {
    /// Channels, 0...255.
    public var red: UInt8, green: UInt8, blue: UInt8

    /// Creates a colour from `0xRRGGBB`.
    public init(hex: UInt32) {
        red = UInt8((hex >> 16) & 0xFF)
        green = UInt8((hex >> 8) & 0xFF)
        blue = UInt8(hex & 0xFF)
    }

    /// Relative luminance (WCAG), 0 for black to 1 for white.
    public var luminance: Double {
        func linear(_ channel: UInt8) -> Double {
            let value = Double(channel) / 255
            return value <= 0.039_28 ? value / 12.92 : pow((value + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    }

    /// Black or white, whichever reads better on this colour.
    public var contrastingText: RGBColor {
        // 0.179 is where black and white text have equal WCAG contrast.
        luminance > 0.179 ? RGBColor(hex: 0x000000) : RGBColor(hex: 0xFFFFFF)
    }

    public var description: String {
        "#" + [red, green, blue].map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fill pattern drawn over a slice's colour. Charts with more slices than the palette has
/// colours tell slices apart by colour and pattern together.
public enum SlicePattern: Int, Sendable, Hashable, CaseIterable {
    /// Plain colour: every slice of a chart with up to 12 slices.
    case solid
    /// Stripes rising to the right.
    case forwardStripes
    /// Stripes falling to the right.
    case backwardStripes
    /// Horizontal stripes.
    case horizontalStripes
    /// Vertical stripes.
    case verticalStripes
    /// A grid of dots.
    case dots
}

/// How one slice is filled: a colour, and a pattern over it.
public struct SliceStyle: Sendable, Hashable {
    /// The fill colour.
    public var color: RGBColor
    /// The pattern drawn over it (`solid` for none).
    public var pattern: SlicePattern

    /// Creates a style.
    public init(color: RGBColor, pattern: SlicePattern = .solid) {
        self.color = color
        self.pattern = pattern
    }
}

/// Slice colours.
public enum Palette {
    /// The Okabe–Ito palette, distinguishable with the common colour-vision deficiencies. Its
    /// black is replaced by a dark grey so that slice borders and labels stay visible.
    public static let okabeIto: [RGBColor] = [
        0x0072B2, 0xE69F00, 0x009E73, 0xCC79A7, 0x56B4E9, 0xD55E00, 0xF0E442, 0x555555,
    ].map(RGBColor.init(hex:))

    /// The slice colours: Okabe–Ito first (charts of up to 8 slices look as they always did),
    /// then four colours from Krzywinski's colour-blind palette (carmine, indigo, lavender,
    /// violet), chosen so that every pair stays at least 15 CIELAB units apart under simulated
    /// protanopia, deuteranopia and tritanopia (Machado 2009) as well as normal vision.
    public static let slices: [RGBColor] = okabeIto + [0xA40122, 0x490092, 0xB66DFF, 0x8400CD].map(RGBColor.init(hex:))

    /// Grey of the "No votes yet" ring.
    public static let noVotesRing = RGBColor(hex: 0xC8C8C8)

    /// Colours for slices in spec order; see `styles(forValues:)`.
    public static func colors(forValues values: [Int]) -> [RGBColor] {
        styles(forValues: values).map(\.color)
    }

    /// Styles for slices in spec order, such that:
    /// - every slice has a style of its own: up to 12 slices, its own colour; beyond, its own
    ///   pair of colour and pattern (12 colours × 6 patterns cover the 64 slices a spec may have);
    /// - two slices that touch on the pie never share a colour: neither neighbours, nor the last
    ///   and the first, nor two slices that meet because the zero-valued slices between them are
    ///   not drawn.
    public static func styles(forValues values: [Int]) -> [SliceStyle] {
        let palette = slices
        let patterns = SlicePattern.allCases
        var result: [SliceStyle] = []
        result.reserveCapacity(values.count)
        var used = Set<SliceStyle>()
        let drawn = values.indices.filter { values[$0] > 0 }
        var previousDrawn: RGBColor?
        for index in values.indices {
            var colorIndex = index % palette.count
            var patternIndex = min(index / palette.count, patterns.count - 1)
            let firstDrawn = drawn.first.flatMap { $0 < index ? result[$0].color : nil }
            let isLastDrawn = values[index] > 0 && drawn.count > 2 && index == drawn.last
            func acceptable(_ style: SliceStyle) -> Bool {
                guard !used.contains(style) else { return false }
                guard values[index] > 0 else { return true }
                return style.color != previousDrawn && !(isLastDrawn && style.color == firstDrawn)
            }
            var candidate = SliceStyle(color: palette[colorIndex], pattern: patterns[patternIndex])
            var tried = 0
            while !acceptable(candidate) && tried < palette.count * patterns.count {
                tried += 1
                colorIndex = (colorIndex + 1) % palette.count
                if tried % palette.count == 0 { patternIndex = (patternIndex + 1) % patterns.count }
                candidate = SliceStyle(color: palette[colorIndex], pattern: patterns[patternIndex])
            }
            used.insert(candidate)
            if values[index] > 0 { previousDrawn = candidate.color }
            result.append(candidate)
        }
        return result
    }
}
