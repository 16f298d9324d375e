import Testing

@testable import ChartCache

@Suite("Chart names", .timeLimit(.minutes(2)))
struct ChartNameTests {
    @Test(arguments: [
        "../x", "a/b", ".x", ".q1-0123456789abcdef.png.pending", "a\u{0}b", "", "..", "x/../y", "a\\b", "q1..png",
        "%2e%2e", "a b.png", "é.png", String(repeating: "a", count: 201), "/etc/passwd", "./a",
    ])
    func unsafeNamesAreRefused(name: String) {
        #expect {
            try ChartName(validating: name)
        } throws: { error in
            (error as? ChartCacheError)?.code == .invalidName && !(error as! ChartCacheError).message.isEmpty
        }
    }

    @Test func safeNamesAreAccepted() throws {
        for name in ["q12-0123456789abcdef.png", "q1-0123456789abcdef@2x.png", "c-0123456789abcdef.png", "a.b-c_d+e"] {
            #expect(try ChartName(validating: name).fileName == name)
        }
    }

    @Test func contentAddressedNames() throws {
        let key = ChartKey(material: Array("spec".utf8))
        #expect(key.hex.count == 64)
        #expect(key.hex.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(try ChartName(validating: "c-\(key.shortHex).png").pendingFileName == ".c-\(key.shortHex).png.pending")
        #expect(ChartKey(material: Array("spec".utf8)) == key)
        #expect(ChartKey(material: Array("spec!".utf8)) != key)
        // SHA-256 of "abc", the FIPS 180-2 test vector.
        #expect(
            ChartKey(material: Array("abc".utf8)).hex
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
