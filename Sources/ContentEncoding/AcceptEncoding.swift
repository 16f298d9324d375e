/// What a request's `Accept-Encoding` (RFC 9110 §12.5.3) allows.
///
/// `codings [ OWS ";" OWS "q=" qvalue ]`, comma-separated, names case-insensitive. gzip is
/// acceptable when `gzip` (or its alias `x-gzip`) has a weight above zero, or, when neither is
/// named, `*` has. A header that does not parse allows nothing but identity: a body the client
/// might not decode is worse than a larger one.
public enum AcceptEncoding {
    /// Longer headers are not read (they are bounded by the server's header limits anyway).
    public static let maximumLength = 4096

    /// Whether a response to a request with this `Accept-Encoding` may be gzip-compressed.
    public static func allowsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        return gzipWeight(Array(header.utf8)).map { $0 > 0 } ?? false
    }

    /// gzip's weight in thousandths (0 … 1000), or nil when the header does not parse.
    public static func gzipWeight(_ bytes: [UInt8]) -> Int? {
        guard bytes.count <= maximumLength else { return nil }
        var gzip: Int?
        var any: Int?
        var index = 0
        func skipWhitespace() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }
        while index < bytes.count {
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") {  // empty list elements are allowed
                index += 1
                continue
            }
            if index == bytes.count { break }
            let start = index
            while index < bytes.count, isTokenCharacter(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            let name = String(decoding: bytes[start..<index].map { lowercased($0) }, as: UTF8.self)
            skipWhitespace()
            var weight = 1000
            if index < bytes.count, bytes[index] == UInt8(ascii: ";") {
                index += 1
                skipWhitespace()
                guard index + 1 < bytes.count, lowercased(bytes[index]) == UInt8(ascii: "q"),
                    bytes[index + 1] == UInt8(ascii: "=")
                else { return nil }
                index += 2
                guard let (value, end) = qvalue(bytes, from: index) else { return nil }
                weight = value
                index = end
                skipWhitespace()
            }
            guard index == bytes.count || bytes[index] == UInt8(ascii: ",") else { return nil }
            switch name {
            case "gzip", "x-gzip": gzip = max(gzip ?? 0, weight)
            case "*": any = max(any ?? 0, weight)
            default: break
            }
        }
        return gzip ?? any ?? 0
    }

    /// `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` at `start`: thousandths and the end.
    static func qvalue(_ bytes: [UInt8], from start: Int) -> (Int, Int)? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "0") || bytes[start] == UInt8(ascii: "1") else {
            return nil
        }
        let whole = Int(bytes[start] - UInt8(ascii: "0"))
        var index = start + 1
        var fraction = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, digits < 3, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                fraction = fraction * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            for _ in digits..<3 { fraction *= 10 }
        }
        guard whole == 0 || fraction == 0 else { return nil }
        return (whole * 1000 + fraction, index)
    }

    /// RFC 9110 `tchar`.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}
