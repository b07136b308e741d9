import Crypto
import Foundation

/// The key in a per-recipient reply address (`gateway+KEY@example.test`).
///
/// An address's local part is limited to 64 characters and some mail servers change its case, so
/// the key is lowercase base32 of a compact binary form: request id, reviewer id and expiry, then a
/// 128-bit truncated HMAC-SHA256 over them. It carries no key id: verification tries each key of
/// the ring, comparing in constant time.
public struct ReplyKey: Sendable, Hashable {
    public var requestID: Int64
    /// The reviewer's user id in the store.
    public var reviewerID: Int64
    /// Minute precision: what is signed is what is read back.
    public var expiresAt: Date

    static let version: UInt8 = 1
    static let tagBytes = 16
    static let domain = Array("approval-gateway reply key v1".utf8)

    public init(requestID: Int64, reviewerID: Int64, expiresAt: Date) {
        self.requestID = requestID
        self.reviewerID = reviewerID
        self.expiresAt = Date(timeIntervalSince1970: (expiresAt.timeIntervalSince1970 / 60).rounded(.down) * 60)
    }

    var body: [UInt8] {
        var bytes: [UInt8] = [Self.version]
        Self.appendVarint(UInt64(requestID), to: &bytes)
        Self.appendVarint(UInt64(reviewerID), to: &bytes)
        let minutes = UInt32(clamping: Int64(expiresAt.timeIntervalSince1970 / 60))
        bytes += withUnsafeBytes(of: minutes.bigEndian, Array.init)
        return bytes
    }

    static func tag(_ body: [UInt8], key: SigningKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: domain + body, using: key.secret).prefix(tagBytes))
    }

    /// The largest request or reviewer id a reply key carries (2^42 - 1), which keeps every key
    /// within 53 characters.
    public static let maximumID: Int64 = (1 << 42) - 1

    /// The key text, signed with the ring's current key: at most 53 characters, 42 for ids below 2^21.
    /// - Throws: ``TokenError/Reason/malformed`` when an id is negative or above ``maximumID``.
    public func encoded(with ring: KeyRing) throws(TokenError) -> String {
        guard (0...Self.maximumID).contains(requestID), (0...Self.maximumID).contains(reviewerID) else {
            throw TokenError(.malformed)
        }
        let body = self.body
        return Base32.encode(body + Self.tag(body, key: ring.signingKey))
    }

    /// Verifies a key text (any case) against every key of `ring`, and its expiry at `now`.
    public static func verify(_ text: String, ring: KeyRing, now: Date) throws(TokenError) -> ReplyKey {
        let key = try open(text, ring: ring)
        guard now < key.expiresAt else { throw TokenError(.expired) }
        return key
    }

    /// Verifies a key text's signature against every key of `ring` without checking its expiry:
    /// the (request, reviewer) pair is authentic, so a late reply can still be told that the
    /// request expired. It must never decide anything on its own.
    public static func open(_ text: String, ring: KeyRing) throws(TokenError) -> ReplyKey {
        guard text.count <= 64, let bytes = Base32.decode(text), bytes.count > tagBytes + 6 else { throw TokenError(.malformed) }
        let body = Array(bytes.dropLast(tagBytes))
        let tag = Array(bytes.suffix(tagBytes))
        var valid = false
        for key in ring.keys {
            // Constant time per key; every key is tried whatever the outcome.
            let expected = Self.tag(body, key: key)
            var difference: UInt8 = 0
            for index in 0..<tagBytes { difference |= expected[index] ^ tag[index] }
            valid = valid || difference == 0
        }
        guard valid else { throw TokenError(.badSignature) }
        guard body.first == version else { throw TokenError(.malformed) }
        var index = 1
        guard let request = readVarint(body, &index), let reviewer = readVarint(body, &index),
              body.count - index == 4, request <= UInt64(maximumID), reviewer <= UInt64(maximumID) else {
            throw TokenError(.malformed)
        }
        let minutes = body[index...].reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
        return ReplyKey(requestID: Int64(request), reviewerID: Int64(reviewer), expiresAt: Date(timeIntervalSince1970: TimeInterval(minutes) * 60))
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    static func readVarint(_ bytes: [UInt8], _ index: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                // Canonical only: no redundant trailing zero groups.
                if byte == 0, shift > 0 { return nil }
                return value
            }
            shift += 7
        }
        return nil
    }
}
