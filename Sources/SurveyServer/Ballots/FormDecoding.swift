import Foundation

/// `application/x-www-form-urlencoded` bodies, decoded strictly.
enum FormDecoding {
    /// The fields in order; `+` is a space, `%XX` a byte. Nil when the body is not valid form data.
    static func fields(_ body: String) -> [(name: String, value: String)]? {
        guard !body.isEmpty else { return [] }
        var fields: [(String, String)] = []
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { return nil }
            fields.append((name, value))
        }
        return fields
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

extension Substring {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        String(self).split(separator: Character(target), omittingEmptySubsequences: false).joined(
            separator: replacement)
    }
}
