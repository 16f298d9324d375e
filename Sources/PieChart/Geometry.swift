#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A point in chart coordinates: points, origin at the top left, y grows downwards.
public struct Point: Sendable, Hashable {
    /// Coordinates in points.
    public var x: Double, y: Double

    /// Creates a point.
    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    /// The distance to another point.
    public func distance(to other: Point) -> Double { hypot(x - other.x, y - other.y) }
}

/// An axis-aligned rectangle in chart coordinates.
public struct Rect: Sendable, Hashable {
    /// Top-left corner and size, in points.
    public var x: Double, y: Double, width: Double, height: Double

    /// Creates a rectangle.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Right edge.
    public var maxX: Double { x + width }
    /// Bottom edge.
    public var maxY: Double { y + height }
    /// The four corners.
    public var corners: [Point] {
        [Point(x: x, y: y), Point(x: maxX, y: y), Point(x: x, y: maxY), Point(x: maxX, y: maxY)]
    }

    /// Whether the two rectangles share any area (touching edges do not count).
    public func intersects(_ other: Rect) -> Bool {
        x < other.maxX && other.x < maxX && y < other.maxY && other.y < maxY
    }

    /// Whether `other` lies entirely inside this rectangle (with a tolerance for rounding).
    public func contains(_ other: Rect, tolerance: Double = 1e-6) -> Bool {
        other.x >= x - tolerance && other.y >= y - tolerance && other.maxX <= maxX + tolerance
            && other.maxY <= maxY + tolerance
    }

    /// Whether this rectangle shares any area with the disc of `radius` around `center`.
    public func intersectsDisc(center: Point, radius: Double) -> Bool {
        let nearestX = min(max(center.x, x), maxX)
        let nearestY = min(max(center.y, y), maxY)
        return hypot(center.x - nearestX, center.y - nearestY) < radius
    }
}

/// Angles measured in radians clockwise from 12 o'clock, the way the pie is drawn.
public enum PieAngle {
    /// The point at `angle` on a circle around `center`.
    public static func point(center: Point, radius: Double, angle: Double) -> Point {
        Point(x: center.x + radius * sin(angle), y: center.y - radius * cos(angle))
    }

    /// The clock angle (0 at 12 o'clock, clockwise, in 0..<2π) of `point` seen from `center`.
    public static func angle(of point: Point, from center: Point) -> Double {
        let angle = atan2(point.x - center.x, center.y - point.y)
        return angle < 0 ? angle + 2 * Double.pi : angle
    }
}
