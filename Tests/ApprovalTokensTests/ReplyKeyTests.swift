import Foundation
import Testing
@testable import ApprovalTokens

@Suite struct ReplyKeyTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let ring = try! KeyRing(keys: [SigningKey(id: "k2", secret: Array(repeating: 7, count: 32)), SigningKey(id: "k1", secret: Array(repeating: 9, count: 32))])

    @Test("A reply key round-trips, in any case, and fits an address's local part", arguments: [
        (Int64(1), Int64(1)), (42, 7), (1_000_000, 65_000), (Int64(Int32.max), Int64(Int32.max)), (ReplyKey.maximumID, ReplyKey.maximumID),
    ])
    func roundTrip(requestID: Int64, reviewerID: Int64) throws {
        let key = ReplyKey(requestID: requestID, reviewerID: reviewerID, expiresAt: Self.now.addingTimeInterval(86_400))
        let text = try key.encoded(with: Self.ring)
        #expect(text == text.lowercased())
        #expect(("gateway+" + text).count <= 64)
        #expect(try ReplyKey.verify(text, ring: Self.ring, now: Self.now) == key)
        #expect(try ReplyKey.verify(text.uppercased(), ring: Self.ring, now: Self.now) == key)
    }

    @Test("Typical keys are at most 42 characters; ids beyond the maximum are refused")
    func compact() throws {
        let text = try ReplyKey(requestID: 123_456, reviewerID: 5_000, expiresAt: Self.now).encoded(with: Self.ring)
        #expect(text.count <= 42)
        #expect(throws: TokenError.self) { try ReplyKey(requestID: ReplyKey.maximumID + 1, reviewerID: 1, expiresAt: Self.now).encoded(with: Self.ring) }
        #expect(throws: TokenError.self) { try ReplyKey(requestID: 1, reviewerID: -1, expiresAt: Self.now).encoded(with: Self.ring) }
    }

    @Test("TEST-3: every single-bit and single-character mutation of a reply key fails")
    func mutationsFail() throws {
        let text = try ReplyKey(requestID: 42, reviewerID: 7, expiresAt: Self.now.addingTimeInterval(3600)).encoded(with: Self.ring)
        let bytes = Array(text.utf8)
        for index in bytes.indices {
            for bit in 0..<8 {
                var mutated = bytes
                mutated[index] ^= UInt8(1 << bit)
                let candidate = String(decoding: mutated, as: UTF8.self)
                // Flipping the case bit is not a mutation: keys are case-insensitive by design.
                if candidate.lowercased() == text { continue }
                #expect((try? ReplyKey.verify(candidate, ring: Self.ring, now: Self.now)) == nil, "accepted \(candidate)")
            }
        }
        #expect((try? ReplyKey.verify(String(text.dropLast()), ring: Self.ring, now: Self.now)) == nil)
        #expect((try? ReplyKey.verify(text + "a", ring: Self.ring, now: Self.now)) == nil)
    }

    @Test("Expired and retired-key reply keys fail; the previous key still verifies")
    func expiryAndRotation() throws {
        let key = ReplyKey(requestID: 42, reviewerID: 7, expiresAt: Self.now.addingTimeInterval(3600))
        let text = try key.encoded(with: Self.ring)
        #expect(throws: TokenError(.expired)) { try ReplyKey.verify(text, ring: Self.ring, now: Self.now.addingTimeInterval(3600)) }
        let oldRing = try KeyRing(keys: [Self.ring.keys[1]])
        let oldText = try key.encoded(with: oldRing)
        #expect(try ReplyKey.verify(oldText, ring: Self.ring, now: Self.now) == key)
        let retired = try KeyRing(keys: [Self.ring.keys[0]])
        #expect(throws: TokenError(.badSignature)) { try ReplyKey.verify(oldText, ring: retired, now: Self.now) }
    }
}
