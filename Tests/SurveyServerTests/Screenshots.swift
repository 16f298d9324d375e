import CPNG
import Foundation
import TestSupport
import Testing

/// Where the browser tests keep their screenshots, and what each must be before it is kept.
///
/// Every run writes them under .build/screenshots/ and prints their paths, for a person to look
/// at. The committed ones in docs/screenshots/ (the README shows them) are rewritten only with
/// SURVEYCHARTS_UPDATE_SCREENSHOTS=1, which `make update-screenshots` sets: a test run must not
/// leave tracked files changed. They are not compared with the committed ones, because text
/// antialiasing and fonts vary between machines; each is checked for what a good one must be.
enum Screenshots {
    /// Set to 1 to refresh docs/screenshots/.
    static let updateVariable = "SURVEYCHARTS_UPDATE_SCREENSHOTS"
    /// Where every run writes them: untracked (.build is ignored), and kept after the run.
    static let directory = BrowserTests.packageRoot + "/.build/screenshots"
    /// The committed ones.
    static let committedDirectory = BrowserTests.packageRoot + "/docs/screenshots"

    static var updatesCommitted: Bool { ProcessInfo.processInfo.environment[updateVariable] == "1" }

    /// Writes `shot` as `name` under .build/screenshots/, checks that it is a PNG of the viewport
    /// the browser reported and that the page was drawn, and only then, when asked to, copies it
    /// over the committed file.
    static func save(_ shot: BrowserSession.Screenshot, as name: String) throws {
        // Written before the checks, so that a wrong one can be looked at too.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try shot.png.write(to: URL(fileURLWithPath: directory + "/" + name))
        print("screenshot: \(directory)/\(name)")
        let image = try #require(
            DecodedScreenshot(png: shot.png), "\(name): libpng cannot read the screenshot (\(shot.png.count) bytes)")
        let sized = image.width == shot.expectedWidth && image.height == shot.expectedHeight
        let viewport = "\(shot.expectedWidth)×\(shot.expectedHeight)"
        #expect(sized, "\(name): \(image.width)×\(image.height) pixels, but the viewport was \(viewport)")
        #expect(!image.isOneColour, "\(name): every pixel has one colour, so the page was not drawn")
        #expect(shot.pageHeightLeftOut == 0, "\(name): \(shot.pageHeightLeftOut) px of the page are below the shot")
        guard updatesCommitted, sized, !image.isOneColour, shot.pageHeightLeftOut == 0 else { return }
        try FileManager.default.createDirectory(atPath: committedDirectory, withIntermediateDirectories: true)
        try shot.png.write(to: URL(fileURLWithPath: committedDirectory + "/" + name))
        print("screenshot: updated docs/screenshots/\(name)")
    }
}

/// A screenshot decoded by libpng (CPNG's reader), as much as the checks need.
struct DecodedScreenshot {
    var width: Int, height: Int
    /// Whether every pixel has the colour of the first: a page that had not drawn yet.
    var isOneColour: Bool

    /// Nil when `png` is not a PNG that libpng decodes completely.
    init?(png: Data) {
        let bytes = [UInt8](png)
        // libpng's simplified reader wants the buffer before it reads: size it from IHDR, which
        // follows the 8-byte signature and the chunk's length and type.
        guard bytes.count > 24, bytes.starts(with: [137, 80, 78, 71, 13, 10, 26, 10]) else { return nil }
        let headerWidth = bytes[16..<20].reduce(0) { (value: Int, byte: UInt8) in value << 8 | Int(byte) }
        let headerHeight = bytes[20..<24].reduce(0) { (value: Int, byte: UInt8) in value << 8 | Int(byte) }
        // Larger than any window the tests open (8000 px high at 2x): refuse it before allocating.
        guard (1...16_384).contains(headerWidth), (1...16_384).contains(headerHeight) else { return nil }
        var rgb = [UInt8](repeating: 0, count: headerWidth * headerHeight * 3)
        var (decodedWidth, decodedHeight): (Int32, Int32) = (0, 0)
        let status = bytes.withUnsafeBufferPointer { input in
            rgb.withUnsafeMutableBufferPointer { output in
                surveycharts_png_decode_rgb(
                    input.baseAddress, input.count, output.baseAddress, output.count, &decodedWidth, &decodedHeight)
            }
        }
        guard status == 0 else { return nil }
        let first = (rgb[0], rgb[1], rgb[2])
        let end = Int(decodedWidth) * Int(decodedHeight) * 3
        isOneColour = stride(from: 3, to: end, by: 3).allSatisfy { (rgb[$0], rgb[$0 + 1], rgb[$0 + 2]) == first }
        width = Int(decodedWidth)
        height = Int(decodedHeight)
    }
}
