import ApprovalTokens
import Testing

/// LOOP-5: the envelope sender names its email with a tag that verifies only for that email.
@Suite struct BounceAddressTests {
    static let ring = try! KeyRing(keys: [SigningKey(id: "k2", secret: Array(repeating: 7, count: 32)), SigningKey(id: "k1", secret: Array(repeating: 9, count: 32))])

    @Test("An address round-trips, case-insensitively, under any key of the ring")
    func roundTrip() throws {
        let bounce = BounceAddress(pattern: "gateway+bounce-{id}@example.test", keyRing: Self.ring)
        let address = bounce.address(for: 42)
        #expect(address.hasPrefix("gateway+bounce-42-") && address.hasSuffix("@example.test"))
        #expect(bounce.outboxID(in: address) == 42)
        #expect(bounce.outboxID(in: address.uppercased()) == 42)
        let older = BounceAddress(pattern: "gateway+bounce-{id}@example.test", keyRing: try KeyRing(keys: [SigningKey(id: "k1", secret: Array(repeating: 9, count: 32))]))
        #expect(bounce.outboxID(in: older.address(for: 7)) == 7)
    }

    @Test("Another id, a changed tag, another pattern or a foreign key do not verify")
    func forgeries() throws {
        let bounce = BounceAddress(pattern: "gateway+bounce-{id}@example.test", keyRing: Self.ring)
        let address = bounce.address(for: 42)
        #expect(bounce.outboxID(in: address.replacingOccurrences(of: "bounce-42-", with: "bounce-43-")) == nil)
        var tampered = Array(address)
        let index = address.distance(from: address.startIndex, to: address.firstIndex(of: "@")!) - 1
        tampered[index] = tampered[index] == "0" ? "1" : "0"
        #expect(bounce.outboxID(in: String(tampered)) == nil)
        #expect(bounce.outboxID(in: "gateway+abc@example.test") == nil)
        #expect(bounce.outboxID(in: "gateway+bounce-42@example.test") == nil)
        let foreign = BounceAddress(pattern: "gateway+bounce-{id}@example.test", keyRing: try KeyRing(keys: [SigningKey(id: "x", secret: Array(repeating: 1, count: 32))]))
        #expect(bounce.outboxID(in: foreign.address(for: 42)) == nil)
    }
}
