import Crypto
import Foundation

/// The short confirmation code printed in an email's body (never in a URL) for resources that
/// require it before a link decision: 8 digits derived from the request and the reviewer with the
/// current signing key, so nothing needs storing.
public enum LinkCode {
    /// The code for `reviewer` on request `requestID`.
    public static func code(requestID: Int64, reviewer: String, ring: KeyRing) -> String {
        code(requestID: requestID, reviewer: reviewer, key: ring.signingKey)
    }

    /// Whether `candidate` (spaces and dashes ignored) is the code under any key of the ring.
    public static func verify(_ candidate: String, requestID: Int64, reviewer: String, ring: KeyRing) -> Bool {
        let digits = Array(candidate.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "-") })
        var valid = false
        for key in ring.keys {
            let expected = Array(code(requestID: requestID, reviewer: reviewer, key: key).utf8)
            guard expected.count == digits.count else { continue }
            var difference: UInt8 = 0
            for index in expected.indices { difference |= expected[index] ^ digits[index] }
            valid = valid || difference == 0
        }
        return valid
    }

    static func code(requestID: Int64, reviewer: String, key: SigningKey) -> String {
        let input = Data("approval-gateway link code v1|\(requestID)|\(reviewer.lowercased())".utf8)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: input, using: key.secret))
        let value = mac.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) } % 100_000_000
        let digits = String(value)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
