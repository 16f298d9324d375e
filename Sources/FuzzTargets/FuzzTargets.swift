import CPNG
import ContentEncoding
import Foundation
import HTTPTypes
import Hummingbird
import Localization
import NIOCore
import PieChart
import SurveyCharts
import Surveys

@testable import StaticFiles
@testable import SurveyServer

/// Every parser of outside input, as a fuzz target: bytes in, and a trap (a failed `check`, an
/// overflow, an out-of-range index) on any input that breaks a rule. libFuzzer drives them in
/// `make fuzz` (`surveycharts-fuzz`); `make test` replays the committed corpus through the same
/// functions (`FuzzCorpusTests`), so a crash found once stays fixed.
public enum FuzzTargets {
    /// The targets by name: the name is also the corpus folder, `Fuzz/corpus/<name>`.
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "http-date": httpDate,
        "conditional-plan": conditionalPlan,
        "static-path": staticPath,
        "chart-file-name": chartFileName,
        "ballot-form": ballotForm,
        "admin-form": adminForm,
        "cookies": cookies,
        "chart-spec": chartSpec,
        "import-document": importDocument,
        "client-address": clientAddress,
        "csv-export": csvExport,
        "palette-png": palettePNG,
        "language-tag": languageTag,
        "accept-language": acceptLanguage,
        "accept-encoding": acceptEncoding,
        "chart-request": chartRequest,
        "shared-file-name": sharedFileName,
    ]

    /// The chart API's body: refused with a field, or a valid spec and a known format; without
    /// `format` it is exactly the spec `ChartSpec(json:)` reads.
    static func chartRequest(_ data: [UInt8]) {
        guard let request = try? ChartRequest(json: data) else { return }
        check((try? request.spec.validate()) != nil, "a parsed spec is valid")
        if !text(data).contains("format") {
            check(request.format == .png && (try? ChartSpec(json: data)) == request.spec, "spec agrees")
        }
    }

    /// Names of shared files: a stable chart address (`5-narrow@2x.png`) and a card or report file
    /// name (`s5-<hex>.png`) parse only in their one canonical spelling.
    static func sharedFileName(_ data: [UInt8]) {
        let name = text(data)
        if let chart = SharingRoutes.StableChart(name) {
            let spelled =
                "\(chart.questionID)\(chart.variant == .narrow ? "-narrow" : "")\(chart.scale == 2 ? "@2x" : "")"
                + (chart.isSVG ? ".svg" : ".png")
            check(spelled == name, "stable chart \(name) spelled \(spelled)")
        }
        if let document = SurveyDocumentRequest(fileName: name) {
            let prefix = (document.kind == .card ? "s" : "r") + "\(document.surveyID)-"
            check(name.hasPrefix(prefix) && name.utf8.count == prefix.utf8.count + 20, "document \(name)")
            check(document.surveyID > 0, "document id")
        }
    }

    /// A language tag: refused, or canonical (it parses back to itself, case and all).
    static func languageTag(_ data: [UInt8]) {
        guard let tag = try? LanguageTag(parsing: text(data)) else { return }
        check((try? LanguageTag(parsing: tag.description)) == tag, "tag round trip: \(tag)")
        check(tag.description.utf8.count <= LanguageTag.maximumLength, "tag length")
        // Only case changes, and the deprecated codes that become their current ones.
        let lowered = text(data).lowercased()
        let renamed = ["iw", "in", "ji"].contains { lowered == $0 || lowered.hasPrefix($0 + "-") }
        check(renamed || tag.description.lowercased() == lowered, "canonical case only: \(tag)")
    }

    /// `Accept-Language`: at most 16 ranges, qualities 1...1000, best first; the negotiated
    /// catalog is one of the catalogs, and negotiating twice (the memo) gives the same one.
    static func acceptLanguage(_ data: [UInt8]) {
        let header = text(data)
        let ranges = AcceptLanguage.ranges(header)
        check(ranges.count <= AcceptLanguage.maximumRanges, "ranges bounded")
        check(ranges.allSatisfy { (1...1000).contains($0.quality) }, "qualities in range")
        check(zip(ranges, ranges.dropFirst()).allSatisfy { $0.quality >= $1.quality }, "best first")
        let first = Catalogs.negotiate(acceptLanguage: header, fallback: Catalogs.english)
        check(Catalogs.all.contains { $0 === first }, "a shipped catalog")
        check(Catalogs.negotiate(acceptLanguage: header, fallback: Catalogs.english) === first, "memo agrees")
    }

    /// `Accept-Encoding`: a weight in range or a refusal, gzip allowed exactly when the weight is
    /// above zero, and a body's chosen form always one of its two.
    static func acceptEncoding(_ data: [UInt8]) {
        let weight = AcceptEncoding.gzipWeight(data)
        check(weight.map { (0...1000).contains($0) } ?? true, "weight in range")
        let header = String(decoding: data, as: UTF8.self)
        if Array(header.utf8) == data {
            check(AcceptEncoding.allowsGzip(header) == ((weight ?? 0) > 0), "allows agrees with the weight")
        }
        let body = EncodedBody(ByteBuffer(string: String(repeating: "<p>fuzz</p>", count: 40)))
        let chosen = body.chosen(for: header)
        check(chosen.isGzip ? chosen.body == body.gzip : chosen.body == body.identity, "one of the two forms")
    }

    /// Fails loudly: under libFuzzer a trap is a finding, with the input saved.
    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz rule broken: \(message())") }
    }

    static func text(_ data: [UInt8]) -> String { String(decoding: data, as: UTF8.self) }

    /// Up to `count` header values, one per line of `data`.
    static func lines(_ data: [UInt8], _ count: Int) -> [String?] {
        var parts = text(data).split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        while parts.count < count { parts.append("") }
        return parts.prefix(count).map { $0.isEmpty ? nil : $0 }
    }

    /// Any text: a date, or nil; a date formats back to itself.
    static func httpDate(_ data: [UInt8]) {
        guard let seconds = HTTPDate.seconds(text(data), now: 1_796_083_200) else { return }
        check(HTTPDate.seconds(HTTPDate.format(seconds), now: 1_796_083_200) == seconds, "date round trip")
    }

    /// Four header values (If-None-Match, If-Modified-Since, Range, If-Range) against files of
    /// several sizes: a partial answer is a non-empty range inside the file.
    static func conditionalPlan(_ data: [UInt8]) {
        let headers = lines(data, 4)
        let conditions = StaticFileRules.Conditions(
            ifNoneMatch: headers[0], ifModifiedSince: headers[1], range: headers[2], ifRange: headers[3])
        for size in [0, 1, 1000, Int.max / 2] {
            let file = StaticFileRules.FileFacts(size: size, modified: 784_111_777, etag: "\"abc\"")
            if case .partial(let range) = StaticFileRules.plan(for: conditions, file: file) {
                check(!range.isEmpty && range.lowerBound >= 0 && range.upperBound <= size, "range \(range) of \(size)")
            }
        }
    }

    /// A raw path: its segments never escape the root.
    static func staticPath(_ data: [UInt8]) {
        guard let segments = try? StaticFileRules.segments(ofRawPath: Substring(text(data))) else { return }
        for segment in segments {
            check(!segment.isEmpty && !segment.hasPrefix(".") && !segment.contains("/"), "segment \(segment)")
            check(!segment.utf8.contains(0) && !segment.contains("\\"), "segment \(segment)")
        }
    }

    /// A chart file name: a question chart's name parses to what it names, or to nothing.
    static func chartFileName(_ data: [UInt8]) {
        let name = text(data)
        guard let request = QuestionChartRequest(fileName: name) else { return }
        check(request.questionID >= 0 && (request.scale == 1 || request.scale == 2), "\(name)")
        check(name.hasPrefix("q\(request.questionID)-"), "\(name) is not question \(request.questionID)")
    }

    /// A ballot body: decoded fields, and the ids a ballot would take.
    static func ballotForm(_ data: [UInt8]) {
        let body = text(data)
        // A path id is canonical: it prints back as it was written.
        if let id = SurveyRequestContext.canonicalID(body) { check(String(id) == body && id > 0, "id \(body)") }
        guard let fields = FormDecoding.fields(body) else { return }
        for (name, value) in fields where name == "receipt" {
            let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
            let valid = value.utf8.count == 22 && value.utf8.allSatisfy(alphabet.contains)
            check((BallotReceipt(value) != nil) == valid, "receipt \(value)")
        }
        for (name, _) in fields where name.hasPrefix("q") {
            if let id = SurveyRequestContext.canonicalID(name.dropFirst()) {
                check("q\(id)" == name, "question field \(name)")
            }
        }
    }

    /// An admin survey form: refused with a field error, or accepted.
    static func adminForm(_ data: [UInt8]) {
        guard let fields = FormDecoding.fields(text(data)) else { return }
        _ = try? SurveyForm(fields: fields, votes: [1: 3, 2: Int.max])
    }

    static let integrity = BallotIntegrity(secret: Array(repeating: 7, count: 32), policy: .one)

    /// A Cookie header: a forged voted cookie never counts.
    static func cookies(_ data: [UInt8]) {
        let value = text(data)
        var fields = HTTPFields()
        fields.append(HTTPField(name: .cookie, value: value))
        let head = HTTPRequest(method: .get, scheme: nil, authority: "x", path: "/surveys/1", headerFields: fields)
        let request = Request(head: head, body: .init(buffer: ByteBuffer()))
        check(!integrity.hasVoted(request, surveyID: 1), "a fuzzed voted cookie was accepted")
        _ = request.cookies[AdminAuthentication.cookieName]
        _ = AdminAuthentication.base64URLDecoded(value)
    }

    /// Chart spec JSON: refused with a field, or a spec inside the limits.
    static func chartSpec(_ data: [UInt8]) {
        guard let spec = try? ChartSpec(json: data) else { return }
        check(spec.width > 0 && spec.height > 0 && (1...3).contains(spec.scale), "spec size")
        _ = Percentages.largestRemainder(spec.slices.map(\.value))
    }

    /// The import format: refused with a JSON path, or a document that encodes and reads back.
    static func importDocument(_ data: [UInt8]) {
        guard let document = try? SurveyDocument(json: Data(data)) else { return }
        guard let encoded = try? JSONEncoder().encode(document) else { return }
        check((try? SurveyDocument(json: encoded)) == document, "import round trip")
    }

    /// Texts from the input, exported as CSV and read back with RFC 4180's grammar: every field
    /// comes back as written, but for the apostrophe that disarms a spreadsheet formula.
    static func csvExport(_ data: [UInt8]) {
        let texts = text(data).split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        let title = texts.first ?? ""
        let answers = texts.dropFirst(2).enumerated().map {
            Answer(id: Int64($0.offset + 1), text: $0.element, votes: $0.offset)
        }
        let question = Question(id: 1, text: texts.count > 1 ? texts[1] : "", answers: Array(answers))
        let survey = Survey(
            id: 1, title: title, opens: CalendarDay(ordinal: 0), closes: CalendarDay(ordinal: 1), questions: [question])
        let rows = parseCSV(SurveyCSV.document(survey))
        check(rows.first == ["\u{FEFF}survey", "question", "answer", "votes", "percent"], "header \(rows.first ?? [])")
        check(rows.count == answers.count + 1, "\(rows.count) rows for \(answers.count) answers")
        for (row, answer) in zip(rows.dropFirst(), answers) {
            check(row.count == 5, "row \(row)")
            check(
                row[0] == disarmed(title) && row[1] == disarmed(question.text) && row[2] == disarmed(answer.text),
                "\(row)")
            check(row[3] == String(answer.votes), "votes \(row)")
        }
    }

    static func disarmed(_ value: String) -> String {
        guard let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return value }
        return "'" + value
    }

    /// RFC 4180: CRLF records, fields quoted when they hold a comma, a quote or a line break.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field: [Unicode.Scalar] = []
        var scalars = Array(text.unicodeScalars)[...]
        var quoted = false
        while let scalar = scalars.popFirst() {
            if quoted {
                if scalar == "\"" {
                    if scalars.first == "\"" { field.append(scalars.removeFirst()) } else { quoted = false }
                } else {
                    field.append(scalar)
                }
            } else if scalar == "\"" && field.isEmpty {
                quoted = true
            } else if scalar == "," {
                row.append(String(String.UnicodeScalarView(field)))
                field = []
            } else if scalar == "\r" && scalars.first == "\n" {
                scalars.removeFirst()
                row.append(String(String.UnicodeScalarView(field)))
                rows.append(row)
                row = []
                field = []
            } else {
                field.append(scalar)
            }
        }
        check(!quoted && row.isEmpty && field.isEmpty, "the CSV ends inside a record")
        return rows
    }

    /// Random pixels through the palette encoder, decoded back by libpng: a flat colour keeps its
    /// value exactly, and every pixel is within the tolerance on each channel (exact in RGB mode).
    static func palettePNG(_ data: [UInt8]) {
        guard data.count >= 4 else { return }
        let width = Int(data[0] % 48) + 1, height = Int(data[1] % 48) + 1
        let tolerance = Int(data[2] % 20) - 2  // -1 and below: lossless RGB
        let colours = Array(data[3...])
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        for index in 0..<(width * height) {
            // Few distinct colours, in runs, as charts are; the input picks them.
            let source = colours[(index / max(1, Int(data[3] % 7) + 1)) % colours.count]
            let rgb: UInt32 = UInt32(source) &* 2_654_435_761 & 0x00FF_FFFF
            withUnsafeBytes(of: rgb.littleEndian) { bytes in
                for byte in 0..<4 { pixels[index * 4 + byte] = bytes[byte] }
            }
        }
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        var indexed: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { buffer in
            surveycharts_png_encode_fast(
                buffer.baseAddress, Int32(width), Int32(height), Int32(width * 4), Int32(max(-1, tolerance)),
                &output, &length, &indexed, &message, message.count)
        }
        check(
            status == 0,
            "encode failed: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))"
        )
        defer { surveycharts_png_free(output) }
        var decoded = [UInt8](repeating: 0, count: width * height * 3)
        var (decodedWidth, decodedHeight): (Int32, Int32) = (0, 0)
        let read = decoded.withUnsafeMutableBufferPointer { buffer in
            surveycharts_png_decode_rgb(output, length, buffer.baseAddress, buffer.count, &decodedWidth, &decodedHeight)
        }
        check(read == 0 && Int(decodedWidth) == width && Int(decodedHeight) == height, "decode \(read)")
        func word(_ index: Int) -> UInt32 {
            pixels.withUnsafeBytes { $0.load(fromByteOffset: index * 4, as: UInt32.self) }
        }
        for index in 0..<(width * height) {
            let (x, y) = (index % width, index / width)
            let neighbours = [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)].filter {
                $0.0 >= 0 && $0.0 < width && $0.1 >= 0 && $0.1 < height
            }
            let flat = neighbours.count == 4 && neighbours.allSatisfy { word($0.1 * width + $0.0) == word(index) }
            let allowed = indexed != 0 && !flat ? max(0, tolerance) : 0
            let word = word(index)
            let expected = [UInt8(word >> 16 & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word & 0xFF)]
            for channel in 0..<3 {
                let difference = abs(Int(decoded[index * 3 + channel]) - Int(expected[channel]))
                check(
                    difference <= allowed,
                    "pixel \(index) channel \(channel) off by \(difference) (tolerance \(allowed))")
            }
        }
    }

    static let proxies = TrustedProxies([IPNetwork("127.0.0.0/8")!, IPNetwork("fd00::/8")!])

    /// Addresses, CIDR ranges and X-Forwarded-For chains.
    static func clientAddress(_ data: [UInt8]) {
        let headers = lines(data, 2)
        if let first = headers[0], let address = IPAddress(first) {
            check(IPAddress(address.description) == address, "address round trip \(first)")
            _ = address.limitKey
        }
        if let first = headers[0], let network = IPNetwork(first) {
            check(network.prefixLength <= network.address.bytes.count * 8, "prefix of \(first)")
            check(network.contains(network.address), "\(first) holds its own address")
        }
        let client = proxies.client(peer: IPAddress("127.0.0.1"), forwardedFor: headers[1].map { [$0] } ?? [])
        check(client != nil, "a trusted peer always leaves a client")
    }
}
