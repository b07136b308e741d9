import ApprovalTokens
import Crypto
import Foundation

/// The CSRF form tags and constant-time checks of the web layer (secrets and digests: ``Secrets``).
enum WebCrypto {
    static func base64URL(_ bytes: some Sequence<UInt8>) -> String { Base64URL.encode(bytes) }

    static func fromBase64URL(_ text: String) -> [UInt8]? { Base64URL.decode(text[...]) }

    /// An HMAC-SHA256 tag of `message` under `secret`, base64url.
    static func tag(_ message: String, secret: [UInt8]) -> String {
        base64URL(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: secret)))
    }

    /// Whether `candidate` is the tag of `message`, compared in constant time (LINK-5).
    static func isValidTag(_ candidate: String, for message: String, secret: [UInt8]) -> Bool {
        guard let bytes = fromBase64URL(candidate), bytes.count == SHA256.byteCount else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: Data(message.utf8), using: SymmetricKey(data: secret))
    }

    /// Constant-time equality of two strings of the same length.
    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8), b = Array(rhs.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
