import Foundation
import Testing
import ApprovalTokens

/// The hand-written encoders against Foundation's, on every length around the 3-byte groups.
@Suite struct EncodingTests {
    @Test("base64url matches Foundation's base64 with the URL alphabet and no padding, and decodes back")
    func base64URLMatchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == expected)
            #expect(Base64URL.encode(AnySequence(bytes)) == expected)
            if length > 0 { #expect(Base64URL.decode(encoded[...]) == bytes) }
        }
    }

    @Test("lowercase hex of every byte value")
    func hex() {
        let bytes = (0...255).map(UInt8.init)
        #expect(bytes.lowercaseHex == bytes.map { String(format: "%02x", $0) }.joined())
        #expect([UInt8]().lowercaseHex.isEmpty)
    }
}
