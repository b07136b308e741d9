import ApprovalTokens
import Crypto
import Foundation

/// What the outbox keeps of an email once SMTP accepted it: its header block, with the personal
/// reply key taken out of the reply address, and the SHA-256 of the whole message. The body (with
/// its signed links) is dropped, so a database backup holds no live link or reply key.
struct SentMessageRecord: Sendable, Equatable {
    var headers: [UInt8]
    var digest: String

    /// - Parameter replyAddress: the reply address pattern (`gateway+{key}@example.test`).
    init(raw: [UInt8], replyAddress: String) {
        digest = SHA256.hash(data: raw).lowercaseHex
        var end = raw.count
        for index in raw.indices.dropLast(3) where raw[index] == 13 && raw[index + 1] == 10 && raw[index + 2] == 13 && raw[index + 3] == 10 {
            end = index + 2
            break
        }
        headers = Self.redactingReplyKeys(Array(raw[..<end]), pattern: replyAddress)
    }

    /// Replaces the key of every reply address in `headers` (case-insensitively) with `redacted`.
    static func redactingReplyKeys(_ headers: [UInt8], pattern: String) -> [UInt8] {
        let lower = pattern.lowercased()
        guard let range = lower.range(of: "{key}") else { return headers }
        let prefix = Array(lower[..<range.lowerBound].utf8), suffix = Array(lower[range.upperBound...].utf8)
        guard !prefix.isEmpty else { return headers }
        let folded = headers.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        var out: [UInt8] = []
        out.reserveCapacity(headers.count)
        var index = 0
        while index < headers.count {
            if folded[index...].starts(with: prefix) {
                var keyEnd = index + prefix.count
                while keyEnd < folded.count, (48...57).contains(folded[keyEnd]) || (97...122).contains(folded[keyEnd]) { keyEnd += 1 }
                if keyEnd > index + prefix.count, folded[keyEnd...].starts(with: suffix) {
                    out += headers[index..<(index + prefix.count)]
                    out += Array("redacted".utf8)
                    index = keyEnd
                    continue
                }
            }
            out.append(headers[index])
            index += 1
        }
        return out
    }
}
