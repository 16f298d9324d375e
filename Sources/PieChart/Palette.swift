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

/// Slice colours.
public enum Palette {
    /// The Okabe–Ito palette, distinguishable with the common colour-vision deficiencies. Its
    /// black is replaced by a dark grey so that slice borders and labels stay visible.
    public static let okabeIto: [RGBColor] = [
        0x0072B2, 0xE69F00, 0x009E73, 0xCC79A7, 0x56B4E9, 0xD55E00, 0xF0E442, 0x555555,
    ].map(RGBColor.init(hex:))

    /// Grey of the "No votes yet" ring.
    public static let noVotesRing = RGBColor(hex: 0xC8C8C8)

    /// Colours for slices in drawing order, such that two slices that touch on the pie never
    /// share a colour: neither neighbours, nor the last and the first, nor two slices that meet
    /// because the zero-valued slices between them are not drawn.
    public static func colors(forValues values: [Int]) -> [RGBColor] {
        let palette = okabeIto
        var result: [RGBColor] = []
        result.reserveCapacity(values.count)
        let drawn = values.indices.filter { values[$0] > 0 }
        var previousDrawn: RGBColor?
        for index in values.indices {
            var candidate = index % palette.count
            if values[index] > 0 {
                let firstDrawn = drawn.first.flatMap { $0 < index ? result[$0] : nil }
                let isLastDrawn = drawn.count > 2 && index == drawn.last
                while palette[candidate] == previousDrawn || (isLastDrawn && palette[candidate] == firstDrawn) {
                    candidate = (candidate + 1) % palette.count
                }
                previousDrawn = palette[candidate]
            }
            result.append(palette[candidate])
        }
        return result
    }
}
