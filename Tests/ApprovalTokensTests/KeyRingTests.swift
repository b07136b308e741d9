import Foundation
import Testing
@testable import ApprovalTokens

@Suite struct KeyRingTests {
    @Test("The keys file: one KID:BASE64SECRET per line, the first signs, comments ignored")
    func parsesKeysFile() throws {
        let a = Data(repeating: 1, count: 32).base64EncodedString()
        let b = Data(repeating: 2, count: 48).base64EncodedString()
        let ring = try KeyRing(text: "# rotated 2026-11\nnew:\(a)\n\n  old:\(b)  \n", source: "keys")
        #expect(ring.keys.map(\.id) == ["new", "old"])
        #expect(ring.signingKey.id == "new")
    }

    @Test("Bad keys files are refused naming the line, never the secret", arguments: [
        ("", "no signing key"),
        ("k1 \(Data(repeating: 1, count: 32).base64EncodedString())", "line 1: expected KID:BASE64SECRET"),
        ("k1:\(Data(repeating: 1, count: 16).base64EncodedString())", "line 1: key k1 has 16 bytes"),
        ("k1:not base64!", "line 1: expected"),
        ("bad id:\(Data(repeating: 1, count: 32).base64EncodedString())", "key id"),
        ("k1:\(Data(repeating: 1, count: 32).base64EncodedString())\nk1:\(Data(repeating: 2, count: 32).base64EncodedString())", "appears twice"),
    ])
    func refusesBadFiles(text: String, message: String) {
        #expect {
            _ = try KeyRing(text: text, source: "signing.keys")
        } throws: { error in
            let description = "\(error)"
            return description.contains(message) && description.contains("signing.keys") && !description.contains("AQEBAQEB")
        }
    }

    @Test("Generated key lines parse, are unique and hold 32 random bytes")
    func generatedKeys() throws {
        let lines = (0..<20).map { _ in KeyRing.generateKeyLine() }
        #expect(Set(lines).count == 20)
        let ring = try KeyRing(text: lines.joined(separator: "\n"), source: "generated")
        #expect(ring.keys.count == 20)
        let secret = lines[0].split(separator: ":")[1]
        #expect(Data(base64Encoded: String(secret))?.count == 32)
    }
}
