import CCairo
import Foundation
import Localization

/// A printable report of a survey's results, as PDF: a cover, then each question with its
/// heading, its chart as vectors, its table and its winners; page numbers and the day it was made
/// on every page. Everything in it is already in the report's language; the report only lays it out.
public struct ChartReport: Sendable, Hashable, Codable {
    /// One line of a question's table.
    public struct Row: Sendable, Hashable, Codable {
        public var label: String
        public var votes: String
        public var share: String
        /// Set in bold (a winner, the total).
        public var emphasized: Bool

        public init(label: String, votes: String, share: String, emphasized: Bool = false) {
            self.label = label
            self.votes = votes
            self.share = share
            self.emphasized = emphasized
        }
    }

    /// One question.
    public struct Section: Sendable, Hashable, Codable {
        public var heading: String
        /// The winners line, or "No votes yet".
        public var summary: String
        /// The chart (drawn to the page's width).
        public var chart: ChartSpec
        /// The table's column headings: answer, votes, share.
        public var columns: [String]
        public var rows: [Row]
        public var total: Row

        public init(heading: String, summary: String, chart: ChartSpec, columns: [String], rows: [Row], total: Row) {
            self.heading = heading
            self.summary = summary
            self.chart = chart
            self.columns = columns
            self.rows = rows
            self.total = total
        }
    }

    /// Paper sizes, in points.
    public enum Paper: String, Sendable, Hashable, Codable {
        case a4, letter

        var size: (width: Double, height: Double) {
            switch self {
            case .a4: return (595.276, 841.89)
            case .letter: return (612, 792)
            }
        }

        /// The paper of `locale`: Letter where CLDR's measurement data says so (the United States,
        /// Canada, Mexico and a few others; the likely region when the tag names none), else A4.
        public static func of(_ locale: LanguageTag) -> Paper {
            let region =
                locale.region
                ?? Locale.Language(identifier: locale.description).maximalIdentifier.split(separator: "-").last.map(
                    String.init) ?? ""
            return ["US", "CA", "MX", "PR", "CL", "CO", "VE", "PH", "GT", "CR", "PA", "SV", "DO", "NI"]
                .contains(region) ? .letter : .a4
        }
    }

    public var title: String
    /// Lines under the title on the cover: dates, ballots, language.
    public var coverLines: [String]
    /// A warning on the cover and every page ("Live counts: voting is still open"), or nil.
    public var notice: String?
    public var sections: [Section]
    /// "Page {page} of {pages}".
    public var pageLabel: String
    /// "Made on 21 November 2026".
    public var madeLine: String
    public var locale: LanguageTag
    public var paper: Paper
    /// The PDF's creation date, ISO 8601 (`2026-11-21T00:00:00Z`): fixed by the caller (from the
    /// survey's close), never the clock, so the bytes depend on the report only.
    public var createdAt: String

    public init(
        title: String, coverLines: [String], notice: String?, sections: [Section], pageLabel: String,
        madeLine: String, locale: LanguageTag, paper: Paper, createdAt: String
    ) {
        self.title = title
        self.coverLines = coverLines
        self.notice = notice
        self.sections = sections
        self.pageLabel = pageLabel
        self.madeLine = madeLine
        self.locale = locale
        self.paper = paper
        self.createdAt = createdAt
    }

    /// The version of the report's drawing code, part of its cache key.
    public static let rendererVersion = "report-1"

    /// The bytes its cache key is computed from.
    public var cacheKeyMaterial: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try! encoder.encode(self)) + Array("\n\(Self.rendererVersion) \(ChartSpec.rendererVersion)".utf8)
    }
}

extension PieChartRenderer {
    /// Renders `report` as PDF, with its fonts embedded as subsets, its title, language and fixed
    /// creation date in the metadata.
    /// - Throws: `ChartSpecError` when a chart cannot be laid out, `ChartRenderError` when Cairo fails.
    public func renderPDF(_ report: ChartReport) throws -> [UInt8] {
        let state = PangoThreadState.current
        let pages = try ReportPages(report: report, state: state)
        let sink = CairoByteSink()
        let (width, height) = report.paper.size
        guard
            let surface = cairo_pdf_surface_create_for_stream(
                cairoWriteToSink, Unmanaged.passUnretained(sink).toOpaque(), width, height)
        else { throw ChartRenderError("Cairo could not create a PDF surface") }
        cairo_pdf_surface_restrict_to_version(surface, CAIRO_PDF_VERSION_1_5)
        for (field, value) in [
            (CAIRO_PDF_METADATA_TITLE, report.title), (CAIRO_PDF_METADATA_CREATOR, "SurveyCharts"),
            (CAIRO_PDF_METADATA_CREATE_DATE, report.createdAt), (CAIRO_PDF_METADATA_MOD_DATE, report.createdAt),
        ] {
            cairo_pdf_surface_set_metadata(surface, field, ChartText.singleLine(value))
        }
        let cr = cairo_create(surface)!
        pages.draw(on: cr)
        try withExtendedLifetime(sink) { try Self.finish(cr: cr, surface: surface, what: "PDF") }
        return PDFDocument.declaringLanguage(sink.bytes, report.locale.description)
    }
}

/// A report laid out into pages: what goes on each page, measured once, then drawn.
struct ReportPages {
    enum Item {
        case text(String, TextStyle, x: Double, y: Double, width: Double, maxLines: Int, RGBColor, DocumentText.Side)
        case chart(ChartLayout, x: Double, y: Double, scale: Double)
        case rule(x: Double, y: Double, width: Double)
    }

    let report: ChartReport
    let state: PangoThreadState
    let text: DocumentText
    var pages: [[Item]] = [[]]
    let pageWidth: Double, pageHeight: Double
    let margin = 56.0
    var contentWidth: Double { pageWidth - 2 * margin }
    /// Where the footer begins.
    var bottom: Double { pageHeight - margin - 24 }
    private var y: Double

    static let ink = RGBColor(hex: 0x1A1A1A)
    static let muted = RGBColor(hex: 0x595959)
    static let alert = RGBColor(hex: 0xB00020)

    init(report: ChartReport, state: PangoThreadState) throws {
        self.report = report
        self.state = state
        text = DocumentText(state: state, rightToLeft: report.locale.isRightToLeft)
        (pageWidth, pageHeight) = report.paper.size
        y = margin
        try layOut()
    }

    private mutating func add(_ item: Item) { pages[pages.count - 1].append(item) }

    private mutating func newPage() {
        pages.append([])
        y = margin
    }

    /// Adds a block of text across the content width (or in a column), moving down.
    private mutating func paragraph(
        _ string: String, _ style: TextStyle, color: RGBColor = ReportPages.ink, maxLines: Int = 6, after: Double = 6
    ) {
        let height = text.height(string, style: style, width: contentWidth, maxLines: maxLines)
        if y + height > bottom { newPage() }
        add(
            .text(
                string, style, x: text.x(margin, width: contentWidth, pageWidth: pageWidth), y: y,
                width: contentWidth, maxLines: maxLines, color, .start))
        y += height + after
    }

    private mutating func layOut() throws {
        // The cover.
        y = pageHeight * 0.28
        paragraph(report.title, TextStyle(size: 28, bold: true), maxLines: 5, after: 18)
        for line in report.coverLines { paragraph(line, TextStyle(size: 14), color: Self.muted, after: 8) }
        if let notice = report.notice {
            y += 12
            paragraph(notice, TextStyle(size: 14, bold: true), color: Self.alert)
        }
        // One question per page (a long table continues on the next).
        for section in report.sections {
            newPage()
            paragraph(section.heading, TextStyle(size: 18, bold: true), maxLines: 4, after: 6)
            paragraph(section.summary, TextStyle(size: 12), color: Self.muted, after: 12)
            let chart = try ChartLayout(spec: section.chart, measurer: PangoTextMeasurer())
            let scale = min(1, contentWidth / chart.width)
            if y + chart.height * scale > bottom { newPage() }
            add(.chart(chart, x: text.x(margin, width: chart.width * scale, pageWidth: pageWidth), y: y, scale: scale))
            y += chart.height * scale + 16
            table(section)
        }
    }

    /// A question's table: answer, votes, share; the heading again after a page break.
    private mutating func table(_ section: ChartReport.Section) {
        let numbers = 84.0
        let answerWidth = contentWidth - 2 * numbers - 12
        func row(_ row: ChartReport.Row, header: Bool = false) {
            let style = TextStyle(size: 11, bold: header || row.emphasized)
            let height = max(
                text.height(row.label, style: style, width: answerWidth, maxLines: 3),
                text.height(row.votes, style: style, width: numbers, maxLines: 1))
            if y + height + 6 > bottom {
                newPage()
                if !header { headings() }
            }
            add(
                .text(
                    row.label, style, x: text.x(margin, width: answerWidth, pageWidth: pageWidth), y: y,
                    width: answerWidth, maxLines: 3, Self.ink, .start))
            add(
                .text(
                    row.votes, style, x: text.x(margin + answerWidth + 12, width: numbers, pageWidth: pageWidth), y: y,
                    width: numbers, maxLines: 1, Self.ink, .end))
            add(
                .text(
                    row.share, style,
                    x: text.x(margin + answerWidth + 12 + numbers, width: numbers, pageWidth: pageWidth), y: y,
                    width: numbers, maxLines: 1, Self.ink, .end))
            y += height + 4
            add(.rule(x: margin, y: y, width: contentWidth))
            y += 4
        }
        func headings() {
            let columns = section.columns + Array(repeating: "", count: max(0, 3 - section.columns.count))
            row(ChartReport.Row(label: columns[0], votes: columns[1], share: columns[2]), header: true)
        }
        headings()
        for line in section.rows { row(line) }
        row(section.total)
    }

    /// Draws every page, each with its footer.
    func draw(on cr: OpaquePointer) {
        for (index, items) in pages.enumerated() {
            for item in items {
                switch item {
                case .text(let string, let style, let x, let y, let width, let maxLines, let color, let side):
                    text.draw(
                        string, on: cr, style: style, x: x, y: y, width: width, maxLines: maxLines, color: color,
                        side: side)
                case .chart(let layout, let x, let y, let scale):
                    cairo_save(cr)
                    cairo_translate(cr, x, y)
                    cairo_scale(cr, scale, scale)
                    var painter = Painter(cr: cr, state: state, layout: layout)
                    painter.paint()
                    cairo_restore(cr)
                case .rule(let x, let y, let width):
                    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8)
                    cairo_set_line_width(cr, 0.5)
                    cairo_move_to(cr, x, y)
                    cairo_line_to(cr, x + width, y)
                    cairo_stroke(cr)
                }
            }
            let footerY = pageHeight - margin
            let label = report.pageLabel.filling(["page": "\(index + 1)", "pages": "\(pages.count)"])
            text.draw(
                report.madeLine, on: cr, style: TextStyle(size: 9), x: margin, y: footerY, width: contentWidth,
                maxLines: 1, color: Self.muted, side: .start)
            text.draw(
                label, on: cr, style: TextStyle(size: 9), x: margin, y: footerY, width: contentWidth, maxLines: 1,
                color: Self.muted, side: .end)
            if index > 0, let notice = report.notice {
                text.draw(
                    notice, on: cr, style: TextStyle(size: 9, bold: true), x: margin, y: margin / 2,
                    width: contentWidth, maxLines: 1, color: Self.alert, side: .start)
            }
            cairo_show_page(cr)
        }
    }
}

/// Cairo 1.16 writes no document language; screen readers and text extraction need one.
enum PDFDocument {
    /// `pdf` with `/Lang (tag)` in its catalog and the cross-reference table moved to match.
    /// The catalog is the object the trailer's `/Root` names (text such as a title may hold
    /// "/Type /Catalog" too). Returns the bytes unchanged when they are not laid out as Cairo
    /// writes them.
    static func declaringLanguage(_ pdf: [UInt8], _ tag: String) -> [UInt8] {
        guard let trailer = pdf.lastRange(of: Array("\ntrailer".utf8)),
            let root = String(decoding: pdf[trailer.upperBound...], as: UTF8.self).firstMatch(of: /\/Root (\d+) 0 R/),
            let object = pdf.firstRange(of: Array("\n\(root.1) 0 obj".utf8)),
            let open = pdf[object.upperBound...].firstIndex(of: UInt8(ascii: "<")),
            open + 1 < pdf.count, pdf[open + 1] == UInt8(ascii: "<")
        else { return pdf }
        let insertion = Array(" /Lang (\(tag.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }))".utf8)
        let position = open + 2
        var out = Array(pdf[..<position]) + insertion + Array(pdf[position...])
        let shift = insertion.count
        // The xref table: "xref\n0 N\n" then N entries of 20 bytes, "oooooooooo ggggg n\n".
        guard let xref = out.lastRange(of: Array("\nxref\n".utf8)) else { return pdf }
        var cursor = xref.upperBound
        guard let lineEnd = out[cursor...].firstIndex(of: UInt8(ascii: "\n")) else { return pdf }
        let header = String(decoding: out[cursor..<lineEnd], as: UTF8.self).split(separator: " ")
        guard header.count == 2, let count = Int(header[1]), count > 0, count < 1_000_000 else { return pdf }
        cursor = lineEnd + 1
        for _ in 0..<count {
            guard cursor + 20 <= out.count else { return pdf }
            let field = String(decoding: out[cursor..<cursor + 10], as: UTF8.self)
            if out[cursor + 17] == UInt8(ascii: "n"), let offset = Int(field), offset > position {
                let moved = String(offset + shift)
                let padded = String(repeating: "0", count: max(0, 10 - moved.count)) + moved
                out.replaceSubrange(cursor..<cursor + 10, with: Array(padded.utf8))
            }
            cursor += 20
        }
        // startxref: the table itself moved.
        guard let start = out.lastRange(of: Array("startxref\n".utf8)),
            let end = out[start.upperBound...].firstIndex(of: UInt8(ascii: "\n")),
            let offset = Int(String(decoding: out[start.upperBound..<end], as: UTF8.self))
        else { return pdf }
        out.replaceSubrange(start.upperBound..<end, with: Array(String(offset + shift).utf8))
        return out
    }
}

extension Array where Element == UInt8 {
    func firstRange(of pattern: [UInt8]) -> Range<Int>? {
        guard pattern.count <= count else { return nil }
        for start in 0...(count - pattern.count) where self[start..<start + pattern.count].elementsEqual(pattern) {
            return start..<start + pattern.count
        }
        return nil
    }

    func lastRange(of pattern: [UInt8]) -> Range<Int>? {
        guard pattern.count <= count else { return nil }
        for start in stride(from: count - pattern.count, through: 0, by: -1)
        where self[start..<start + pattern.count].elementsEqual(pattern) {
            return start..<start + pattern.count
        }
        return nil
    }
}
