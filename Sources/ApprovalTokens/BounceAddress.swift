import Crypto
import Foundation

/// The envelope sender of the gateway's emails (VERP): `smtp.bounce_address` with `{id}` replaced by
/// the outbox id and a short MAC, so that a delivery status notification names the email it is
/// about, and a forged one for another email does not verify (LOOP-5).
public struct BounceAddress: Sendable {
    /// The pattern, e.g. `gateway+bounce-{id}@example.test`.
    public let pattern: String
    let keyRing: KeyRing

    public init(pattern: String, keyRing: KeyRing) {
        self.pattern = pattern
        self.keyRing = keyRing
    }

    var prefix: String { String(pattern.lowercased().split(separator: "{", maxSplits: 1).first ?? "") }
    var suffix: String {
        guard let range = pattern.lowercased().range(of: "{id}") else { return "" }
        return String(pattern.lowercased()[range.upperBound...])
    }

    /// The envelope sender for outbox entry `id`.
    public func address(for id: Int64) -> String {
        pattern.replacingOccurrences(of: "{id}", with: "\(id)-\(Self.tag(id, key: keyRing.signingKey))")
    }

    /// The outbox id of a bounce address whose tag verifies under any key of the ring, else `nil`.
    public func outboxID(in address: String) -> Int64? {
        let lower = address.lowercased()
        guard lower.hasPrefix(prefix), lower.hasSuffix(suffix), lower.count > prefix.count + suffix.count else { return nil }
        let middle = lower.dropFirst(prefix.count).dropLast(suffix.count)
        let parts = middle.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, let id = Int64(parts[0]), id > 0 else { return nil }
        let candidate = Array(parts[1].utf8)
        for key in keyRing.keys {
            let expected = Array(Self.tag(id, key: key).utf8)
            guard expected.count == candidate.count else { continue }
            var difference: UInt8 = 0
            for index in expected.indices { difference |= expected[index] ^ candidate[index] }
            if difference == 0 { return id }
        }
        return nil
    }

    /// 12 hex digits (48 bits) of HMAC-SHA256: enough that a forged bounce for a given email is not
    /// guessed, short enough for a local part.
    static func tag(_ id: Int64, key: SigningKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("approval-gateway bounce v1|\(id)".utf8), using: key.secret)
        return mac.prefix(6).lowercaseHex
    }
}
