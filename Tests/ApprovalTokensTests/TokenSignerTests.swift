import Foundation
import Testing
@testable import ApprovalTokens

@Suite struct TokenSignerTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let current = try! SigningKey(id: "k2", secret: Array(repeating: 7, count: 32))
    static let previous = try! SigningKey(id: "k1", secret: Array(repeating: 9, count: 32))
    static let ring = try! KeyRing(keys: [current, previous])

    static func claims(_ purpose: TokenPurpose = .decide) -> TokenClaims {
        TokenClaims(purpose: purpose, requestID: 42, subject: "approver1@example.test", action: "approve", issuedAt: now, expiresAt: now.addingTimeInterval(3600))
    }

    @Test("TEST-3: a signed token verifies and returns its claims")
    func roundTrip() throws {
        let claims = Self.claims()
        let token = TokenSigner(keyRing: Self.ring).sign(claims)
        #expect(token.hasPrefix("v1.k2."))
        #expect(token.split(separator: ".").count == 4)
        #expect(try TokenSigner(keyRing: Self.ring).verify(token, purpose: .decide, now: Self.now) == claims)
    }

    @Test("Each token carries a fresh random nonce")
    func freshNonce() {
        let nonces = Set((0..<100).map { _ in Self.claims().nonce })
        #expect(nonces.count == 100)
        #expect(Self.claims().nonce.count == 22)
    }

    @Test("LINK-4 / TEST-3: every single-bit and single-character mutation fails")
    func mutationsFail() {
        let signer = TokenSigner(keyRing: Self.ring)
        let token = signer.sign(Self.claims())
        let bytes = Array(token.utf8)
        var accepted: [String] = []
        for index in bytes.indices {
            for bit in 0..<8 {
                var mutated = bytes
                mutated[index] ^= UInt8(1 << bit)
                let text = String(decoding: mutated, as: UTF8.self)
                if (try? signer.verify(text, purpose: .decide, now: Self.now)) != nil { accepted.append(text) }
            }
            for replacement in Array("AZaz09-_.=+/ ".utf8) where replacement != bytes[index] {
                var mutated = bytes
                mutated[index] = replacement
                let text = String(decoding: mutated, as: UTF8.self)
                if (try? signer.verify(text, purpose: .decide, now: Self.now)) != nil { accepted.append(text) }
            }
        }
        #expect(accepted.isEmpty, "accepted mutations: \(accepted.prefix(3))")
        // Truncations and extensions fail too.
        for length in 0..<bytes.count {
            #expect((try? signer.verify(String(decoding: bytes.prefix(length), as: UTF8.self), purpose: .decide, now: Self.now)) == nil)
        }
        #expect((try? signer.verify(token + "A", purpose: .decide, now: Self.now)) == nil)
    }

    @Test("LINK-4: changing any claim and re-encoding without the key fails", arguments: ["p", "r", "s", "a", "iat", "exp", "n"])
    func forgedClaimFails(field: String) throws {
        let signer = TokenSigner(keyRing: Self.ring)
        let token = signer.sign(Self.claims())
        let parts = token.split(separator: ".")
        var object = try JSONSerialization.jsonObject(with: Data(Base64URL.decode(parts[2])!)) as! [String: Any]
        switch field {
        case "p": object[field] = "review"
        case "r": object[field] = 43
        case "s": object[field] = "attacker@example.test"
        case "a": object[field] = "deny"
        case "iat", "exp": object[field] = (object[field] as! Int) + 1
        default: object[field] = "AAAAAAAAAAAAAAAAAAAAAA"
        }
        let forgedPayload = Base64URL.encode(try JSONSerialization.data(withJSONObject: object))
        let forged = [parts[0], parts[1], Substring(forgedPayload), parts[3]].joined(separator: ".")
        #expect(throws: TokenError(.badSignature)) { try signer.verify(forged, purpose: field == "p" ? .review : .decide, now: Self.now) }
    }

    @Test("LINK-5: a token verifies only for its own purpose", arguments: TokenPurpose.allCases)
    func wrongPurpose(purpose: TokenPurpose) {
        let signer = TokenSigner(keyRing: Self.ring)
        let token = signer.sign(Self.claims(purpose))
        for other in TokenPurpose.allCases where other != purpose {
            #expect(throws: TokenError(.wrongPurpose)) { try signer.verify(token, purpose: other, now: Self.now) }
        }
    }

    @Test("LINK-6: an expired token fails, one second before expiry it verifies")
    func expiry() throws {
        let signer = TokenSigner(keyRing: Self.ring)
        let token = signer.sign(Self.claims())
        #expect(try signer.verify(token, purpose: .decide, now: Self.now.addingTimeInterval(3599)).requestID == 42)
        #expect(throws: TokenError(.expired)) { try signer.verify(token, purpose: .decide, now: Self.now.addingTimeInterval(3600)) }
    }

    @Test("A token issued in the future beyond the clock skew fails")
    func notYetValid() {
        let signer = TokenSigner(keyRing: Self.ring)
        let token = signer.sign(Self.claims())
        #expect(throws: TokenError(.notYetValid)) { try signer.verify(token, purpose: .decide, now: Self.now.addingTimeInterval(-600)) }
    }

    @Test("LINK-7: after rotation the previous key verifies; once retired it fails")
    func rotation() throws {
        let oldSigner = TokenSigner(keyRing: try KeyRing(keys: [Self.previous]))
        let oldToken = oldSigner.sign(Self.claims())
        #expect(try TokenSigner(keyRing: Self.ring).verify(oldToken, purpose: .decide, now: Self.now).subject == "approver1@example.test")
        let retired = try KeyRing(keys: [Self.current])
        #expect(throws: TokenError(.unknownKey)) { try TokenSigner(keyRing: retired).verify(oldToken, purpose: .decide, now: Self.now) }
    }

    @Test("A key with the same id but another secret fails")
    func sameIDOtherSecret() throws {
        let token = TokenSigner(keyRing: Self.ring).sign(Self.claims())
        let impostor = try KeyRing(keys: [SigningKey(id: "k2", secret: Array(repeating: 8, count: 32))])
        #expect(throws: TokenError(.badSignature)) { try TokenSigner(keyRing: impostor).verify(token, purpose: .decide, now: Self.now) }
    }
}
